"""The CUDA backend: the ops of ember.backends.cpu, under the same names and signatures, on
CudaArray (ember/backends/_cuda_array.py) instead of numpy.ndarray.

Every op allocates its outputs here and calls ember._C.cuda, whose kernels run on the device's
stream without waiting: a training step queues kernels and only `.item()`, `.numpy()` and
ember.cuda.synchronize() wait for them. Element-wise ops follow NumPy's broadcasting and dtype
promotion (a Python scalar never widens an array); integer arithmetic wraps as NumPy's does.

Devices: an op runs on the device of its array inputs; creation ops (zeros, from_host, ...) use
the current device (ember.cuda.current_device()).
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from ember.backends._cuda_array import (
    BOOL,
    DTYPES,
    INT64,
    CudaArray,
    broadcast_view,
    check_dtype,
    contiguous_strides,
    native,
    normalize_axis,
    reshape_strides,
    resolve_shape,
)

array_type = CudaArray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_PY_SCALARS = (bool, int, float)
_FLOATS = (_F32, _F64)


def check_device(dev) -> None:
    """Raise RuntimeError unless `dev` (an ember.device of type 'cuda') can hold tensors."""
    if native is None:
        raise RuntimeError(
            "ember was built without CUDA support (ember.build_info()['cuda'] is False): "
            "reinstall it on a machine with the CUDA toolkit (nvcc on PATH) to use device "
            f"'{dev}'"
        )
    count = native.device_count()
    if count == 0:
        raise RuntimeError(
            f"no CUDA GPU is available for device '{dev}' (no NVIDIA driver or no device "
            "found; ember.cuda.is_available() is False)"
        )
    if dev.index is not None and dev.index >= count:
        raise RuntimeError(
            f"CUDA device index {dev.index} is out of range: {count} device(s) available"
        )


def _device() -> int:
    return native.current_device()


# ---- creation and conversion ------------------------------------------------------------------


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


def empty(shape, dtype=_F32) -> CudaArray:
    return CudaArray.empty(_shape(shape), _F32 if dtype is None else dtype, _device())


def full(shape, fill_value, dtype=None) -> CudaArray:
    if dtype is None:
        dtype = np.array(fill_value).dtype
    out = empty(shape, dtype)
    copy_into(out, fill_value)
    return out


def zeros(shape, dtype=_F32) -> CudaArray:
    return full(shape, 0, _F32 if dtype is None else dtype)


def ones(shape, dtype=_F32) -> CudaArray:
    return full(shape, 1, _F32 if dtype is None else dtype)


def zeros_like(x: CudaArray, dtype=None) -> CudaArray:
    out = CudaArray.empty(x.shape, x.dtype if dtype is None else dtype, x.device)
    native.fill(out, 0)
    return out


def from_host(x: np.ndarray) -> CudaArray:
    """A device copy of the host array x."""
    x = np.asarray(x)
    host = np.ascontiguousarray(x) if x.ndim else x.reshape(())
    out = CudaArray.empty(x.shape, check_dtype(x.dtype), _device())
    native.upload(out, host.reshape(-1) if host.ndim else host.reshape(1))
    return out


# Ranges and identity matrices are made on the host (exactly NumPy's values) and copied over.
def arange(*args, dtype=None) -> CudaArray:
    return from_host(np.arange(*args, dtype=dtype))


def linspace(start, stop, num=50, dtype=None) -> CudaArray:
    return from_host(np.linspace(start, stop, num, dtype=dtype))


def eye(n, m=None, dtype=_F32) -> CudaArray:
    return from_host(np.eye(n, m, dtype=dtype))


def to_host(x: CudaArray) -> np.ndarray:
    """A NumPy copy of x (waits for the kernels that write x)."""
    return native.download(contiguous(x))


def asarray(x, dtype=None) -> CudaArray:
    if isinstance(x, CudaArray):
        return x if dtype is None else astype(x, dtype)
    if hasattr(x, "_data") and hasattr(x, "_device"):  # an ember.Tensor
        raise TypeError("asarray: expected an array or scalar, got an ember.Tensor")
    return from_host(np.asarray(x, dtype=dtype))


def from_data(data, dtype=None) -> CudaArray:
    """A new device array holding a copy of `data` (nested lists, scalars, arrays)."""
    if isinstance(data, CudaArray):
        return copy(data, dtype)
    return from_host(np.array(data, dtype=dtype, copy=True))


def is_contiguous(x: CudaArray) -> bool:
    return x.is_contiguous()


def contiguous(x: CudaArray) -> CudaArray:
    return x if x.is_contiguous() else copy(x)


def is_native_float(x: CudaArray) -> bool:
    return x.dtype in (_F32, _F64)


def astype(x: CudaArray, dtype) -> CudaArray:
    out = CudaArray.empty(x.shape, dtype, x.device)
    native.copy(out, x)
    return out


def copy(x: CudaArray, dtype=None) -> CudaArray:
    """A contiguous copy, optionally converted to `dtype`."""
    return astype(x, x.dtype if dtype is None else dtype)


def copy_into(dst: CudaArray, src) -> None:
    """dst[...] = src, broadcasting and casting (torch's copy_). src may be a device array, a
    host array or a scalar."""
    if isinstance(src, (*_PY_SCALARS, np.generic)):
        native.fill(dst, _py_scalar(src))
        return
    if not isinstance(src, CudaArray):
        src = from_host(np.asarray(src))
    native.copy(dst, broadcast_view(src, dst.shape))


def _py_scalar(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, complex):
        raise TypeError("complex numbers are not supported")
    return v


# ---- element-wise -----------------------------------------------------------------------------


def _operand(x):
    """A CudaArray or a Python scalar."""
    if isinstance(x, CudaArray):
        return x
    if isinstance(x, _PY_SCALARS):
        return x
    if isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return _py_scalar(x.item() if isinstance(x, np.ndarray) else x)
    return from_host(np.asarray(x))


def _result_dtype(*operands) -> np.dtype:
    """NumPy's promotion, with Python scalars weak (they never widen an array's dtype)."""
    arrays = [o.dtype for o in operands if isinstance(o, CudaArray)]
    scalars = [o for o in operands if not isinstance(o, CudaArray)]
    dt = np.result_type(*arrays, *scalars)
    if dt not in DTYPES:
        raise TypeError(f"the result dtype {dt} of this operation is not supported on CUDA")
    return dt


def _prepare(dtype: np.dtype, shape: tuple, *operands):
    """The operands as device arrays of `dtype` broadcast to `shape` (scalars stay scalars)."""
    out = []
    for o in operands:
        if isinstance(o, CudaArray):
            if o.dtype != dtype:
                o = astype(o, dtype)
            o = broadcast_view(o, shape)
        elif dtype.kind in "iub" and isinstance(o, float):
            o = int(o) if dtype.kind != "b" else bool(o)
        out.append(o)
    return out


def _device_of(*operands) -> int:
    devices = {o.device for o in operands if isinstance(o, CudaArray)}
    if len(devices) > 1:
        raise RuntimeError(
            f"Expected all arrays to be on the same device, but found cuda:{min(devices)} "
            f"and cuda:{max(devices)}"
        )
    return devices.pop() if devices else _device()


def _shape_of(*operands) -> tuple:
    shapes = [o.shape for o in operands if isinstance(o, CudaArray)]
    first = shapes[0]
    if builtins.all(s == first for s in shapes):
        return first
    return np.broadcast_shapes(*shapes)


def _finish(result: CudaArray, out):
    """Write result into `out` (casting) when the caller asked for it."""
    if out is None:
        return result
    if out.shape != result.shape:
        raise ValueError(
            f"non-broadcastable output operand with shape {out.shape} doesn't "
            f"match the broadcast shape {result.shape}"
        )
    native.copy(out, result)
    return out


def _binary(op: str, a, b, out=None, *, compute=None, bool_result=False, param=0.0):
    # The training loop's case, without the general path's promotion and broadcasting: two
    # float arrays of one dtype and shape, or a float array and a Python number.
    if out is None and compute is None and a.__class__ is CudaArray and a.dtype in _FLOATS:
        if b.__class__ is CudaArray:
            fast = b.dtype is a.dtype and b.shape == a.shape and b.device == a.device
        else:
            fast = b.__class__ is float or b.__class__ is int
        if fast:
            target = CudaArray.empty(a.shape, BOOL if bool_result else a.dtype, a.device)
            native.binary(op, target, a, b, param)
            return target
    a, b = _operand(a), _operand(b)
    if not isinstance(a, CudaArray) and not isinstance(b, CudaArray):
        raise TypeError(f"{op}: expected at least one device array")
    dt = compute if compute is not None else _result_dtype(a, b)
    device = _device_of(a, b)
    shape = _shape_of(a, b)
    a, b = _prepare(dt, shape, a, b)
    result_dt = BOOL if bool_result or dt == BOOL else dt
    direct = out is not None and out.dtype == result_dt and out.shape == shape
    target = out if direct else CudaArray.empty(shape, result_dt, device)
    native.binary(op, target, a, b, param)
    return out if direct else _finish(target, out)


def add(a, b, out=None):
    return _binary("add", a, b, out)


def sub(a, b, out=None):
    a, b = _operand(a), _operand(b)
    if _result_dtype(a, b) == BOOL:
        raise TypeError("numpy boolean subtract, the `-` operator, is not supported")
    return _binary("sub", a, b, out)


def mul(a, b, out=None):
    return _binary("mul", a, b, out)


def div(a, b, out=None):
    a, b = _operand(a), _operand(b)
    dt = _result_dtype(a, b)
    return _binary("div", a, b, out, compute=dt if dt.kind == "f" else _F64)


def floor_divide(a, b, out=None):
    return _binary("floor_divide", a, b, out)


def remainder(a, b, out=None):
    return _binary("remainder", a, b, out)


def pow(a, b, out=None):
    if isinstance(a, CudaArray) and isinstance(b, _PY_SCALARS) and b == 2:
        return _binary("mul", a, a, out)  # exact, like NumPy's square fast path
    return _binary("pow", a, b, out)


def maximum(a, b, out=None):
    return _binary("maximum", a, b, out)


def minimum(a, b, out=None):
    return _binary("minimum", a, b, out)


def _comparison(op: str):
    def compare(a, b, out=None):
        return _binary(op, a, b, out, bool_result=True)

    compare.__name__ = op
    return compare


eq, ne, lt, le, gt, ge = (_comparison(op) for op in ("eq", "ne", "lt", "le", "gt", "ge"))


def _bitwise(op: str, name: str):
    def bitwise(a, b, out=None):
        a, b = _operand(a), _operand(b)
        if _result_dtype(a, b).kind == "f":
            raise TypeError(f"ufunc 'bitwise_{name}' not supported for floating point inputs")
        return _binary(op, a, b, out)

    bitwise.__name__ = "logical_" + name
    return bitwise


logical_and = _bitwise("and", "and")
logical_or = _bitwise("or", "or")
logical_xor = _bitwise("xor", "xor")


_FLOAT_ONLY = frozenset(
    ("exp", "log", "sqrt", "sigmoid", "tanh", "leaky_relu", "gelu", "gelu_tanh")
)


def _unary(op: str, x, out=None, lo=None, hi=None, result_dtype=None):
    x = _operand(x)
    if not isinstance(x, CudaArray):
        raise TypeError(f"{op}: expected a device array")
    if op in _FLOAT_ONLY and x.dtype.kind != "f":
        x = astype(x, _F64)
    dt = result_dtype or x.dtype
    direct = out is not None and out.dtype == dt and out.shape == x.shape
    target = out if direct else CudaArray.empty(x.shape, dt, x.device)
    native.unary(op, target, x, lo, hi)
    return out if direct else _finish(target, out)


def neg(x, out=None):
    if getattr(x, "dtype", None) == BOOL:
        raise TypeError("The numpy boolean negative, the `-` operator, is not supported")
    return _unary("neg", x, out)


def exp(x, out=None):
    return _unary("exp", x, out)


def log(x, out=None):
    return _unary("log", x, out)


def sqrt(x, out=None):
    return _unary("sqrt", x, out)


def abs(x, out=None):
    return _unary("abs", x, out)


def sign(x, out=None):
    return _unary("sign", x, out)


def invert(x, out=None):
    return _unary("invert", x, out)


def isnan(x, out=None):
    return _unary("isnan", x, out, result_dtype=BOOL)


def isfinite(x, out=None):
    return _unary("isfinite", x, out, result_dtype=BOOL)


def clip(x, lo=None, hi=None, out=None):
    x = _operand(x)
    bounds = [v for v in (lo, hi) if v is not None]
    dt = _result_dtype(x, *bounds)
    if dt != x.dtype:
        x = astype(x, dt)
    return _unary(
        "clip", x, out, lo=None if lo is None else float(lo), hi=None if hi is None else float(hi)
    )


def where(cond, a, b):
    cond, a, b = _operand(cond), _operand(a), _operand(b)
    if not isinstance(cond, CudaArray):
        cond = full((), bool(cond), BOOL)
    elif cond.dtype != BOOL:
        cond = ne(cond, 0)
    dt = _result_dtype(a, b)
    device = _device_of(cond, a, b)
    shape = _shape_of(cond, a, b)
    cond = broadcast_view(cond, shape)
    a, b = _prepare(dt, shape, a, b)
    out = CudaArray.empty(shape, dt, device)
    native.where(out, cond, a, b)
    return out


def clamp_mask(x: CudaArray, lo, hi) -> CudaArray:
    """Where clamp(x, lo, hi) passes x through (both bounds inclusive, as torch's backward)."""
    if lo is None:
        return le(x, hi)
    if hi is None:
        return ge(x, lo)
    return logical_and(ge(x, lo), le(x, hi))


# ---- activations --------------------------------------------------------------------------------


def relu_forward(x: CudaArray) -> CudaArray:
    return _unary("relu", x)


def relu_backward(dout: CudaArray, x: CudaArray) -> CudaArray:
    return _binary("relu_backward", dout, x)


def leaky_relu_forward(x: CudaArray, negative_slope: float = 0.01) -> CudaArray:
    return _unary("leaky_relu", x, lo=float(negative_slope))


def leaky_relu_backward(dout: CudaArray, x: CudaArray, negative_slope: float = 0.01):
    return _binary("leaky_relu_backward", dout, x, param=float(negative_slope))


def sigmoid_forward(x: CudaArray) -> CudaArray:
    return _unary("sigmoid", x)


def sigmoid_backward(dout: CudaArray, y: CudaArray) -> CudaArray:
    return _binary("sigmoid_backward", dout, y)


def tanh_forward(x: CudaArray) -> CudaArray:
    return _unary("tanh", x)


def tanh_backward(dout: CudaArray, y: CudaArray) -> CudaArray:
    return _binary("tanh_backward", dout, y)


def gelu_forward(x: CudaArray, approximate: bool = False) -> CudaArray:
    return _unary("gelu_tanh" if approximate else "gelu", x)


def gelu_backward(dout: CudaArray, x: CudaArray, approximate: bool = False) -> CudaArray:
    return _binary("gelu_tanh_backward" if approximate else "gelu_backward", dout, x)


def _require_float(op: str, *arrays) -> None:
    for a in arrays:
        if a is not None and (not isinstance(a, CudaArray) or a.dtype.kind != "f"):
            got = a.dtype if isinstance(a, CudaArray) else type(a).__name__
            raise TypeError(f"[{op}] expected float32 or float64 device arrays, got {got}")


def _softmax(x: CudaArray, log: bool) -> CudaArray:
    op = "log_softmax" if log else "softmax"
    _require_float(op, x)
    if x.ndim == 0:
        raise ValueError(f"[{op}] expected an array with at least one dim")
    x = contiguous(x)
    y = CudaArray.empty(x.shape, x.dtype, x.device)
    native.softmax_forward(y, x, log)
    return y


def _softmax_grad(dout: CudaArray, y: CudaArray, log: bool) -> CudaArray:
    dout, y = contiguous(dout), contiguous(y)
    dx = CudaArray.empty(y.shape, y.dtype, y.device)
    native.softmax_backward(dx, dout, y, log)
    return dx


def softmax_forward(x: CudaArray) -> CudaArray:
    return _softmax(x, False)


def softmax_backward(dout: CudaArray, y: CudaArray) -> CudaArray:
    return _softmax_grad(dout, y, False)


def log_softmax_forward(x: CudaArray) -> CudaArray:
    return _softmax(x, True)


def log_softmax_backward(dout: CudaArray, y: CudaArray) -> CudaArray:
    return _softmax_grad(dout, y, True)


# ---- reductions -------------------------------------------------------------------------------


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(sorted(normalize_axis(int(a), ndim) for a in axes))
    if len(set(axes)) != len(axes):
        raise ValueError("duplicate value in 'axis'")
    return axes


def _reduce(op: str, x: CudaArray, axis, keepdims: bool, out_dtype, scale: float = 1.0):
    axes = _axes(axis, x.ndim)
    kept = tuple(d for d in range(x.ndim) if d not in axes)
    moved = x._view(
        x._offset, tuple(x.shape[d] for d in kept + axes), tuple(x._strides[d] for d in kept + axes)
    )
    out = CudaArray.empty(tuple(x.shape[d] for d in kept), out_dtype, x.device)
    native.reduce(op, out, moved, len(axes), scale)
    if keepdims:
        out = out.reshape(tuple(1 if d in axes else n for d, n in enumerate(x.shape)))
    return out


def sum(x: CudaArray, axis=None, keepdims: bool = False, dtype=None) -> CudaArray:
    if dtype is not None:
        x = astype(x, dtype) if np.dtype(dtype) != x.dtype else x
    out_dtype = x.dtype if x.dtype.kind == "f" else INT64
    return _reduce("sum", x, axis, keepdims, out_dtype)


def mean(x: CudaArray, axis=None, keepdims: bool = False) -> CudaArray:
    if x.dtype.kind != "f":
        x = astype(x, _F64)
    count = math.prod(x.shape[d] for d in _axes(axis, x.ndim))
    return _reduce("sum", x, axis, keepdims, x.dtype, 1.0 / count if count else math.nan)


def _extremum(op: str, name: str):
    def extremum(x: CudaArray, axis=None, keepdims: bool = False) -> CudaArray:
        if any(x.shape[d] == 0 for d in _axes(axis, x.ndim)) or (axis is None and not x.size):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        arg = op.startswith("arg")
        return _reduce(op, x, axis, keepdims, INT64 if arg else x.dtype)

    extremum.__name__ = op
    return extremum


amax = _extremum("max", "maximum")
amin = _extremum("min", "minimum")
argmax = _extremum("argmax", "argmax")
argmin = _extremum("argmin", "argmin")


def sum_to(g: CudaArray, shape: tuple) -> CudaArray:
    """Sum g over the axes along which an input of `shape` was broadcast to g's shape."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    inner = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return sum(g, axis=tuple(range(lead)) + inner, keepdims=True).reshape(shape)


def unreduce(g: CudaArray, shape: tuple, axes, keepdims: bool) -> CudaArray:
    """A reduction's gradient g broadcast back to the input `shape` (a new array)."""
    if axes is not None and not keepdims:
        kept = list(shape)
        for a in axes:
            kept[a] = 1
        g = g.reshape(tuple(kept))
    out = CudaArray.empty(tuple(shape), g.dtype, g.device)
    native.copy(out, broadcast_view(g.reshape((1,) * (len(shape) - g.ndim) + g.shape), shape))
    return out


def _along_axis_plan(target_shape: tuple, base: CudaArray, indices: CudaArray, axis: int):
    """Gather/scatter arguments for x[..., indices, ...] along `axis` (take/put_along_axis)."""
    if indices.ndim != base.ndim:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    if indices.dtype != INT64:
        indices = astype(indices, INT64)
    axis = normalize_axis(axis, base.ndim)
    strides = []
    for d, n in enumerate(target_shape):
        if d == axis:
            strides.append(0)
        elif base.shape[d] == n:
            strides.append(base._strides[d])
        elif base.shape[d] == 1:
            strides.append(0)
        else:
            raise ValueError(f"shape mismatch: {base.shape} and indices {indices.shape}")
    idx = broadcast_view(indices, target_shape)
    _check_bounds(idx, base.shape[axis], axis)
    return list(strides), [idx], [base.shape[axis]], [base._strides[axis]]


def take_along_axis(x: CudaArray, indices: CudaArray, axis: int) -> CudaArray:
    shape = list(
        np.broadcast_shapes(
            tuple(1 if d == normalize_axis(axis, x.ndim) else n for d, n in enumerate(x.shape)),
            indices.shape,
        )
    )
    shape = tuple(shape)
    strides, idx, bounds, idx_strides = _along_axis_plan(shape, x, indices, axis)
    out = CudaArray.empty(shape, x.dtype, x.device)
    native.gather(out, x, x._offset, strides, idx, bounds, idx_strides)
    return out


def scatter_along_axis(shape: tuple, indices: CudaArray, values: CudaArray, axis: int):
    """zeros(shape) with values put at `indices` along `axis` (the backward of max(dim))."""
    out = zeros_like_shape(shape, values.dtype, values.device)
    values = broadcast_view(values, indices.shape)
    strides, idx, bounds, idx_strides = _along_axis_plan(indices.shape, out, indices, axis)
    native.scatter(out, out._offset, strides, idx, bounds, idx_strides, values, False)
    return out


def zeros_like_shape(shape, dtype, device: int) -> CudaArray:
    out = CudaArray.empty(tuple(shape), dtype, device)
    native.fill(out, 0)
    return out


# ---- shape ----------------------------------------------------------------------------------------


def reshape(x: CudaArray, shape) -> CudaArray:
    shape = resolve_shape(_shape(shape), x.size)
    strides = reshape_strides(x.shape, x._strides, shape)
    if strides is None:
        x = copy(x)
        strides = contiguous_strides(shape)
    return x._view(x._offset, shape, strides)


def view(x: CudaArray, shape) -> CudaArray:
    """x reshaped without copying; raises RuntimeError when x's strides do not allow it."""
    shape = resolve_shape(_shape(shape), x.size)
    strides = reshape_strides(x.shape, x._strides, shape)
    if strides is None:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{x.shape}, strides {x.strides}); use .reshape(...) instead."
        )
    return x._view(x._offset, shape, strides)


