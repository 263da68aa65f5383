"""The CPU backend: every op ember's autograd Functions call, on NumPy arrays.

What runs where, and why:
- Broadcasting element-wise ops, reductions, shape/index ops and creation use NumPy. Its ufuncs are
  already SIMD, handle broadcasting and every dtype; native copies would add code, not speed.
- Fused ops that come with a backward (activations, softmax, losses, GEMM/conv/pool, dropout,
  optimizer steps) use the kernels in ember._C. Those take C-contiguous float32/float64 arrays and
  return new arrays; the wrappers below make views contiguous first, and send integer/bool
  tensors down a NumPy path instead.

Any ember._C kernel is also reachable here under its own name (`backend.linear_forward` is
`_C.linear_forward`, see __getattr__ at the bottom), so an autograd Function wrapping a new kernel
pair needs no edit to this file; it must pass C-contiguous arrays (`backend.contiguous(x)`).
A future CUDA backend is a sibling module defining the same names.

Results may be NumPy scalars where NumPy reduces to one (np.add on 0-d arrays returns np.float32);
Function.apply turns those back into 0-d arrays.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _C

array_type = np.ndarray
asarray = np.asarray


def is_contiguous(x: np.ndarray) -> bool:
    return x.flags.c_contiguous


def contiguous(x: np.ndarray) -> np.ndarray:
    """x itself when C-contiguous, else a C-contiguous copy. (np.ascontiguousarray would turn a
    0-d array into shape (1,).)"""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def is_native_float(x: np.ndarray) -> bool:
    """True when ember._C kernels accept x's dtype."""
    dt = x.dtype
    # Identity first (the common, fast case); equality catches equal dtypes that are other
    # objects, e.g. from unpickling. Non-native byte order compares unequal and takes NumPy.
    return dt is _F32 or dt is _F64 or dt == _F32 or dt == _F64


# ---- creation and conversion ------------------------------------------------------------------

empty = np.empty
zeros = np.zeros
ones = np.ones
full = np.full
arange = np.arange
linspace = np.linspace
eye = np.eye
zeros_like = np.zeros_like


def from_data(data, dtype=None) -> np.ndarray:
    """A new array owning a copy of `data` (nested lists, scalars or arrays)."""
    return np.array(data, dtype=dtype, copy=True)


def astype(x: np.ndarray, dtype) -> np.ndarray:
    return x.astype(dtype)


def copy(x: np.ndarray, dtype=None) -> np.ndarray:
    """A C-contiguous copy, optionally converted to `dtype`."""
    return np.array(x, dtype=dtype, order="C", copy=True)


def copy_into(dst: np.ndarray, src) -> None:
    """dst[...] = src with broadcasting and casting (torch's copy_)."""
    np.copyto(dst, src, casting="unsafe")


def to_host(x: np.ndarray) -> np.ndarray:
    return x


def from_host(x: np.ndarray) -> np.ndarray:
    return x


# ---- element-wise (NumPy broadcasting) --------------------------------------------------------

