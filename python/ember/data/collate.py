"""Stacking a list of samples into one batch, for datasets that cannot gather a batch at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember.data._convert import to_numpy


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack samples field by field into NumPy arrays with a new leading batch axis.

    Tuples and lists are collated per position, dicts per key, strings are kept as a list;
    everything else (Tensors, arrays, Python numbers) is stacked with np.stack."""
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        widths = {len(s) for s in samples}
        if len(widths) != 1:
            raise ValueError(f"default_collate: samples have different lengths {sorted(widths)}")
        fields = tuple(default_collate(list(field)) for field in zip(*samples))
        return fields if isinstance(first, tuple) else list(fields)
    arrays = [to_numpy(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f"default_collate: cannot stack samples of different shapes {sorted(shapes)}"
        )
    return np.stack(arrays)