def permute(x: CudaArray, dims) -> CudaArray:
    dims = tuple(normalize_axis(int(d), x.ndim) for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError("axes don't match array")
    return x._view(x._offset, tuple(x.shape[d] for d in dims), tuple(x._strides[d] for d in dims))


def swapaxes(x: CudaArray, a: int, b: int) -> CudaArray:
    dims = list(range(x.ndim))
    a, b = normalize_axis(a, x.ndim), normalize_axis(b, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, dims)


def moveaxis(x: CudaArray, source: int, destination: int) -> CudaArray:
    source, destination = normalize_axis(source, x.ndim), normalize_axis(destination, x.ndim)
    dims = [d for d in range(x.ndim) if d != source]
    dims.insert(destination, source)
    return permute(x, dims)


def expand_dims(x: CudaArray, axis: int) -> CudaArray:
    axis = normalize_axis(axis, x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def broadcast_to(x: CudaArray, shape) -> CudaArray:
    return broadcast_view(x, _shape(shape))


def concatenate(xs, axis: int = 0) -> CudaArray:
    xs = [_operand(x) for x in xs]
    dt = _result_dtype(*xs)
    axis = normalize_axis(axis, xs[0].ndim)
    shape = list(xs[0].shape)
    shape[axis] = builtins.sum(x.shape[axis] for x in xs)
    out = CudaArray.empty(tuple(shape), dt, _device_of(*xs))
    start = 0
    for x in xs:
        n = x.shape[axis]
        index = (slice(None),) * axis + (slice(start, start + n),)
        native.copy(index_view(out, index), x)
        start += n
    return out


def stack(xs, axis: int = 0) -> CudaArray:
    xs = list(xs)
    axis = normalize_axis(axis, xs[0].ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def split(x: CudaArray, indices_or_sections, axis: int = 0) -> list:
    axis = normalize_axis(axis, x.ndim)
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if n % sections:
            raise ValueError("array split does not result in an equal division")
        bounds = [n // sections * i for i in range(1, sections)]
    else:
        bounds = list(indices_or_sections)
    pieces, start = [], 0
    lead = (slice(None),) * axis
    for stop in bounds + [n]:
        pieces.append(index_view(x, lead + (slice(start, stop),)))
        start = stop
    return pieces


# ---- indexing ---------------------------------------------------------------------------------
# An index is NumPy's: ints, slices, None, Ellipsis, integer and bool arrays. Without arrays it
# is a view (index_view). With arrays it is a gather: the output has the basic dims (from slices
# and None) with the broadcast shape of the index arrays inserted where the first of them stood
# (at the front if they are separated by a slice), and ints count as index arrays for that rule.


def _index_items(x: CudaArray, index) -> list:
    items = list(index) if type(index) is tuple else [index]
    out = []
    for it in items:
        if it is None or it is Ellipsis or isinstance(it, slice):
            out.append(it)
        elif isinstance(it, (bool, np.bool_)):
            raise IndexError("boolean scalar indices are not supported on CUDA arrays")
        elif isinstance(it, (int, np.integer)):
            out.append(int(it))
        else:
            arr = _operand(it) if not isinstance(it, (list, tuple)) else from_host(np.asarray(it))
            if not isinstance(arr, CudaArray):
                out.append(operator.index(arr))
                continue
            if arr.dtype == BOOL:
                out.extend(_nonzero(arr))
            elif arr.dtype.kind in "iu":
                out.append(arr if arr.dtype == INT64 else astype(arr, INT64))
            else:
                raise IndexError("arrays used as indices must be of integer (or boolean) type")
    used = builtins.sum(1 for it in out if it is not None and it is not Ellipsis)
    if used > x.ndim:
        raise IndexError(
            f"too many indices for array: array is {x.ndim}-dimensional, but {used} were indexed"
        )
    ellipses = [i for i, it in enumerate(out) if it is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    fill = [slice(None)] * (x.ndim - used)
    if ellipses:
        out[ellipses[0] : ellipses[0] + 1] = fill
    else:
        out.extend(fill)
    return out


def _nonzero(mask: CudaArray) -> list:
    """The int64 index arrays of mask's True elements (waits: their count sizes the result)."""
    return [from_host(ix.astype(np.int64)) for ix in np.nonzero(to_host(mask))]


def _check_int(k: int, n: int, axis: int) -> int:
    if not -n <= k < n:
        raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
    return k % n


def _basic(x: CudaArray, items: list):
    """Walk the items: (offset, [(size, stride) of each basic output dim, None marking where an
    advanced item stood], advanced [(array, axis)])."""
    offset, dims, advanced = x._offset, [], []
    d = 0
    for it in items:
        if it is None:
            dims.append((1, 0))
            continue
        n, s = x.shape[d], x._strides[d]
        if isinstance(it, slice):
            start, stop, step = it.indices(n)
            count = len(range(start, stop, step))
            if count:
                offset += start * s
            dims.append((count, s * step))
        elif isinstance(it, int):
            offset += _check_int(it, n, d) * s
            dims.append(None)
        else:
            advanced.append((it, d))
            dims.append(None)
        d += 1
    return offset, dims, advanced


def index_view(x: CudaArray, index) -> CudaArray:
    """x[index] for an index without arrays (a view)."""
    items = _index_items(x, index)
    offset, dims, advanced = _basic(x, items)
    assert not advanced
    kept = [dm for dm in dims if dm is not None]
    return x._view(offset, tuple(n for n, _ in kept), tuple(s for _, s in kept))


def _check_bounds(idx: CudaArray, n: int, axis: int) -> None:
    if idx.size == 0:
        return
    lo, hi = int(amin(idx)), int(amax(idx))
    for k in (lo, hi):
        _check_int(k, n, axis)


def _advanced_plan(x: CudaArray, items: list):
    """(output shape, base offset, source strides per output dim, index arrays broadcast to the
    output shape, their bounds and source strides)."""
    offset, dims, advanced = _basic(x, items)
    positions = [i for i, it in enumerate(items) if it is not None and not isinstance(it, slice)]
    adjacent = positions == list(range(positions[0], positions[-1] + 1))
    arrays = [a for a, _ in advanced]
    block = np.broadcast_shapes(*(a.shape for a in arrays))
    basic = [dm for dm in dims if dm is not None]
    where_ = builtins.sum(1 for dm in dims[: positions[0]] if dm is not None) if adjacent else 0
    shape = tuple(n for n, _ in basic[:where_]) + block + tuple(n for n, _ in basic[where_:])
    strides = [s for _, s in basic[:where_]] + [0] * len(block) + [s for _, s in basic[where_:]]
    indices, bounds, index_strides = [], [], []
    for arr, axis in advanced:
        b = broadcast_view(arr, block)
        full_strides = (0,) * where_ + b._strides + (0,) * (len(basic) - where_)
        indices.append(b._view(b._offset, shape, full_strides))
        bounds.append(x.shape[axis])
        index_strides.append(x._strides[axis])
        _check_bounds(arr, x.shape[axis], axis)
    return shape, offset, strides, indices, bounds, index_strides


def _has_arrays(items: list) -> bool:
    return builtins.any(isinstance(it, CudaArray) for it in items)


def index(x: CudaArray, idx) -> CudaArray:
    items = _index_items(x, idx)
    if not _has_arrays(items):
        return index_view(x, tuple(items))
    shape, offset, strides, indices, bounds, index_strides = _advanced_plan(x, items)
    out = CudaArray.empty(shape, x.dtype, x.device)
    native.gather(out, x, offset, strides, indices, bounds, index_strides)
    return out


def _put(x: CudaArray, items: list, values, accumulate: bool) -> None:
    if not _has_arrays(items):
        copy_into(index_view(x, tuple(items)), values)
        return
    shape, offset, strides, indices, bounds, index_strides = _advanced_plan(x, items)
    values = _operand(values)
    if not isinstance(values, CudaArray):
        values = full((), values, x.dtype)
    elif values.dtype != x.dtype:
        values = astype(values, x.dtype)
    native.scatter(
        x,
        offset,
        strides,
        indices,
        bounds,
        index_strides,
        broadcast_view(values, shape),
        accumulate,
    )


def setitem(x: CudaArray, idx, value) -> None:
    _put(x, _index_items(x, idx), value, False)


def index_backward(g: CudaArray, shape: tuple, idx, advanced: bool) -> CudaArray:
    """The gradient of x[idx] w.r.t. x: zeros with g added at idx (repeated indices add up)."""
    out = zeros_like_shape(shape, g.dtype, g.device)
    _put(out, _index_items(out, idx), g, advanced)
    return out


# ---- matrix products ------------------------------------------------------------------------


def _matrix_operand(x: CudaArray):
    """(array, transposed) with array's last two dims row-major: a transposed view (W.T) passes
    as W with trans=True instead of being copied."""
    n, m = x.shape[-2:]
    if x._strides[-1] == 1 or m == 1:
        if x._strides[-2] == m or n == 1:
            return x, False
    if (x._strides[-2] == 1 or n == 1) and (x._strides[-1] == n or m == 1):
        return swapaxes(x, -1, -2), True
    return copy(x), False


def _batch_operand(x: CudaArray, batch: tuple):
    """(array, transposed, batch stride) for x broadcast over `batch`: stride 0 when every
    batch entry is the same matrix."""
    rows, cols = x.shape[-2:]
    lead = x.shape[:-2]
    if builtins.all(n == 1 for n in lead):
        mat, trans = _matrix_operand(x.reshape(rows, cols))
        return mat, trans, 0
    full_x = broadcast_view(x, batch + (rows, cols))
    flat = reshape(full_x, (-1, rows, cols))
    mat, trans = _matrix_operand(flat)
    if mat._strides[0] != mat.shape[1] * mat.shape[2]:
        mat, trans = _matrix_operand(copy(flat))
    return mat, trans, mat._strides[0]


def _gemm_into(
    out: CudaArray,
    a: CudaArray,
    ta: bool,
    b: CudaArray,
    tb: bool,
    batch: int,
    sa: int,
    sb: int,
    alpha=1.0,
    beta=0.0,
) -> None:
    M = a.shape[-1] if ta else a.shape[-2]
    K = a.shape[-2] if ta else a.shape[-1]
    N = b.shape[-2] if tb else b.shape[-1]
    native.gemm(
        out,
        a,
        b,
        ta,
        tb,
        M,
        N,
        K,
        a.shape[-1] if a.shape[-1] else 1,
        b.shape[-1] if b.shape[-1] else 1,
        N if N else 1,
        batch,
        sa,
        sb,
        M * N,
        alpha,
        beta,
    )


def matmul(a, b) -> CudaArray:
    """a @ b for a (..., n, k) and b (..., k, m), batch dims broadcast (both at least 2-D)."""
    a, b = _operand(a), _operand(b)
    if a.dtype != b.dtype or a.dtype.kind != "f":
        return from_host(np.matmul(to_host(a), to_host(b)))
    n, k = a.shape[-2:]
    m = b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: mismatch in the inner dimension ({a.shape} @ {b.shape})")
    if len(a.shape) == 2 and len(b.shape) == 2:  # the common case, without batch bookkeeping
        out = CudaArray.empty((n, m), a.dtype, _device_of(a, b))
        if n and m:
            A, ta = _matrix_operand(a)
            B, tb = _matrix_operand(b)
            _gemm_into(out, A, ta, B, tb, 1, 0, 0)
        return out
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = CudaArray.empty(batch + (n, m), a.dtype, _device_of(a, b))
    count = math.prod(batch)
    if count == 0 or n == 0 or m == 0:
        return out
    if builtins.all(s == 1 for s in b.shape[:-2]) and batch:
        # One right matrix for every batch entry: fold the batch into the rows (one GEMM).
        rows = reshape(broadcast_view(a, batch + (n, k)), (-1, k))
        A, ta = _matrix_operand(rows)
        B, tb = _matrix_operand(b.reshape(k, m))
        _gemm_into(out, A, ta, B, tb, 1, 0, 0)
        return out
    A, ta, sa = _batch_operand(a, batch)
    B, tb, sb = _batch_operand(b, batch)
    _gemm_into(out, A, ta, B, tb, count, sa, sb)
    return out


def matmul_backward(g: CudaArray, a: CudaArray, b: CudaArray, need_a: bool, need_b: bool):
    """(da, db) of g = a @ b: da = g @ b^T, db = a^T @ g, each summed over the batch dims its
    operand was broadcast along."""
    da = sum_to(matmul(g, swapaxes(b, -1, -2)), a.shape) if need_a else None
    db = None
    if need_b:
        if b.ndim == 2 and a.ndim > 2:
            rows_a, rows_g = reshape(a, (-1, a.shape[-1])), reshape(g, (-1, g.shape[-1]))
            db = matmul(swapaxes(rows_a, -1, -2), rows_g)
        else:
            db = sum_to(matmul(swapaxes(a, -1, -2), g), b.shape)
    return da, db


def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None) -> CudaArray:
    """out = alpha * op(a) @ op(b) + beta * out for contiguous 2-D a and b (as _C.gemm)."""
    _require_float("gemm", a, b)
    a, b = contiguous(a), contiguous(b)
    M = a.shape[1] if trans_a else a.shape[0]
    N = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        if beta != 0.0:
            raise ValueError(f"[gemm] beta = {beta} scales the old C, so it needs out=")
        out = CudaArray.empty((M, N), a.dtype, a.device)
    _gemm_into(out, a, trans_a, b, trans_b, 1, 0, 0, alpha, beta)
    return out


def bmm(a, b, trans_a=False, trans_b=False) -> CudaArray:
    """out[i] = op(a[i]) @ op(b[i]) for contiguous 3-D a and b (as _C.bmm)."""
    _require_float("bmm", a, b)
    a, b = contiguous(a), contiguous(b)
    M = a.shape[2] if trans_a else a.shape[1]
    N = b.shape[1] if trans_b else b.shape[2]
    out = CudaArray.empty((a.shape[0], M, N), a.dtype, a.device)
    _gemm_into(
        out, a, trans_a, b, trans_b, a.shape[0], a.shape[1] * a.shape[2], b.shape[1] * b.shape[2]
    )
    return out


def linear_forward(x: CudaArray, weight: CudaArray, bias=None) -> CudaArray:
    """y = x @ weight.T + bias for x (N, in), weight (out, in), bias (out,)."""
    _require_float("linear", x, weight, bias)
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"[linear] expected x (N, in) and weight (out, in), got {x.shape} and {weight.shape}"
        )
    if bias is None:
        return gemm(x, weight, False, True)
    if bias.shape != (weight.shape[0],) or bias.dtype != x.dtype:
        raise ValueError(
            f"[linear] expected bias of shape ({weight.shape[0]},) and dtype {x.dtype}, got "
            f"{bias.shape} and {bias.dtype}"
        )
    # The bias rows first, then the GEMM accumulates onto them (beta = 1): one launch fewer
    # than a separate broadcast add, and no pass over y.
    y = CudaArray.empty((x.shape[0], weight.shape[0]), x.dtype, x.device)
    native.copy(y, broadcast_view(bias, y.shape))
    return gemm(x, weight, False, True, beta=1.0, out=y)


def linear_backward(dout, x, weight, need_dx=True, need_dweight=True, need_dbias=True):
    """(dout @ weight, dout.T @ x, dout.sum(0)); None where not needed."""
    _require_float("linear_backward", dout, x, weight)
    dx = gemm(dout, weight) if need_dx else None
    dweight = gemm(dout, x, True, False) if need_dweight else None
    dbias = sum(dout, axis=0) if need_dbias else None
    return dx, dweight, dbias


# ---- convolution and pooling --------------------------------------------------------------------


def _int_pair(op: str, name: str, value) -> tuple:
    try:
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError
            return operator.index(value[0]), operator.index(value[1])
        v = operator.index(value)
        return v, v
    except (TypeError, ValueError):
        raise ValueError(f"[{op}] {name} must be an int or a pair of ints, got {value!r}") from None


def _conv_geometry(op, x, weight, stride, padding, dilation, groups) -> list:
    _require_float(op, x, weight)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"[{op}] expected x (N, C, H, W) and weight (O, C/groups, KH, KW), got "
            f"{x.shape} and {weight.shape}"
        )
    sh, sw = _int_pair(op, "stride", stride)
    ph, pw = _int_pair(op, "padding", padding)
    dh, dw = _int_pair(op, "dilation", dilation)
    groups = operator.index(groups)
    N, C, H, W = x.shape
    O, Cg, KH, KW = weight.shape
    if min(sh, sw, dh, dw, groups) < 1 or min(ph, pw) < 0:
        raise ValueError(
            f"[{op}] stride, dilation and groups must be positive and padding non-negative"
        )
    if C % groups or O % groups or Cg != C // groups:
        raise ValueError(
            f"[{op}] weight {weight.shape} does not match x {x.shape} with groups={groups}"
        )
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    if OH <= 0 or OW <= 0 or min(C, H, W, O, KH, KW) == 0:
        raise ValueError(
            f"[{op}] kernel: dilated size ({dh * (KH - 1) + 1}, {dw * (KW - 1) + 1})"
            f" is larger than the padded input ({H + 2 * ph}, {W + 2 * pw})"
        )
    return [N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, OH, OW]


def conv2d_forward(
    x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1
) -> CudaArray:
    g = _conv_geometry("conv2d", x, weight, stride, padding, dilation, groups)
    x, weight = contiguous(x), contiguous(weight)
    y = CudaArray.empty((g[0], g[4], g[14], g[15]), x.dtype, x.device)
    if y.size:
        native.conv2d_forward(y, x, weight, None if bias is None else contiguous(bias), g)
    return y


def conv2d_backward(
    dout,
    x,
    weight,
    stride=(1, 1),
    padding=(0, 0),
    dilation=(1, 1),
    groups=1,
    need_dx=True,
    need_dweight=True,
    need_dbias=True,
):
    g = _conv_geometry("conv2d_backward", x, weight, stride, padding, dilation, groups)
    dout, x, weight = contiguous(dout), contiguous(x), contiguous(weight)
    if dout.shape != (g[0], g[4], g[14], g[15]):
        raise ValueError(
            f"[conv2d_backward] dout: expected {(g[0], g[4], g[14], g[15])}, got {dout.shape}"
        )
    dx = CudaArray.empty(x.shape, x.dtype, x.device) if need_dx else None
    dweight = CudaArray.empty(weight.shape, x.dtype, x.device) if need_dweight else None
    dbias = CudaArray.empty((g[4],), x.dtype, x.device) if need_dbias else None
    if g[0] == 0:
        for t in (dx, dweight, dbias):
            if t is not None:
                native.fill(t, 0)
    else:
        native.conv2d_backward(dx, dweight, dbias, dout, x, weight, g)
    return dx, dweight, dbias


def _pool_geometry(op: str, shape: tuple, kernel_size, stride, padding) -> list:
    if len(shape) != 4:
        raise ValueError(f"[{op}] expected (N, C, H, W), got shape {tuple(shape)}")
    kh, kw = _int_pair(op, "kernel_size", kernel_size)
    sh, sw = _int_pair(op, "stride", stride)
    ph, pw = _int_pair(op, "padding", padding)
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"[{op}] kernel_size and stride must be positive, padding >= 0")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"[{op}] padding: expected at most half the kernel size ({kh}, {kw}), got ({ph}, {pw})"
        )
    N, C, H, W = shape
    OH = (H + 2 * ph - kh) // sh + 1 if H + 2 * ph >= kh else 0
    OW = (W + 2 * pw - kw) // sw + 1 if W + 2 * pw >= kw else 0
    if OH <= 0 or OW <= 0 or H == 0 or W == 0:
        raise ValueError(
            f"[{op}] kernel_size: ({kh}, {kw}) is larger than the padded input "
            f"({H + 2 * ph}, {W + 2 * pw})"
        )
    return [N * C, H, W, kh, kw, sh, sw, ph, pw, OH, OW]


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0)):
    _require_float("max_pool2d", x)
    g = _pool_geometry("max_pool2d", x.shape, kernel_size, stride, padding)
    x = contiguous(x)
    out_shape = x.shape[:2] + (g[9], g[10])
    y = CudaArray.empty(out_shape, x.dtype, x.device)
    indices = CudaArray.empty(out_shape, INT64, x.device)
    if y.size:
        native.max_pool2d_forward(y, indices, x, g)
    return y, indices


