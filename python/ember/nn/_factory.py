"""Allocation of a module's parameters and buffers (torch's device= and dtype= arguments)."""

from __future__ import annotations

from ember import _dtype
from ember._device import as_device
from ember._tensor import Tensor, _wrap
from ember.backends import backend_for
from ember.nn.parameter import Parameter


def new_tensor(fill: str, shape: tuple, device=None, dtype=None) -> Tensor:
    """A tensor of `shape` from the device's backend: fill is 'empty', 'zeros' or 'ones'."""
    dt = _dtype.DEFAULT_FLOAT if dtype is None else _dtype.as_dtype(dtype)
    dev = as_device(device)
    return _wrap(getattr(backend_for(dev), fill)(shape, dt), dev)


def empty_parameter(shape: tuple, device=None, dtype=None) -> Parameter:
    """An uninitialised parameter; the module's reset_parameters fills it."""
    return Parameter(new_tensor("empty", shape, device, dtype))
