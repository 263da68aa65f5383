"""Crossing between ember Tensors and NumPy arrays at the data layer's edges.

Data code works on NumPy arrays (one fancy-index gathers a batch) and hands Tensors to the user.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy view of x: Tensors (ember's, or anything with .numpy()) without a copy where the
    tensor lives on the CPU, arrays as they are, sequences and scalars through np.asarray."""
    if isinstance(x, np.ndarray):
        return x
    if callable(getattr(x, "numpy", None)):
        for step in ("detach", "cpu"):  # as torch needs: x.detach().cpu().numpy()
            if callable(getattr(x, step, None)):
                x = getattr(x, step)()
        return np.asarray(x.numpy())
    return np.asarray(x)


def is_tensor(x: Any) -> bool:
    return not isinstance(x, np.ndarray) and callable(getattr(x, "numpy", None))


def to_tensor(array: np.ndarray) -> Any:
    """Wrap a NumPy array as an ember Tensor without copying (a C-contiguous copy is made only
    when the array is not contiguous)."""
    import ember  # late: ember imports this package while it is itself being imported

    return ember.from_numpy(np.ascontiguousarray(array))


def to_tensors(batch: Any) -> Any:
    """Turn every NumPy array inside a batch (tuple, list, dict, or a bare array) into a Tensor;
    anything else passes through untouched."""
    if isinstance(batch, np.ndarray):
        return to_tensor(batch)
    if isinstance(batch, tuple):
        return tuple(to_tensors(b) for b in batch)
    if isinstance(batch, list):
        return [to_tensors(b) for b in batch]
    if isinstance(batch, dict):
        return {k: to_tensors(v) for k, v in batch.items()}
    return batch


def like_input(result: np.ndarray, original: Any) -> Any:
    """Give result back in the kind the caller passed: a Tensor for a Tensor, an array otherwise."""
    return to_tensor(result) if is_tensor(original) else result
