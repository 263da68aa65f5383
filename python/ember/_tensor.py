"""ember.Tensor: an array on a device plus its place on the autograd tape.

A tensor holds four things: `_data` (the backend's array: a numpy.ndarray on the CPU),
`_device`, `_edge` and `grad`. `_edge` is None for a tensor that does not require grad,
`(AccumulateGrad, 0)` for a leaf that does, and `(grad_fn, output index)` for an op's result;
requires_grad, grad_fn and is_leaf are read from it.

Ops live in ember/_ops_*.py as functions; the same function is `ember.exp(t)` and `t.exp()`
(they are attached as methods at the bottom of this file).
"""

from __future__ import annotations

import weakref

from ember import _dtype
from ember._device import CPU, as_device
from ember._device import device as _Device
from ember.backends import backend_for

_NUMPY_GRAD_ERROR = (
    "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
)


class Tensor:
    """A multi-dimensional array with PyTorch's API and reverse-mode autograd.

    `ember.Tensor(t)` shares t's storage (detached, as nn.Parameter needs); `ember.Tensor(data)`
    copies any other array-like into a float32 tensor, like torch.Tensor. Prefer ember.tensor.
    """

    __slots__ = ("__weakref__", "_data", "_device", "_edge", "grad")
    # `ndarray + tensor` must reach Tensor.__radd__ rather than NumPy's element-wise loop.
    __array_ufunc__ = None
    __hash__ = object.__hash__  # __eq__ is element-wise; identity hashing keeps sets/dicts working

    def __init__(self, data=(), *, device=None, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            self._data = data._data
            self._device = data._device
        else:
            self._device = as_device(device)
            self._data = backend_for(self._device).from_data(data, _dtype.DEFAULT_FLOAT)
        self.grad = None
        self._edge = None
        if requires_grad:
            self.requires_grad_(True)

    # ---- what it is ---------------------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """This tensor's storage as a tensor outside the graph (setting it swaps the storage)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._device = value._device

    @property
    def shape(self) -> tuple:
        return self._data.shape

    def size(self, dim: int | None = None):
        shape = self._data.shape
        return shape if dim is None else shape[dim]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return self._device.backend.is_contiguous(self._data)

    # ---- autograd -----------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._edge is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self._edge is None:
            if self._data.dtype.kind != "f":
                raise RuntimeError(
                    "only Tensors of floating point dtype can require gradients "
                    f"(got {self._data.dtype})"
                )
            self._edge = (AccumulateGrad(self), 0)
        elif not requires_grad:
            self._edge = None
        return self

    @property
    def grad_fn(self):
        edge = self._edge
        if edge is None or edge[0].__class__ is AccumulateGrad:
            return None
        return edge[0]

    @property
    def is_leaf(self) -> bool:
        edge = self._edge
        return edge is None or edge[0].__class__ is AccumulateGrad

    def backward(
        self, gradient=None, retain_graph: bool | None = None, create_graph=False, inputs=None
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`. `gradient` (same shape as self)
        is the vector of the vector-Jacobian product; it may be omitted for one-element tensors.
        With `inputs`, only those tensors' .grad are accumulated."""
        edge = self._edge
        if edge is not None and inputs is None and not create_graph:
            # The common call, checked inline; anything else goes through autograd.backward.
            data = self._data
            seed = None
            if gradient is None:
                if data.size == 1:
                    seed = self._device.backend.ones(data.shape, data.dtype)
            elif gradient.__class__ is Tensor:
                g = gradient._data
                if g.shape == data.shape and g.dtype is data.dtype:
                    seed = g
            if seed is not None:
                _run_backward((edge,), (seed,), bool(retain_graph))
                return
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """The same storage, outside the graph."""
        return _wrap(self._data, self._device)

    def detach_(self) -> Tensor:
        self._edge = None
        return self

    def register_hook(self, hook):
        """Call hook(grad) whenever this tensor's gradient is computed (before it is accumulated
        into a leaf's .grad); a Tensor returned by the hook replaces the gradient. Returns a
        handle whose remove() unregisters it."""
        return _register_hook(self, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in .grad (accumulated, as for leaves)."""
        if self._edge is None:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self.retains_grad:
            return
        self.register_hook(_GradRetainer(self))

    @property
    def retains_grad(self) -> bool:
        edge = self._edge
        if edge is None or self.is_leaf or edge[0]._hooks is None:
            return False
        return any(nr == edge[1] and type(h) is _GradRetainer for nr, h, _ in edge[0]._hooks)

    # ---- conversion ---------------------------------------------------------------------------

    def numpy(self, *, force: bool = False):
        """The underlying array, without a copy (CPU). force=True detaches (and copies to host)."""
        if not force:
            if self._edge is not None:
                raise RuntimeError(_NUMPY_GRAD_ERROR)
            if self._device.type != "cpu":
                raise TypeError(
                    f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
        return self._device.backend.to_host(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def item(self):
        data = self._data
        if data.size != 1:
            raise RuntimeError(f"a Tensor with {data.size} elements cannot be converted to Scalar")
        return data.item()

    def tolist(self):
        return self._device.backend.to_host(self._data).tolist()

    def to(self, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False):
        """to(dtype), to(device), to(device, dtype), to(other_tensor); returns self when nothing
        changes (unless copy=True). Dtype changes are differentiable."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, _Device)):
                device = a
            else:
                dtype = a
        result = self
        if device is not None:
            dev = as_device(device)
            backend_for(dev)  # raises for a device this build has no backend for
            if dev is not self._device:
                result = _ops_shape.to_device(result, dev)
        if dtype is not None:
            dt = _dtype.as_dtype(dtype)
            if dt != self._data.dtype:
                result = _ops_shape.cast(result, dt)
        if copy and result is self:
            result = result.clone()
        return result

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        return self.to("cuda" if device is None else device)

    def float(self) -> Tensor:
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        return self.to(_dtype.float16)

    def long(self) -> Tensor:
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        return self.to(_dtype.int32)

    def bool(self) -> Tensor:
        return self.to(_dtype.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    # ---- in place (see _ops_inplace.py for what "in place" means inside a graph) --------------

    def zero_(self) -> Tensor:
        return _ops_inplace.fill_(self, 0)

    def fill_(self, value) -> Tensor:
        return _ops_inplace.fill_(self, value)

    def copy_(self, src) -> Tensor:
        return _ops_inplace.copy_(self, src)

    # ---- Python protocol ----------------------------------------------------------------------

    def __repr__(self) -> str:
        from ember._format import format_tensor

        return format_tensor(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __len__(self) -> int:
        shape = self._data.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __iter__(self):
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __reduce__(self):
        return (
            _rebuild,
            (self._device.backend.to_host(self._data), str(self._device), self.requires_grad),
        )

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment"
            )
        new = type(self).__new__(type(self))
        new._data = self._data.copy()
        new._device = self._device
        new._edge = None
        new.grad = None if self.grad is None else self.grad.__deepcopy__(memo)
        if self.requires_grad:
            new.requires_grad_(True)
        memo[id(self)] = new
        return new


_new_tensor = object.__new__


class _GradRetainer:
    """The hook behind retain_grad: accumulates the gradient into the tensor's .grad. It holds
    the tensor weakly, so a graph node never keeps its output alive."""

    def __init__(self, tensor: Tensor) -> None:
        self._tensor = weakref.ref(tensor)

    def __call__(self, grad: Tensor) -> None:
        t = self._tensor()
        if t is None:
            return
        backend = t._device.backend
        if t.grad is None:
            t.grad = _wrap(backend.copy(grad._data), t._device)
        else:
            backend.add(t.grad._data, grad._data, out=t.grad._data)


def _wrap(array, device=CPU) -> Tensor:
    """A tensor (no grad) around `array`, without copying."""
    t = _new_tensor(Tensor)
    t._data = array
    t._device = device
    t.grad = None
    t._edge = None
    return t


def _rebuild(array, device: str, requires_grad: bool) -> Tensor:
    t = _wrap(array, as_device(device))
    return t.requires_grad_(True) if requires_grad else t


backend_for(CPU)  # bind the CPU backend now: Function.apply reads device.backend directly

# These modules import Tensor from here, so they load after the class exists.
from ember import _ops_elementwise as _ew
from ember import _ops_inplace, _ops_shape
from ember import _ops_linalg as _la
from ember import _ops_reduce as _red
from ember.autograd import backward as _autograd_backward
from ember.autograd.engine import run_backward as _run_backward
from ember.autograd.function import AccumulateGrad
from ember.autograd.function import register_hook as _register_hook

# ---- ops as methods ---------------------------------------------------------------------------
for _module in (_ew, _red, _ops_shape, _la, _ops_inplace):
    for _name, _fn in _module.METHODS.items():
        setattr(Tensor, _name, _fn)
del _module, _name, _fn
