"""Reductions: sum, mean, max/min (whole tensor or along a dim), amax/amin, argmax/argmin, var,
std.

`dim` is an int or a tuple of ints (negative counts from the end) or None for all dims;
keepdim keeps reduced dims as size 1. Gradients flow back by broadcasting. Ties, as in torch:
max(dim)/min(dim) send the gradient to the returned index; max()/min() of a whole tensor and
amax/amin share it evenly among the elements equal to the result.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ember import _dtype
from ember._tensor import Tensor, _wrap
from ember.autograd.function import Function

# torch.return_types.max / .min: a tuple that also names its fields.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def normalize_dims(dim, ndim: int) -> tuple | None:
    """None -> None (all dims); an int or a sequence of ints -> a sorted tuple of non-negative
    dims. A 0-d tensor accepts dim 0 or -1 (meaning all of it), as torch."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return None
    span = builtins.max(ndim, 1)
    out = []
    for d in dims:
        if not -span <= d < span:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], but "
                f"got {d})"
            )
        d %= span
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out)) if ndim else None


class Sum(Function):
    __slots__ = ("axes", "in_shape", "keepdim")

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return ctx.backend.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.unreduce(g, ctx.in_shape, ctx.axes, ctx.keepdim), None, None, None


class Mean(Function):
    __slots__ = ("axes", "in_shape", "keepdim")

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return ctx.backend.mean(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        B = ctx.backend
        count = 1
        for d in range(len(ctx.in_shape)) if ctx.axes is None else ctx.axes:
            count *= ctx.in_shape[d]
        return B.unreduce(B.div(g, count), ctx.in_shape, ctx.axes, ctx.keepdim), None, None


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dtype is not None:
        dtype = _dtype.as_dtype(dtype)
    return Sum.apply(input, normalize_dims(dim, input.ndim), keepdim, dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype}"
        )
    return Mean.apply(input, normalize_dims(dim, input.ndim), keepdim)


class _Extremum(Function):
    """The largest (smallest) values over `axes` (None: all), without indices: amax/amin, and
    max()/min() of a whole tensor. As torch, the gradient is shared evenly by the elements equal
    to their slice's result; a slice whose result is NaN has no such element and gets NaN,
    except that max()/min() (`nan_ties`) share it among the NaNs."""

    __slots__ = ("axes", "keepdim")
    reduce = ""
    nan_ties = False

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        B = ctx.backend
        if x.size == 0 and (axes is None or any(x.shape[a] == 0 for a in axes)):
            if ctx.nan_ties:
                raise RuntimeError(
                    f"{ctx.reduce[1:]}(): Expected reduction dim to be specified for "
                    "input.numel() == 0."
                )
            raise IndexError(
                f"{ctx.reduce}(): Expected reduction dim to be specified for input.numel() == 0 "
                "or a reduced dim of nonzero size."
            )
        ctx.axes, ctx.keepdim = axes, keepdim
        value = getattr(B, ctx.reduce)(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, value)
        return value if keepdim else B.reshape(value, _drop_all(x.shape, axes))

    @staticmethod
    def backward(ctx, g):
        B = ctx.backend
        x, value = ctx.saved_tensors
        ties = B.eq(x, value)
        if ctx.nan_ties:
            ties = B.logical_or(ties, B.logical_and(B.isnan(x), B.isnan(value)))
        ties = B.astype(ties, g.dtype)
        count = B.sum(ties, axis=ctx.axes, keepdims=True)
        # torch's g / 0 * 0 for a NaN slice, without the division by zero.
        count = B.where(B.eq(count, 0), math.nan, count)
        if not ctx.keepdim:
            g = B.reshape(g, value.shape)
        return B.mul(B.div(g, count), ties), None, None


class MaxAll(_Extremum):
    __slots__ = ()
    reduce = "amax"
    nan_ties = True


class MinAll(_Extremum):
    __slots__ = ()
    reduce = "amin"
    nan_ties = True


class Amax(_Extremum):
    __slots__ = ()
    reduce = "amax"


class Amin(_Extremum):
    __slots__ = ()
    reduce = "amin"