def max_pool2d_backward(dout, indices, input_shape):
    """dx: dout added at the recorded flat indices of each (n, c) plane."""
    _require_float("max_pool2d_backward", dout)
    input_shape = tuple(int(n) for n in input_shape)
    if (
        dout.ndim != 4
        or indices.shape != dout.shape
        or len(input_shape) != 4
        or input_shape[:2] != dout.shape[:2]
    ):
        raise ValueError(
            f"[max_pool2d_backward] dout {dout.shape}, indices {indices.shape} and "
            f"input_shape {input_shape} do not match"
        )
    N, C, H, W = input_shape
    dx = zeros_like_shape(input_shape, dout.dtype, dout.device)
    planes, outs = N * C, dout.shape[2] * dout.shape[3]
    if dx.size and dout.size:
        idx = reshape(contiguous(indices), (planes, outs))
        native.scatter(
            dx,
            dx._offset,
            [H * W, 0],
            [idx],
            [H * W],
            [1],
            reshape(contiguous(dout), (planes, outs)),
            True,
        )
    return dx


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0), count_include_pad=True):
    _require_float("avg_pool2d", x)
    g = _pool_geometry("avg_pool2d", x.shape, kernel_size, stride, padding)
    x = contiguous(x)
    y = CudaArray.empty(x.shape[:2] + (g[9], g[10]), x.dtype, x.device)
    if y.size:
        native.avg_pool2d_forward(y, x, g, bool(count_include_pad))
    return y


