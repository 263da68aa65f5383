"""Backends: one module per device type, holding that device's implementation of every op on
raw arrays. Autograd Functions never compute directly; they call `ctx.backend.<op>(...)`, so a
new device (CUDA) is a new module with the same names, and no Function changes.

A backend module provides the names ember.backends.cpu defines, among them `to_host(array)`
(-> numpy.ndarray) and `from_host(ndarray)` (-> the backend's array), through which tensors move
between devices. It may define `check_device(device)`, called once before a device's first use,
to raise RuntimeError for a device that cannot be used (no GPU, index out of range).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ember._device import device

_MODULES = {"cpu": "ember.backends.cpu", "cuda": "ember.backends.cuda"}

# Every name ember's Tensor layer and autograd call on a backend (see cpu.py for their meaning).
# A new backend defines all of them; nn.functional's kernels come on top.
OPS = (
    "array_type", "asarray", "is_contiguous", "contiguous", "to_host", "from_host",
    "from_data", "astype", "copy", "copy_into", "empty", "zeros", "ones", "full", "arange",
    "linspace", "eye",
    "add", "sub", "mul", "div", "floor_divide", "remainder", "neg", "pow", "exp", "log", "sqrt",
    "abs", "sign", "maximum", "minimum", "where", "clip", "clamp_mask", "eq", "ne", "lt", "le",
    "gt", "ge", "logical_and", "logical_or", "logical_xor", "invert", "isnan", "isfinite",
    "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward",
    "tanh_backward",
    "sum", "mean", "amax", "amin", "argmax", "argmin", "take_along_axis", "sum_to", "unreduce",
    "scatter_along_axis",
    "reshape", "view", "permute", "swapaxes", "expand_dims", "broadcast_to", "concatenate",
    "stack", "split", "moveaxis", "index", "index_backward", "setitem",
    "matmul", "matmul_backward",
)  # fmt: skip


def backend_for(dev: device) -> ModuleType:
    """The backend module of `dev` (imported, checked and bound to the device on first use)."""
    backend = dev.backend
    if backend is None:
        name = _MODULES[dev.type]
        try:
            backend = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            raise RuntimeError(
                f"ember was built without {dev.type.upper()} support: there is no backend for "
                f"device '{dev}' (available: {', '.join(available())})"
            ) from None
        check = getattr(backend, "check_device", None)
        if check is not None:
            check(dev)
        dev.backend = backend
    return backend


def available() -> list[str]:
    """Device types this build of ember can compute on (CUDA only when compiled in)."""
    from ember import cuda

    return [t for t in _MODULES if t != "cuda" or cuda.is_built()]
