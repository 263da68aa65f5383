"""The 8x8 handwritten digits shipped with ember (no download needed); see DIGITS_NOTICE.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ember.data._convert import to_tensor

_FILE = Path(__file__).with_name("digits.npz")


def load_digits(images: bool = False) -> tuple[Any, Any]:
    """UCI optical recognition of handwritten digits (the 1,797-sample set scikit-learn ships),
    as scikit-learn's load_digits: returns (X, y) Tensors, y int64 in 0..9 (about 180 per class),
    X float32 pixel values 0..16 (each counts the set pixels of a 4x4 block of the original 32x32
    bitmap; divide by 16 for [0, 1]) of shape (1797, 64), or (1797, 1, 8, 8) with images=True."""
    with np.load(_FILE) as stored:
        pixels, labels = stored["images"], stored["target"]
    x = pixels.astype(np.float32)
    x = x.reshape(len(x), 1, 8, 8) if images else x.reshape(len(x), 64)
    return to_tensor(x), to_tensor(labels.astype(np.int64))
