"""Where a tensor's memory lives. Every Tensor carries one; each device type maps to a backend
module (ember.backends) holding that device's array implementation of every op.

Devices are interned: ember.device('cpu') is ember.device('cpu'), so the per-op check that all
inputs share a device is an identity test.
"""

from __future__ import annotations

from typing import ClassVar


class device:
    """ember.device('cpu'), ember.device('cuda', 0) or ember.device('cuda:0'), as in torch."""

    __slots__ = ("__weakref__", "backend", "index", "type")
    _interned: ClassVar[dict] = {}

    def __new__(cls, type_or_device="cpu", index=None):
        if isinstance(type_or_device, device):
            if index is not None:
                raise ValueError("device(): index given twice")
            return type_or_device
        if not isinstance(type_or_device, str):
            raise TypeError(
                f"device(): expected a string or an ember.device, got {type_or_device!r}"
            )
        kind, _, idx = type_or_device.partition(":")
        if idx:
            if index is not None:
                raise ValueError(f"device(): index given twice in {type_or_device!r}")
            if not idx.isdigit():
                raise ValueError(f"device(): invalid device string {type_or_device!r}")
            index = int(idx)
        if kind not in ("cpu", "cuda"):
            raise ValueError(
                f"device(): expected a device type ('cpu' or 'cuda'), got {type_or_device!r}"
            )
        if kind == "cpu":
            index = None  # one host memory: 'cpu' and 'cpu:0' are the same device
        key = (kind, index)
        dev = cls._interned.get(key)
        if dev is None:
            dev = object.__new__(cls)
            dev.type, dev.index = kind, index
            dev.backend = None  # bound by ember.backends when first used
            cls._interned[key] = dev
        return dev

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return self is other

    # Interned, so identity is equality: the C-level identity hash (dicts keyed by device, e.g.
    # the optimizers' per-device batches, skip a Python call).
    __hash__ = object.__hash__

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")


def as_device(dev) -> device:
    """Where a tensor goes: None -> cpu; 'cuda' without an index -> the current CUDA device (as
    torch does), so tensors placed with 'cuda' and with 'cuda:0' share one device."""
    if dev is None:
        return CPU
    dev = device(dev)
    if dev.type == "cuda" and dev.index is None:
        from ember import cuda

        dev = device("cuda", cuda.current_device() if cuda.is_available() else 0)
    return dev