# From the block cache's threshold up, same-shape float arrays run natively: on all threads and
# into a reused output block, where NumPy's one thread and fresh mapping reached half the memory
# bandwidth. Each element is the same IEEE operation, so the results are identical.
_NATIVE_FROM = _C.block_cache_stats()["from_bytes"]
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _arithmetic(ufunc, name: str):
    ndarray = np.ndarray

    def op(a, b, out=None):
        if (
            a.__class__ is ndarray
            and a.nbytes >= _NATIVE_FROM
            and out is None
            and b.__class__ is ndarray
            and a.shape == b.shape
            and a.dtype == b.dtype
            and a.dtype in _NATIVE_FLOATS
            and a.flags.c_contiguous
            and b.flags.c_contiguous
        ):
            return _C.arithmetic(a, b, name)
        return ufunc(a, b) if out is None else ufunc(a, b, out=out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"numpy.{ufunc.__name__}(a, b, out=None), native for large same-shape floats."
    return op


def _quiet(ufunc):
    """ufunc without NumPy's floating-point RuntimeWarnings: x / 0, log(0), sqrt(-1) and overflow
    give inf or nan silently, as in torch, instead of a warning that points inside ember. Only
    for the ops whose ordinary use meets those values: the context costs ~0.8 us a call."""
    errstate = np.errstate

    def op(*args, **kwargs):
        with errstate(all="ignore"):
            return ufunc(*args, **kwargs)

    op.__name__ = op.__qualname__ = ufunc.__name__
    op.__doc__ = f"numpy.{ufunc.__name__} with floating-point warnings off."
    return op


add = _arithmetic(np.add, "add")
sub = _arithmetic(np.subtract, "sub")
mul = _arithmetic(np.multiply, "mul")
div = _arithmetic(_quiet(np.true_divide), "div")


def _integer_checked(ufunc):
    """floor_divide / remainder: quiet on floats; an integer divisor of zero raises, as in torch
    (NumPy would return 0 with a warning)."""
    quiet = _quiet(ufunc)

    def op(a, b):
        result = quiet(a, b)
        if result.dtype.kind in "iu" and not np.all(b):
            raise RuntimeError(f"ZeroDivisionError: integer {ufunc.__name__} by zero")
        return result

    op.__name__ = op.__qualname__ = ufunc.__name__
    return op


floor_divide = _integer_checked(np.floor_divide)
remainder = _integer_checked(np.remainder)
neg = np.negative
pow = _quiet(np.power)
exp = _quiet(np.exp)
log = _quiet(np.log)
sqrt = _quiet(np.sqrt)
abs = np.abs
sign = np.sign
maximum = np.maximum
minimum = np.minimum
where = np.where
clip = np.clip
eq = np.equal
ne = np.not_equal
lt = np.less
le = np.less_equal
gt = np.greater
ge = np.greater_equal
logical_and = np.bitwise_and
logical_or = np.bitwise_or
logical_xor = np.bitwise_xor
invert = np.invert
isnan = np.isnan
isfinite = np.isfinite


def clamp_mask(x: np.ndarray, lo, hi) -> np.ndarray:
    """Where clamp(x, lo, hi) passes x through (both bounds inclusive, as torch's backward)."""
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return (x >= lo) & (x <= hi)


# ---- activations (native for float32/float64) ------------------------------------------------


def relu_forward(x: np.ndarray) -> np.ndarray:
    if is_native_float(x):
        return _C.relu_forward(contiguous(x))
    return np.maximum(x, 0)


def relu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _C.relu_backward(contiguous(dout), contiguous(x))


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    return _C.sigmoid_forward(contiguous(x))


def sigmoid_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _C.sigmoid_backward(contiguous(dout), contiguous(y))


def tanh_forward(x: np.ndarray) -> np.ndarray:
    return _C.tanh_forward(contiguous(x))


def tanh_backward(dout: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _C.tanh_backward(contiguous(dout), contiguous(y))


# ---- reductions -------------------------------------------------------------------------------
# Array methods, not np.* functions: NumPy's function forms add a Python-level dispatch layer
# that costs more than the whole operation on small tensors.


def sum(x: np.ndarray, axis=None, keepdims: bool = False, dtype=None) -> np.ndarray:
    return x.sum(axis=axis, keepdims=keepdims, dtype=dtype)


def mean(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    if x.size == 0:  # nan, as torch, without NumPy's "Mean of empty slice" warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with np.errstate(all="ignore"):
                return x.mean(axis=axis, keepdims=keepdims)
    return x.mean(axis=axis, keepdims=keepdims)


def amax(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    return x.max(axis=axis, keepdims=keepdims)


def amin(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    return x.min(axis=axis, keepdims=keepdims)


def argmax(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    return x.argmax(axis=axis, keepdims=keepdims)


def argmin(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    return x.argmin(axis=axis, keepdims=keepdims)


take_along_axis = np.take_along_axis
_ONES: dict = {}


def _ones(n: int, dtype) -> np.ndarray:
    """A cached read-only vector of ones (the row-summing operand of sum_to)."""
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(n, dtype)
        ones.flags.writeable = False
    return ones


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum g over the axes along which an input of `shape` was broadcast to g's shape."""
    g_shape = g.shape
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    if g_shape[lead:] == shape and g.dtype.kind == "f" and g.flags.c_contiguous:
        # Only leading axes are summed (a bias added to a batch): a vector-matrix product sums
        # the rows several times faster than NumPy's strided reduction over axis 0.
        rows = g.reshape(-1, math.prod(shape))
        return _ones(rows.shape[0], g.dtype).dot(rows).reshape(shape)
    inner = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g_shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + inner, keepdims=True).reshape(shape)


def unreduce(g: np.ndarray, shape: tuple, axes: tuple | None, keepdims: bool) -> np.ndarray:
    """A reduction's gradient g broadcast back to the input `shape` (a new array)."""
    if axes is not None and not keepdims:
        kept = list(shape)
        for a in axes:
            kept[a] = 1
        g = g.reshape(kept)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


def scatter_along_axis(shape: tuple, indices: np.ndarray, values: np.ndarray, axis: int):
    """zeros(shape) with values put at `indices` along `axis` (the backward of max(dim))."""
    out = np.zeros(shape, values.dtype)
    np.put_along_axis(out, indices, values, axis)
    return out


# ---- shape, indexing, joining -----------------------------------------------------------------


def reshape(x: np.ndarray, shape) -> np.ndarray:
    return x.reshape(shape)


def permute(x: np.ndarray, dims) -> np.ndarray:
    return x.transpose(dims)


def swapaxes(x: np.ndarray, a: int, b: int) -> np.ndarray:
    return x.swapaxes(a, b)


def expand_dims(x: np.ndarray, axis: int) -> np.ndarray:
    shape = x.shape
    axis %= len(shape) + 1
    return x.reshape(shape[:axis] + (1,) + shape[axis:])


broadcast_to = np.broadcast_to
concatenate = np.concatenate
stack = np.stack
split = np.split
moveaxis = np.moveaxis


def view(x: np.ndarray, shape: tuple) -> np.ndarray:
    """x reshaped without copying; raises RuntimeError when x's strides do not allow it."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        if -1 in shape or math.prod(shape) == x.size:
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{x.shape}, strides {x.strides}); use .reshape(...) instead."
            ) from None
        raise


def index(x: np.ndarray, idx) -> np.ndarray:
    return x[idx]


def index_backward(g: np.ndarray, shape: tuple, idx, advanced: bool) -> np.ndarray:
    """The gradient of x[idx] w.r.t. x: zeros with g added at idx. Advanced (integer-array)
    indices may repeat an element, so they scatter-add; basic indices may simply assign."""
    out = np.zeros(shape, g.dtype)
    if advanced:
        np.add.at(out, idx, g)
    else:
        out[idx] = g
    return out


def setitem(x: np.ndarray, idx, value) -> None:
    x[idx] = value


# ---- matrix products (native GEMM for float32/float64) --------------------------------------


def _gemm_operand(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(array, transposed) for the native GEMM: a transposed view of a C-contiguous matrix (W.T)
    passes as that matrix with trans=True instead of being copied."""
    if x.flags.c_contiguous:
        return x, False
    xt = x.swapaxes(-1, -2)
    if xt.flags.c_contiguous:
        return xt, True
    return np.ascontiguousarray(x), False  # x is at least 2-D here


def _gemm_ready(a: np.ndarray, b: np.ndarray) -> bool:
    dt = a.dtype
    return dt is b.dtype and (dt is _F32 or dt is _F64)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a (..., n, k) and b (..., k, m), batch dims broadcast (both at least 2-D)."""
    if not _gemm_ready(a, b):
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2:
        (A, ta), (B, tb) = _gemm_operand(a), _gemm_operand(b)
        return _C.gemm(A, B, ta, tb)
    n, k = a.shape[-2:]
    m = b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if b.ndim == 2 or all(s == 1 for s in b.shape[:-2]):
        # The same right matrix for every batch entry: fold the batch into the rows (one GEMM).
        rows = np.broadcast_to(a, batch + (n, k)).reshape(-1, k)
        (A, ta), (B, tb) = _gemm_operand(rows), _gemm_operand(b.reshape(k, m))
        return _C.gemm(A, B, ta, tb).reshape(batch + (n, m))
    A, ta = _gemm_operand(np.broadcast_to(a, batch + (n, k)).reshape(-1, n, k))
    B, tb = _gemm_operand(np.broadcast_to(b, batch + (k, m)).reshape(-1, k, m))
    return _C.bmm(A, B, ta, tb).reshape(batch + (n, m))


def matmul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray, need_a: bool, need_b: bool):
    """(da, db) of g = a @ b: da = g @ b^T, db = a^T @ g, each summed over the batch dims its
    operand was broadcast along."""
    if a.ndim == 2 and b.ndim == 2 and _gemm_ready(a, b) and g.dtype is a.dtype:
        g = contiguous(g)
        da = db = None
        if need_a:
            B, tb = _gemm_operand(b)
            da = _C.gemm(g, B, False, not tb)
        if need_b:
            A, ta = _gemm_operand(a)
            db = _C.gemm(A, g, not ta, False)
        return da, db
    da = sum_to(matmul(g, b.swapaxes(-1, -2)), a.shape) if need_a else None
    db = None
    if need_b:
        if b.ndim == 2 and a.ndim > 2:
            # One right matrix for the whole batch: fold the batch into one GEMM.
            rows_a, rows_g = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            db = matmul(rows_a.swapaxes(-1, -2), rows_g)
        else:
            db = sum_to(matmul(a.swapaxes(-1, -2), g), b.shape)
    return da, db


def __getattr__(name: str):
    """Native kernels under their own names (see the module docstring)."""
    try:
        kernel = getattr(_C, name)
    except AttributeError:
        raise AttributeError(
            f"the CPU backend has no op {name!r} (not in ember._C either)"
        ) from None
    globals()[name] = kernel
    return kernel
