"""What every nn.functional op does before its kernel: check argument types and shapes (errors
name the op: "[conv2d] expected ..."), bring the tensor operands to one float dtype, and expand
int-or-pair arguments.

Dtypes are unified on Tensors, with the differentiable `Tensor.to`, so each gradient comes back
in its input's dtype. Inside a Function only contiguity is left to fix, with the backend's
`contiguous` (a no-op for arrays that already are), so the Functions stay device-agnostic."""

from __future__ import annotations

import operator

from ember import _dtype
from ember._tensor import Tensor


def require_tensor(op: str, name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"[{op}] expected {name} to be an ember.Tensor, got {type(x).__name__}")


def float_operands(op: str, **tensors):
    """The named tensors (None passes through), in order, converted to one float dtype: the
    widest float dtype among them, or float32 when none is floating (ember's promotion rule)."""
    result = None
    for name, t in tensors.items():
        if t is None:
            continue
        require_tensor(op, name, t)
        dt = t._data.dtype
        if dt.kind == "f" and dt != _dtype.float16:
            result = dt if result is None else _dtype.promote(result, dt)
    if result is None:
        result = _dtype.DEFAULT_FLOAT
    return tuple(
        t if t is None or t._data.dtype is result else t.to(result) for t in tensors.values()
    )


def require_ndim(op: str, x: Tensor, ndims: tuple, layout: str) -> None:
    """Raise "[op] expected (N, C, H, W), got a 3-d tensor of shape (...)" unless x.ndim is in
    `ndims`."""
    shape = x.shape
    if len(shape) not in ndims:
        raise ValueError(
            f"[{op}] expected input of shape {layout}, got a {len(shape)}-d tensor "
            f"of shape {tuple(shape)}"
        )


def pair(op: str, name: str, value) -> tuple[int, int]:
    """An int or a pair of ints -> (int, int)."""
    try:
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError
            return operator.index(value[0]), operator.index(value[1])
        v = operator.index(value)
        return v, v
    except (TypeError, ValueError):
        raise ValueError(f"[{op}] {name} must be an int or a pair of ints, got {value!r}") from None


def check_reduction(op: str, reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"[{op}] reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def legacy_reduction(op: str, size_average, reduce) -> None:
    if size_average is not None or reduce is not None:
        raise TypeError(
            f"[{op}] size_average and reduce are deprecated in torch and not "
            "supported; use reduction='mean' | 'sum' | 'none'"
        )