def avg_pool2d_backward(
    dout, input_shape, kernel_size, stride, padding=(0, 0), count_include_pad=True
):
    _require_float("avg_pool2d_backward", dout)
    input_shape = tuple(int(n) for n in input_shape)
    g = _pool_geometry("avg_pool2d_backward", input_shape, kernel_size, stride, padding)
    dout = contiguous(dout)
    if dout.shape != input_shape[:2] + (g[9], g[10]):
        raise ValueError(
            f"[avg_pool2d_backward] dout: expected {input_shape[:2] + (g[9], g[10])},"
            f" got {dout.shape}"
        )
    dx = CudaArray.empty(input_shape, dout.dtype, dout.device)
    if dx.size:
        native.avg_pool2d_backward(dx, dout, g, bool(count_include_pad))
    return dx


# ---- losses -------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"[{op}] reduction: expected 'mean', 'sum' or 'none', got '{reduction}'")


def _loss_out(x: CudaArray, reduction: str, per_element: tuple) -> CudaArray:
    return CudaArray.empty(per_element if reduction == "none" else (), x.dtype, x.device)


def cross_entropy_forward(
    logits, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0
):
    op = "cross_entropy"
    _check_reduction(op, reduction)
    _require_float(op, logits, weight)
    if logits.ndim != 2 or target.shape != logits.shape[:1] or target.dtype != INT64:
        raise ValueError(
            f"[{op}] expected logits (N, C) and int64 target (N,), got "
            f"{logits.shape} and {target.dtype} {target.shape}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[{op}] label_smoothing: expected a value in [0, 1], got {label_smoothing}"
        )
    logits, target = contiguous(logits), contiguous(target)
    loss = _loss_out(logits, reduction, target.shape)
    native.cross_entropy_forward(
        loss,
        logits,
        target,
        None if weight is None else contiguous(weight),
        reduction,
        int(ignore_index),
        float(label_smoothing),
    )
    return loss


