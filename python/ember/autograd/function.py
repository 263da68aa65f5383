"""The tape: nodes that ops record as the program runs, and `Function`, the one way to add an op.

Each differentiable op's output holds its Node (its `grad_fn`) through an *edge* `(node, i)`,
"output i of node". A node holds the edges of its inputs, never its outputs, so the graph is a
DAG owned by the tensors that come out of it and is freed by reference counting alone. A leaf
that requires grad owns an AccumulateGrad node, which refers back to the leaf only weakly.

Writing an op (ctx is the op's node; see ember/_ops_*.py for many examples):

    class Relu(Function):
        @staticmethod
        def forward(ctx, x):                  # arrays in, array(s) out
            ctx.save_for_backward(x)
            return ctx.backend.relu_forward(x)

        @staticmethod
        def backward(ctx, dy):                # one gradient per output
            (x,) = ctx.saved_tensors
            return ctx.backend.relu_backward(dy, x)   # one gradient (or None) per forward arg

    y = Relu.apply(x)

Unlike torch, forward and backward receive the backend's raw arrays (numpy.ndarray on the CPU),
not Tensors: an op is a pair of kernels and the tape only records Function nodes. Tensor
arguments arrive as arrays, everything else as given; `ctx.backend` is the module implementing
ops for the inputs' device. The cost: no higher-order gradients (no create_graph).

The rules an op follows:
- all tensor arguments are on one device (apply checks); bring them to one dtype before apply,
  on Tensors with the differentiable `.to(dtype)`, so each gradient returns in its input's dtype;
- native kernels take C-contiguous arrays: pass `ctx.backend.contiguous(x)` where views may
  arrive (transposes, slices, the broadcast gradients of sum/mean/expand);
- keep arrays for backward with save_for_backward (they are freed after backward); other
  attributes (`ctx.axis = 1`) are kept with the node;
- backward returns one gradient per forward argument, of that argument's shape (None for
  non-tensors and where `ctx.needs_input_grad[i]` is False); it may return the incoming
  gradient itself but must not modify it in place (it may be a caller's array or a read-only
  view); gradients reaching the same tensor are summed by the engine.
"""

from __future__ import annotations

import weakref

from ember._tensor import Tensor
from ember.autograd.grad_mode import STATE

