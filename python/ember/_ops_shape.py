"""Shape and data-movement ops: reshape/view/flatten/squeeze/unsqueeze, permute/transpose,
expand, contiguous, clone, dtype casts, indexing, cat/stack/split.

Views: reshape, permute, transpose, expand and basic indexing return tensors sharing storage
with their input when the backend can (NumPy views), as torch does.
Indexing: ints, slices, None, Ellipsis, bool masks and integer arrays/tensors/lists (NumPy's
rules). The gradient of an integer-array index scatter-adds, so repeated indices accumulate.
"""

from __future__ import annotations

from ember import _dtype
from ember._tensor import Tensor, _wrap
from ember.autograd.function import Function
from ember.autograd.grad_mode import STATE
from ember.backends import backend_for


def _shape_arg(shape) -> tuple:
    """reshape(2, 3) and reshape((2, 3)) both mean (2, 3)."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dim(d: int, ndim: int, op: str) -> int:
    if not -ndim <= d < ndim:
        raise IndexError(
            f"{op}: Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
            f"but got {d})"
        )
    return d % ndim


# ---- reshaping --------------------------------------------------------------------------------


class Reshape(Function):
    __slots__ = ("in_shape",)
    op = "reshape"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return getattr(ctx.backend, ctx.op)(x, shape)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.reshape(g, ctx.in_shape), None


class View(Reshape):
    """Like Reshape, but never copies: raises when the strides do not allow a view."""

    __slots__ = ()
    op = "view"


def reshape(input: Tensor, *shape) -> Tensor:
    return Reshape.apply(input, _shape_arg(shape))


def view(input: Tensor, *shape) -> Tensor:
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        return input.to(shape[0])  # view(dtype) is a reinterpretation in torch; a cast here
    return View.apply(input, _shape_arg(shape))


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return View.apply(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return Reshape.apply(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input.shape
    if not shape:
        return Reshape.apply(input, (1,))
    start, end = _dim(start_dim, len(shape), "flatten"), _dim(end_dim, len(shape), "flatten")
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    merged = 1
    for s in shape[start : end + 1]:
        merged *= s
    return Reshape.apply(input, shape[:start] + (merged,) + shape[end + 1 :])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input.shape
    d = _dim(dim, len(shape), "unflatten")
    return Reshape.apply(input, shape[:d] + tuple(sizes) + shape[d + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = {
            _dim(d, max(len(shape), 1), "squeeze")
            for d in ((dim,) if isinstance(dim, int) else dim)
        }
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return input if new == shape else Reshape.apply(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input.shape
    d = _dim(dim, len(shape) + 1, "unsqueeze")
    return Reshape.apply(input, shape[:d] + (1,) + shape[d:])


# ---- axes -------------------------------------------------------------------------------------


class Permute(Function):
    __slots__ = ("dims",)

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return ctx.backend.permute(x, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return ctx.backend.permute(g, inverse), None


class Transpose(Function):
    __slots__ = ("d0", "d1")

    @staticmethod
    def forward(ctx, x, d0, d1):
        ctx.d0, ctx.d1 = d0, d1
        return ctx.backend.swapaxes(x, d0, d1)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.swapaxes(g, ctx.d0, ctx.d1), None, None


def permute(input: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    n = input.ndim
    if len(dims) != n:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    dims = tuple(_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute(): duplicate dims are not allowed, got {dims}")
    return Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    n = max(input.ndim, 1)
    return Transpose.apply(input, _dim(dim0, n, "transpose"), _dim(dim1, n, "transpose"))


def t(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input if input.ndim < 2 else Transpose.apply(input, 0, 1)


def _T(input: Tensor) -> Tensor:
    n = input._data.ndim
    if n == 2:
        return Transpose.apply(input, 0, 1)
    return input if n < 2 else Permute.apply(input, tuple(range(n - 1, -1, -1)))


def _mT(input: Tensor) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices")
    return Transpose.apply(input, input.ndim - 2, input.ndim - 1)


# ---- broadcasting, copies, casts --------------------------------------------------------------


class Expand(Function):
    __slots__ = ("in_shape",)

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return ctx.backend.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.sum_to(g, ctx.in_shape), None


def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view of `input` at `sizes` (-1 keeps a dim); read-only, as NumPy's."""
    sizes = _shape_arg(sizes)
    shape = input.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})"
        )
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, s in enumerate(shape):
        if s != 1 and s != target[lead + i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[lead + i]}) must match the existing "
                f"size ({s}) at non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}."
                f"  Tensor sizes: {list(shape)}"
            )
    return input if target == shape else Expand.apply(input, target)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    return expand(input, tuple(shape))


