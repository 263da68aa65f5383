"""CudaArray: the CUDA backend's array, a strided view of device memory with NumPy's behaviour.

An array is (buffer, offset, shape, strides, dtype): `buffer` is device memory from ember's
caching allocator (ember._C.cuda.Buffer), `offset` and `strides` count elements. Reshapes,
transposes, broadcasts and basic indexing make new views of the same buffer, as NumPy does;
everything that computes goes through ember.backends.cuda, so that `a + b`, `a.sum(0)` or
`a[idx]` on device arrays mean what they mean on NumPy arrays. Nothing here waits for the GPU
except what returns host values (item(), tolist(), bool()).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ember import _C

native = getattr(_C, "cuda", None)

# Device dtypes; a dtype outside these raises TypeError on the way to the device.
DTYPES = frozenset(
    np.dtype(t) for t in (np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64)
)
BOOL = np.dtype(np.bool_)
INT64 = np.dtype(np.int64)


def check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in DTYPES:
        names = ", ".join(sorted(str(d) for d in DTYPES))
        raise TypeError(f"dtype {dt} is not supported on CUDA (supported: {names})")
    return dt


# shape -> (the shape as a tuple of Python ints, its row-major strides). A training loop
# allocates the same few shapes over and over; this spares each allocation the work.
_LAYOUTS: dict[tuple, tuple[tuple, tuple]] = {}


def _layout(shape) -> tuple[tuple, tuple]:
    layout = _LAYOUTS.get(shape) if shape.__class__ is tuple else None
    if layout is None:
        shape = tuple(int(n) for n in shape)
        out, step = [], 1
        for n in reversed(shape):
            out.append(step)
            step *= max(n, 1)
        layout = (shape, tuple(reversed(out)))
        if len(_LAYOUTS) < 4096:
            _LAYOUTS[shape] = layout
    return layout


def contiguous_strides(shape: tuple) -> tuple:
    return _layout(shape)[1]


def normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise np.exceptions.AxisError(axis, ndim)
    return axis % max(ndim, 1)


class _Flags:
    __slots__ = ("c_contiguous", "writeable")

    def __init__(self, c_contiguous: bool) -> None:
        self.c_contiguous = c_contiguous
        self.writeable = True


class CudaArray:
    """A NumPy-like array in GPU memory (see the module docstring)."""

    __slots__ = ("_buffer", "_offset", "shape", "_strides", "dtype", "__weakref__")
    # NumPy must hand `ndarray + CudaArray` to CudaArray.__radd__, never loop over it.
    __array_ufunc__ = None
    __array_priority__ = 1000

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def empty(cls, shape, dtype, device: int) -> CudaArray:
        dt = dtype if isinstance(dtype, np.dtype) and dtype in DTYPES else check_dtype(dtype)
        shape, strides = _layout(shape)
        a = object.__new__(cls)
        a._buffer = native.Buffer(math.prod(shape) * dt.itemsize, device)
        a._offset = 0
        a.shape = shape
        a._strides = strides
        a.dtype = dt
        return a

    def _view(self, offset: int, shape: tuple, strides: tuple) -> CudaArray:
        a = object.__new__(CudaArray)
        a._buffer = self._buffer
        a._offset = offset
        a.shape = shape
        a._strides = strides
        a.dtype = self.dtype
        return a

    # ---- what it is -----------------------------------------------------------------------

    @property
    def device(self) -> int:
        return self._buffer.device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def strides(self) -> tuple:
        """Strides in bytes, as NumPy reports them."""
        return tuple(s * self.dtype.itemsize for s in self._strides)

    def is_contiguous(self) -> bool:
        layout = _LAYOUTS.get(self.shape)
        if layout is not None and self._strides == layout[1]:  # most arrays: cached row-major
            return True
        step = 1
        for n, s in zip(reversed(self.shape), reversed(self._strides)):
            if n != 1 and s != step:
                return False
            step *= n
        return True

    @property
    def flags(self) -> _Flags:
        return _Flags(self.is_contiguous())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"CudaArray({ops.to_host(self)!r}, device=cuda:{self.device})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"can't convert a cuda:{self.device} array to a NumPy array implicitly; copy it to "
            "the host first (Tensor.cpu() / Tensor.numpy(), or backend.to_host(array))"
        )

    # ---- host values (these wait for the GPU) -----------------------------------------------

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return ops.to_host(self).item()

    def tolist(self):
        return ops.to_host(self).tolist()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                "The truth value of an array with more than one element is ambiguous. Use "
                "a.any() or a.all()"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iub" or self.size != 1:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self.item())

    # ---- views ------------------------------------------------------------------------------

    def reshape(self, *shape, copy=None) -> CudaArray:
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return ops.reshape(self, shape)

    def transpose(self, *axes) -> CudaArray:
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        return ops.permute(self, axes or tuple(range(self.ndim - 1, -1, -1)))

    @property
    def T(self) -> CudaArray:
        return self.transpose()

    def swapaxes(self, a: int, b: int) -> CudaArray:
        return ops.swapaxes(self, a, b)

    def ravel(self) -> CudaArray:
        return ops.reshape(self, (-1,))

    def __getitem__(self, index):
        return ops.index(self, index)

    def __setitem__(self, index, value) -> None:
        ops.setitem(self, index, value)

    # ---- conversions and reductions ---------------------------------------------------------

    def astype(self, dtype, copy: bool = True) -> CudaArray:
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return ops.astype(self, dtype)

    def copy(self) -> CudaArray:
        return ops.copy(self)

    def fill(self, value) -> None:
        ops.copy_into(self, value)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return ops.sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.amax(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return ops.amin(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return ops.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return ops.argmin(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return ops.amax(ops.ne(self, 0), axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return ops.amin(ops.ne(self, 0), axis=axis, keepdims=keepdims)

    def dot(self, other) -> CudaArray:
        return ops.matmul(self, other)

    # ---- operators --------------------------------------------------------------------------

    def __add__(self, o):
        return ops.add(self, o)

    def __radd__(self, o):
        return ops.add(o, self)

    def __sub__(self, o):
        return ops.sub(self, o)

    def __rsub__(self, o):
        return ops.sub(o, self)

    def __mul__(self, o):
        return ops.mul(self, o)

    def __rmul__(self, o):
        return ops.mul(o, self)

    def __truediv__(self, o):
        return ops.div(self, o)

    def __rtruediv__(self, o):
        return ops.div(o, self)

    def __floordiv__(self, o):
        return ops.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return ops.floor_divide(o, self)

    def __mod__(self, o):
        return ops.remainder(self, o)

    def __rmod__(self, o):
        return ops.remainder(o, self)

    def __pow__(self, o):
        return ops.pow(self, o)

    def __rpow__(self, o):
        return ops.pow(o, self)

    def __matmul__(self, o):
        return ops.matmul(self, o)

    def __rmatmul__(self, o):
        return ops.matmul(o, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __invert__(self):
        return ops.invert(self)

    def __eq__(self, o):  # noqa: D105 - element-wise, as NumPy
        return ops.eq(self, o)

    def __ne__(self, o):
        return ops.ne(self, o)

    def __lt__(self, o):
        return ops.lt(self, o)

    def __le__(self, o):
        return ops.le(self, o)

    def __gt__(self, o):
        return ops.gt(self, o)

    def __ge__(self, o):
        return ops.ge(self, o)

    def __and__(self, o):
        return ops.logical_and(self, o)

    def __rand__(self, o):
        return ops.logical_and(o, self)

    def __or__(self, o):
        return ops.logical_or(self, o)

    def __ror__(self, o):
        return ops.logical_or(o, self)

    def __xor__(self, o):
        return ops.logical_xor(self, o)

    def __rxor__(self, o):
        return ops.logical_xor(o, self)

    def __iadd__(self, o):
        return ops.add(self, o, out=self)

    def __isub__(self, o):
        return ops.sub(self, o, out=self)

    def __imul__(self, o):
        return ops.mul(self, o, out=self)

    def __itruediv__(self, o):
        return ops.div(self, o, out=self)

    __hash__ = None  # mutable, and == is element-wise


# ---- view arithmetic (no device work) ----------------------------------------------------------


def resolve_shape(shape: tuple, size: int) -> tuple:
    """`shape` with its -1 (at most one) replaced so that the product is `size`."""
    shape = tuple(operator.index(n) for n in shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    known = math.prod(n for n in shape if n != -1)
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = shape[: unknown[0]] + (size // known,) + shape[unknown[0] + 1 :]
    if math.prod(shape) != size or any(n < 0 for n in shape):
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def reshape_strides(shape: tuple, strides: tuple, new_shape: tuple) -> tuple | None:
    """Strides that present an array of (shape, strides) as new_shape without copying, or None
    when its memory layout does not allow it (NumPy's _attempt_nocopy_reshape)."""
    if math.prod(shape) == 0:
        return contiguous_strides(new_shape)
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    oi, oj, ni, nj = 0, 1, 0, 1
    while ni < len(new_shape) and oi < len(old):
        np_, op = new_shape[ni], old[oi][0]
        while np_ != op:
            if np_ < op:
                np_ *= new_shape[nj]
                nj += 1
            else:
                op *= old[oj][0]
                oj += 1
        for ok in range(oi, oj - 1):
            if old[ok][1] != old[ok + 1][0] * old[ok + 1][1]:
                return None
        new_strides[nj - 1] = old[oj - 1][1]
        for nk in range(nj - 1, ni, -1):
            new_strides[nk - 1] = new_strides[nk] * new_shape[nk]
        ni, nj, oi, oj = nj, nj + 1, oj, oj + 1
    last = new_strides[ni - 1] if ni >= 1 else 1
    for nk in range(ni, len(new_shape)):
        new_strides[nk] = last
    return tuple(new_strides)


def broadcast_view(a: CudaArray, shape: tuple) -> CudaArray:
    """a broadcast to `shape` (a view with stride 0 along the broadcast dims)."""
    shape = tuple(shape)
    if a.shape == shape:
        return a
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(f"cannot broadcast an array of shape {a.shape} to {shape}")
    strides = [0] * lead
    for i, (n, s) in enumerate(zip(a.shape, a._strides)):
        target = shape[lead + i]
        if n == target:
            strides.append(s)
        elif n == 1:
            strides.append(0)
        else:
            raise ValueError(
                f"operands could not be broadcast together: shape {a.shape} to {shape}"
            )
    return a._view(a._offset, shape, tuple(strides))


from ember.backends import cuda as ops  # noqa: E402  (the ops module imports this one first)