class _ExtremumDim(Function):
    """max(dim)/min(dim): (values, indices); values' gradient goes to the indexed elements."""

    __slots__ = ("axis", "keepdim", "shape")
    arg = ""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        B = ctx.backend
        index = getattr(B, ctx.arg)(x, axis=axis, keepdims=True)
        values = B.take_along_axis(x, index, axis)
        ctx.save_for_backward(index)
        ctx.shape, ctx.axis, ctx.keepdim = x.shape, axis, keepdim
        if not keepdim:
            values, index = (
                B.reshape(values, _drop(values.shape, axis)),
                B.reshape(index, _drop(index.shape, axis)),
            )
        return values, index

    @staticmethod
    def backward(ctx, g_values, g_indices):
        (index,) = ctx.saved_tensors
        B = ctx.backend
        if not ctx.keepdim:
            g_values = B.expand_dims(g_values, ctx.axis)
        return B.scatter_along_axis(ctx.shape, index, g_values, ctx.axis), None, None


class MaxDim(_ExtremumDim):
    __slots__ = ()
    arg = "argmax"


class MinDim(_ExtremumDim):
    __slots__ = ()
    arg = "argmin"


def _drop(shape: tuple, axis: int) -> tuple:
    return shape[:axis] + shape[axis + 1 :]


def _drop_all(shape: tuple, axes: tuple | None) -> tuple:
    return () if axes is None else tuple(n for d, n in enumerate(shape) if d not in axes)


def _single_dim(dim, ndim: int, op: str) -> int:
    """A dim of an (at least 1-D) tensor; a 0-d input has been reshaped to (1,) by the caller."""
    if not isinstance(dim, int):
        raise TypeError(f"{op}(): dim must be an int, got {dim!r}")
    return normalize_dims(dim, ndim)[0]


def _at_least_1d(input: Tensor, dim: int) -> Tensor:
    normalize_dims(dim, 0)  # a 0-d tensor accepts dim 0 or -1 only
    return input.reshape(1)


def max(input: Tensor, dim=None, keepdim: bool = False):
    """max(t) -> the largest element; max(t, dim) -> (values, indices); max(t, other) ->
    the element-wise maximum."""
    if isinstance(dim, Tensor):
        from ember._ops_elementwise import maximum

        return maximum(input, dim)
    if dim is None:
        return MaxAll.apply(input, None, False)
    if input.ndim == 0:
        return max_result(*MaxDim.apply(_at_least_1d(input, dim), 0, False))
    return max_result(*MaxDim.apply(input, _single_dim(dim, input.ndim, "max"), keepdim))


def min(input: Tensor, dim=None, keepdim: bool = False):
    """min(t) -> the smallest element; min(t, dim) -> (values, indices); min(t, other) ->
    the element-wise minimum."""
    if isinstance(dim, Tensor):
        from ember._ops_elementwise import minimum

        return minimum(input, dim)
    if dim is None:
        return MinAll.apply(input, None, False)
    if input.ndim == 0:
        return min_result(*MinDim.apply(_at_least_1d(input, dim), 0, False))
    return min_result(*MinDim.apply(input, _single_dim(dim, input.ndim, "min"), keepdim))


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The largest values over `dim` (an int, a tuple, or () / None for every dim), without
    indices; the gradient is shared evenly among ties, as torch.amax."""
    return Amax.apply(input, normalize_dims(dim, input.ndim), keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The smallest values over `dim`; see amax."""
    return Amin.apply(input, normalize_dims(dim, input.ndim), keepdim)


def _arg(op: str):
    def arg_extremum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
        B = input._device.backend
        fn = getattr(B, op)
        if dim is None:
            index = B.asarray(fn(input._data))
            if keepdim:
                index = B.reshape(index, (1,) * input.ndim)
        elif input.ndim == 0:
            index = fn(_at_least_1d(input, dim)._data, axis=0)
        else:
            index = fn(input._data, axis=_single_dim(dim, input.ndim, op), keepdims=keepdim)
        return _wrap(B.asarray(index), input._device)

    arg_extremum.__name__ = op
    return arg_extremum


argmax = _arg("argmax")
argmin = _arg("argmin")


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance with Bessel's correction by default: sum((x - mean)^2) / (N - correction)."""
    if unbiased is not None and correction is not None:
        raise ValueError("var: give either unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalize_dims(dim, input.ndim)
    count = 1
    for d in range(input.ndim) if axes is None else axes:
        count *= input.shape[d]
    diff = input - mean(input, axes, keepdim=True)
    return sum(diff * diff, axes, keepdim) / (count - correction)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


FUNCTIONS = {
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "amax": amax,
    "amin": amin,
    "argmax": argmax,
    "argmin": argmin,
    "var": var,
    "std": std,
}
METHODS = dict(FUNCTIONS)