class Contiguous(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.contiguous(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Clone(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.copy(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    """A dtype conversion; the gradient is converted back to the input's dtype."""

    __slots__ = ("in_dtype",)

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return ctx.backend.astype(x, dtype)

    @staticmethod
    def backward(ctx, g):
        return ctx.backend.astype(g, ctx.in_dtype), None


class ToDevice(Function):
    """A copy to another device, through host memory; the gradient is copied back. Built by
    to_device, not apply: its output lives on a different device than its input."""

    __slots__ = ("source",)

    @staticmethod
    def backward(ctx, g):
        return ctx.source.from_host(ctx.backend.to_host(g))


def to_device(input: Tensor, dev) -> Tensor:
    source, target = input._device.backend, backend_for(dev)
    out = _wrap(target.from_host(source.to_host(input._data)), dev)
    if input._edge is not None and STATE.enabled:
        node = ToDevice()
        node._edges, node._saved, node._out_meta, node._hooks = (input._edge,), (), None, None
        node.backend, node.source = target, source
        out._edge = (node, 0)
    return out


def contiguous(input: Tensor) -> Tensor:
    return input if input._device.backend.is_contiguous(input._data) else Contiguous.apply(input)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


def cast(input: Tensor, dtype) -> Tensor:
    return Cast.apply(input, _dtype.as_dtype(dtype))


# ---- indexing ---------------------------------------------------------------------------------


class GetItem(Function):
    __slots__ = ("advanced", "in_shape", "index")

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.in_shape, ctx.index, ctx.advanced = x.shape, index, advanced
        return ctx.backend.index(x, index)

    @staticmethod
    def backward(ctx, g):
        B = ctx.backend
        return B.index_backward(g, ctx.in_shape, ctx.index, ctx.advanced), None, None


_BASIC_INDEX = frozenset((int, slice, type(None), type(Ellipsis)))


def convert_index(index, device) -> tuple:
    """(index for the backend, whether it holds arrays). Tensors and lists become arrays."""
    if index.__class__ in _BASIC_INDEX:
        return index, False
    items = index if type(index) is tuple else (index,)
    out = []
    advanced = False
    for item in items:
        if item.__class__ in _BASIC_INDEX:
            out.append(item)
            continue
        if isinstance(item, Tensor):
            if item._device is not device:
                raise RuntimeError(
                    f"indices should be on the same device as the indexed tensor ({device}), "
                    f"got {item._device}"
                )
            item = item._data
        elif isinstance(item, (list, tuple)) or hasattr(item, "__array__"):
            item = device.backend.asarray(item)
        elif isinstance(item, bool) or hasattr(item, "__index__"):
            out.append(item)
            continue
        else:
            raise IndexError(f"unsupported index {item!r} of type {type(item).__name__}")
        if item.dtype.kind not in "biu":
            raise IndexError(
                f"tensors used as indices must be long, int, byte or bool tensors, got {item.dtype}"
            )
        advanced = True
        out.append(item)
    return tuple(out), advanced


def getitem(input: Tensor, index) -> Tensor:
    index, advanced = convert_index(index, input._device)
    return GetItem.apply(input, index, advanced)


# ---- joining and splitting --------------------------------------------------------------------


class Cat(Function):
    __slots__ = ("axis", "sizes")

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis, ctx.sizes = axis, [x.shape[axis] for x in xs]
        return ctx.backend.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        offsets, total = [], 0
        for s in ctx.sizes[:-1]:
            total += s
            offsets.append(total)
        return (None, *ctx.backend.split(g, offsets, axis=ctx.axis))


class Stack(Function):
    __slots__ = ("axis", "count")

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis, ctx.count = axis, len(xs)
        return ctx.backend.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        parts = ctx.backend.moveaxis(g, ctx.axis, 0)
        return (None, *(parts[i] for i in range(ctx.count)))


def _common_dtype(tensors, op: str) -> list:
    if not tensors:
        raise ValueError(f"{op}(): expected a non-empty sequence of tensors")
    for x in tensors:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): expected a sequence of Tensors, got {type(x).__name__}")
    dt = tensors[0].dtype
    for x in tensors[1:]:
        if x.dtype != dt:
            dt = _dtype.promote(dt, x.dtype)
    return [x.to(dt) for x in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = _common_dtype(list(tensors), "cat")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    axis = _dim(dim, ndim, "cat")
    ref = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.ndim != ndim or any(a != b for j, (a, b) in enumerate(zip(x.shape, ref)) if j != axis):
            raise RuntimeError(
                f"Sizes of tensors must match except in dimension {axis}. Expected {ref} "
                f"(outside dim {axis}) but got {x.shape} for tensor number {i} in the list."
            )
    return Cat.apply(axis, *tensors)


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = _common_dtype(list(tensors), "stack")
    ref = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {ref} at entry 0 and "
                f"{x.shape} at entry {i}"
            )
    return Stack.apply(_dim(dim, len(ref) + 1, "stack"), *tensors)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of `input` along dim: of size split_size (the last may be smaller), or of the
    listed sizes."""
    d = _dim(dim, input.ndim, "split")
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise RuntimeError(f"split expects split_size be positive, but got {step}")
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
    pieces, start = [], 0
    lead = (slice(None),) * d
    for s in sizes:
        pieces.append(input[lead + (slice(start, start + s),)])
        start += s
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    n = input.shape[_dim(dim, input.ndim, "chunk")]
    return split(input, max(1, -(-n // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    d = _dim(dim, input.ndim, "unbind")
    lead = (slice(None),) * d
    return tuple(input[lead + (i,)] for i in range(input.shape[d]))


FUNCTIONS = {
    "reshape": reshape,
    "flatten": flatten,
    "unflatten": unflatten,
    "squeeze": squeeze,
    "unsqueeze": unsqueeze,
    "permute": permute,
    "transpose": transpose,
    "swapaxes": transpose,
    "swapdims": transpose,
    "t": t,
    "clone": clone,
    "cat": cat,
    "concat": cat,
    "concatenate": cat,
    "stack": stack,
    "split": split,
    "chunk": chunk,
    "unbind": unbind,
    "broadcast_to": broadcast_to,
}

METHODS = {
    **{k: v for k, v in FUNCTIONS.items() if k not in ("cat", "concat", "concatenate", "stack")},
    "view": view,
    "view_as": view_as,
    "reshape_as": reshape_as,
    "expand": expand,
    "expand_as": expand_as,
    "contiguous": contiguous,
    "__getitem__": getitem,
    "T": property(_T),
    "mT": property(_mT),
}
