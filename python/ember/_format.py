"""repr() of tensors in torch's style: tensor([[1., 2.]], requires_grad=True)."""

from __future__ import annotations

import numpy as np

from ember import _dtype

# Dtypes torch leaves out of the repr: the ones a literal would produce anyway.
_IMPLIED = {_dtype.float32, _dtype.int64, _dtype.bool_}


def format_tensor(t) -> str:
    data = np.asarray(t._device.backend.to_host(t._data))
    prefix = "tensor("
    options = {
        "separator": ", ",
        "prefix": prefix,
        "threshold": 1000,
        "edgeitems": 3,
        "max_line_width": 80,
    }
    if (
        data.dtype.kind == "f"
        and data.size
        and np.isfinite(data).all()
        and (data == np.round(data)).all()
    ):
        body = np.array2string(data, **options)  # integral values print as "1."
    elif data.dtype.kind == "f":
        body = np.array2string(data, precision=4, floatmode="fixed", **options)
    else:
        body = np.array2string(data, **options)
    parts = [body]
    if data.size == 0 and data.ndim != 1:
        parts.append(f"size={tuple(data.shape)}")
    if data.dtype not in _IMPLIED:
        parts.append(f"dtype=ember.{data.dtype}")
    if t._device.type != "cpu":
        parts.append(f"device='{t._device}'")
    grad_fn = t.grad_fn
    if grad_fn is not None:
        parts.append(f"grad_fn=<{grad_fn.name()}>")
    elif t.requires_grad:
        parts.append("requires_grad=True")
    return prefix + ", ".join(parts) + ")"
