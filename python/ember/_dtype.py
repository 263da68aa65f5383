"""ember's dtypes are NumPy's dtype objects (ember.float32 is numpy.dtype('float32')), so a
Tensor's dtype compares equal to the NumPy one and needs no translation at the array boundary.

Type promotion, kept small:
- two float tensors -> the wider float (float32 op float64 -> float64);
- a float tensor with an integer/bool tensor -> the float tensor's dtype (as torch does);
- two integer/bool tensors -> NumPy's promotion (int64 op bool -> int64);
- a Python scalar never widens a tensor of its kind: float32 * 2.5 -> float32, int64 * 3 -> int64;
  a Python float with an integer/bool tensor gives the default float dtype (float32);
- true division of integer/bool tensors gives the default float dtype.
"""

from __future__ import annotations

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32

# torch's short names (ember.float, ember.long, ...) are exported from the package.
ALIASES = {
    "half": float16,
    "float": float32,
    "double": float64,
    "short": int16,
    "int": int32,
    "long": int64,
    "bool": bool_,
}
_BY_NAME = {str(dt): dt for dt in (float16, float32, float64, int8, uint8, int16, int32, int64)}
_BY_NAME.update(ALIASES)
SUPPORTED = frozenset(_BY_NAME.values())


def as_dtype(dtype) -> np.dtype:
    """A supported dtype from an ember/NumPy dtype, a NumPy scalar type or a name ('float32')."""
    try:
        dt = _BY_NAME[dtype] if isinstance(dtype, str) else np.dtype(dtype)
    except (KeyError, TypeError):
        raise TypeError(f"unsupported dtype {dtype!r}") from None
    if dt not in SUPPORTED:
        names = ", ".join(sorted(str(d) for d in SUPPORTED))
        raise TypeError(f"unsupported dtype {dt} (ember supports {names})")
    return dt


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The result dtype of a binary op between tensors of dtypes a and b (see module doc)."""
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float != b_float:
        return a if a_float else b
    return np.promote_types(a, b)
