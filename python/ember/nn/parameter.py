"""nn.Parameter: a Tensor that a Module registers as one of its trainable parameters."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._device import CPU, as_device
from ember._tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad (by default) and is registered by `Module.__setattr__`.

    `Parameter(t)` shares t's storage, as torch's does; any other array-like is copied (float
    arrays keep their dtype, others become float32).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            self._data = data._data
            self._device = data._device
        else:
            array = np.zeros(0, _dtype.DEFAULT_FLOAT) if data is None else np.array(data)
            if array.dtype.kind != "f":
                array = array.astype(_dtype.DEFAULT_FLOAT)
            self._data = array
            self._device = CPU
        self.grad = None
        self._edge = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        host = self._device.backend.to_host(self._data)
        return (_rebuild_parameter, (host, str(self._device), self.requires_grad))


def _rebuild_parameter(array, device: str, requires_grad: bool) -> Parameter:
    # Unpickled arrays carry a fresh dtype object equal to, but not the same as, NumPy's
    # canonical one, and the native kernels test dtype identity: view with the canonical one.
    if array.dtype.isnative:
        array = array.view(array.dtype.type)
    p = Parameter(None, requires_grad=False)
    p._data = array
    p._device = as_device(device)
    return p.requires_grad_(True) if requires_grad else p