def cross_entropy_backward(
    dout, logits, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0
):
    op = "cross_entropy_backward"
    _check_reduction(op, reduction)
    _require_float(op, dout, logits, weight)
    logits, target, dout = contiguous(logits), contiguous(target), contiguous(dout)
    dlogits = CudaArray.empty(logits.shape, logits.dtype, logits.device)
    native.cross_entropy_backward(
        dlogits,
        dout,
        logits,
        target,
        None if weight is None else contiguous(weight),
        reduction,
        int(ignore_index),
        float(label_smoothing),
    )
    return dlogits


def _point_forward(kind: str, x, target, reduction, pos_weight=None):
    _check_reduction(kind, reduction)
    _require_float(kind, x, target, pos_weight)
    if target.shape != x.shape:
        raise ValueError(f"[{kind}] target: expected shape {x.shape}, got {target.shape}")
    x, target = contiguous(x), contiguous(target)
    loss = _loss_out(x, reduction, x.shape)
    native.point_loss_forward(
        kind, loss, x, target, None if pos_weight is None else contiguous(pos_weight), reduction
    )
    return loss


def _point_backward(kind: str, dout, x, target, reduction, pos_weight=None):
    _check_reduction(kind, reduction)
    _require_float(kind, dout, x, target, pos_weight)
    dout, x, target = contiguous(dout), contiguous(x), contiguous(target)
    dx = CudaArray.empty(x.shape, x.dtype, x.device)
    native.point_loss_backward(
        kind, dx, dout, x, target, None if pos_weight is None else contiguous(pos_weight), reduction
    )
    return dx