_new_tensor = object.__new__
_NO_EDGES = tuple((None,) * n for n in range(16))

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class Node:
    """A step of the tape. `_edges[i]` is the (node, output index) that produced forward input i,
    or None when that input needs no gradient. `_saved` is None once backward freed it.
    `_out_meta` is None for single-output nodes, else ((shape, dtype), ...) per output.
    `_hooks` is None or a list of (output index, hook, device) from Tensor.register_hook."""

    __slots__ = ("__weakref__", "_edges", "_hooks", "_out_meta", "_saved")

    # True on ops whose backward returns only new arrays, each to one edge, that nothing else
    # references (a native kernel's outputs): a leaf reached by one may keep it as its .grad
    # instead of copying it. Copying the weights' first gradient cost ~5% of an MLP step.
    fresh_gradients = False

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    @property
    def next_functions(self) -> tuple:
        return tuple((None, 0) if e is None else e for e in self._edges)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds the gradient that reaches it into `leaf.grad`
    (in place after the first time, so optimizers may hold on to `.grad`)."""

    __slots__ = ("_variable",)

    def __init__(self, variable: Tensor) -> None:
        self._variable = weakref.ref(variable)
        self._edges = ()
        self._saved = ()
        self._out_meta = None
        self._hooks = None

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def variable(self) -> Tensor | None:
        return self._variable()

    def accumulate(self, g, adopt: bool = False) -> None:
        """Add g into leaf.grad. With `adopt` (g is a fresh array nobody else holds, see
        Node.fresh_gradients) the first gradient becomes .grad itself."""
        leaf = self._variable()
        if leaf is None:  # the leaf was deleted while its graph lived on: nobody can see .grad
            return
        if self._hooks is not None:
            g = run_hooks(self._hooks, g)
        data = leaf._data
        if g.shape != data.shape:
            raise RuntimeError(
                f"a gradient of shape {g.shape} reached a leaf of shape {data.shape}: an op's "
                "backward returned a gradient of the wrong shape"
            )
        grad = leaf.grad
        if grad is None:
            backend = leaf._device.backend
            if not (
                adopt
                and self._hooks is None
                and g.dtype is data.dtype
                and backend.contiguous(g) is g
            ):
                g = backend.copy(g, data.dtype)
            leaf.grad = _wrap(g, leaf._device)
        else:
            grad = grad._data
            leaf._device.backend.add(grad, g, out=grad)


class Function(Node):
    """Base class of differentiable ops: subclass, define static `forward(ctx, *args)` and
    `backward(ctx, *grads)`, call `YourFunction.apply(*args)`. See the module docstring.

    ctx API: `save_for_backward(*arrays)`, `saved_tensors`, `needs_input_grad` (one bool per
    forward arg), `backend` (the ops module of the inputs' device). Other attributes may be set
    freely (`ctx.axis = 1`); built-in ops declare them in __slots__ to skip a per-call dict.
    Outputs of an integer/bool dtype never require grad. Subclasses must not define __init__.
    """

    __slots__ = ("backend",)

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            f"{type(ctx).__name__} has no backward: gradients cannot flow through it "
            "(compute it on detached tensors or under ember.no_grad())"
        )

    def save_for_backward(self, *arrays) -> None:
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        return saved

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(e is not None for e in self._edges)

    @classmethod
    def apply(cls, *args):
        ctx = cls()
        raw = []
        edges = []
        device = None
        requires_grad = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                e = a._edge
                edges.append(e)
                if e is not None:
                    requires_grad = True
                if a._device is not device:
                    if device is not None:
                        raise _mixed_devices(cls, device, a._device)
                    device = a._device
            else:
                raw.append(a)
                edges.append(None)
        if device is None:
            raise TypeError(f"{cls.__name__}.apply: expected at least one Tensor argument")
        record = requires_grad and STATE.enabled
        if record:
            ctx._edges = tuple(edges)
        else:
            n = len(edges)
            ctx._edges = _NO_EDGES[n] if n < 16 else (None,) * n
        ctx._saved = ()
        ctx._out_meta = None
        ctx._hooks = None
        backend = ctx.backend = device.backend
        out = cls.forward(ctx, *raw)
        if out.__class__ is not backend.array_type:
            if out.__class__ is tuple:
                return _wrap_outputs(ctx, out, device, record)
            out = backend.asarray(out)  # NumPy returns scalars for 0-d results
        t = _new_tensor(Tensor)
        t._data = out
        t._device = device
        t.grad = None
        t._edge = (ctx, 0) if record and out.dtype.kind == "f" else None
        return t


def _wrap(array, device) -> Tensor:
    """A leaf tensor (no grad) around `array` on `device`."""
    t = _new_tensor(Tensor)
    t._data = array
    t._device = device
    t.grad = None
    t._edge = None
    return t


def _wrap_outputs(ctx: Function, outs: tuple, device, record: bool) -> tuple:
    backend = ctx.backend
    results = []
    for i, y in enumerate(outs):
        if type(y) is not backend.array_type:
            y = backend.asarray(y)
        t = _wrap(y, device)
        if record and y.dtype.kind == "f":
            t._edge = (ctx, i)
        results.append(t)
    if record:
        ctx._out_meta = tuple((t._data.shape, t._data.dtype) for t in results)
    return tuple(results)


def _mixed_devices(cls, a, b) -> RuntimeError:
    return RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, "
        f"{a} and {b} (in {cls.__name__})"
    )


# ---- gradient hooks ---------------------------------------------------------------------------


class RemovableHandle:
    """What register_hook returns: handle.remove() unregisters the hook."""

    def __init__(self, node: Node, entry: tuple) -> None:
        self._node, self._entry = weakref.ref(node), entry

    def remove(self) -> None:
        node = self._node()
        if node is not None and node._hooks is not None and self._entry in node._hooks:
            node._hooks.remove(self._entry)
            if not node._hooks:
                node._hooks = None


def register_hook(tensor: Tensor, hook) -> RemovableHandle:
    """Call hook(grad) each time the gradient of `tensor` is computed; a Tensor it returns
    replaces the gradient."""
    if tensor._edge is None:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node, nr = tensor._edge
    entry = (nr, hook, tensor._device)
    node._hooks = [*(node._hooks or ()), entry]
    return RemovableHandle(node, entry)


def run_hooks(hooks: list, grads, output_nr: int | None = None):
    """Apply the hooks of one output (output_nr None: a single-output node) to its gradient."""
    for nr, hook, device in hooks:
        if output_nr is not None and nr != output_nr:
            continue
        replaced = hook(_wrap(grads, device))
        if replaced is not None:
            grads = replaced._data
    return grads