def mse_forward(x, target, reduction="mean"):
    return _point_forward("mse", x, target, reduction)


def mse_backward(dout, x, target, reduction="mean"):
    return _point_backward("mse", dout, x, target, reduction)


def bce_forward(p, target, reduction="mean"):
    return _point_forward("bce", p, target, reduction)


def bce_backward(dout, p, target, reduction="mean"):
    return _point_backward("bce", dout, p, target, reduction)


def bce_with_logits_forward(x, target, reduction="mean", pos_weight=None):
    return _point_forward("bce_with_logits", x, target, reduction, pos_weight)


def bce_with_logits_backward(dout, x, target, reduction="mean", pos_weight=None):
    return _point_backward("bce_with_logits", dout, x, target, reduction, pos_weight)


# ---- dropout and optimizer steps ------------------------------------------------------------------


def _dropout(x, p, seed, offset):
    _require_float("dropout", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[dropout] p must be in [0, 1], got {p!r}")
    x = contiguous(x)
    out = CudaArray.empty(x.shape, x.dtype, x.device)
    native.dropout(out, x, float(p), int(seed), int(offset))
    return out


def dropout_forward(x, p, seed, offset):
    """y = x * keep / (1 - p) with the CPU's Philox mask for (seed, offset)."""
    return _dropout(x, p, seed, offset)


def dropout_backward(dout, p, seed, offset):
    return _dropout(dout, p, seed, offset)


def dropout_mask(n, p, seed, offset, dtype="float32"):
    """The keep mask (1 kept, 0 dropped) of n elements."""
    kept = ne(_dropout(ones((n,), _F32), p, seed, offset), 0)
    return kept if np.dtype(dtype) == BOOL else astype(kept, dtype)


def sgd_step(
    param,
    grad,
    momentum_buffer=None,
    *,
    lr,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    maximize=False,
    first_step=False,
) -> None:
    """One torch.optim.SGD step in place (see ember._C.sgd_step)."""
    _require_float("sgd_step", param, grad, momentum_buffer)
    if momentum != 0.0 and momentum_buffer is None:
        raise ValueError("[sgd_step] momentum_buffer is required when momentum != 0 (got None)")
    native.sgd_step(
        param,
        contiguous(grad),
        momentum_buffer,
        float(lr),
        float(momentum),
        float(dampening),
        float(weight_decay),
        bool(nesterov),
        bool(maximize),
        bool(first_step),
    )


def sgd_step_many(params, grads, momentum_buffers, **options) -> None:
    """sgd_step(param, grad, buffer, **options) on each triple in turn (see
    ember._C.sgd_step_many); dtypes and buffers are checked before any is updated."""
    if not len(params) == len(grads) == len(momentum_buffers):
        raise ValueError(
            f"[sgd_step_many] params, grads and momentum_buffers: expected lists of one length, "
            f"got {len(params)}, {len(grads)} and {len(momentum_buffers)}"
        )
    for param, grad, buffer in zip(params, grads, momentum_buffers):
        _require_float("sgd_step_many", param, grad, buffer)
        if options.get("momentum", 0.0) != 0.0 and buffer is None:
            raise ValueError(
                "[sgd_step_many] momentum_buffer is required when momentum != 0 (got None)"
            )
    for param, grad, buffer in zip(params, grads, momentum_buffers):
        sgd_step(param, grad, buffer, **options)


def adam_step(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    *,
    lr=1e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    amsgrad=False,
    max_exp_avg_sq=None,
    maximize=False,
) -> None:
    """One torch.optim.Adam step in place (see ember._C.adam_step)."""
    _require_float("adam_step", param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    if step < 1:
        raise ValueError(f"[adam_step] step must be >= 1 (the count after this step), got {step}")
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("[adam_step] max_exp_avg_sq is required when amsgrad=True (got None)")
    native.adam_step(
        param,
        contiguous(grad),
        exp_avg,
        exp_avg_sq,
        int(step),
        float(lr),
        float(beta1),
        float(beta2),
        float(eps),
        float(weight_decay),
        bool(decoupled_weight_decay),
        bool(amsgrad),
        max_exp_avg_sq,
        bool(maximize),
    )


def __getattr__(name: str):
    raise AttributeError(f"the CUDA backend has no op {name!r}")
