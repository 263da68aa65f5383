"""Activations: element-wise ones and (log-)softmax along any dimension.

relu, sigmoid and tanh are ember's tensor ops (ember.relu is nn.functional.relu). The native
softmax kernels work on the last axis; another `dim` is moved last (one copy) around the kernel.
"""

from __future__ import annotations

import warnings

from ember._ops_elementwise import relu as _relu
from ember._ops_elementwise import sigmoid as _sigmoid
from ember._ops_elementwise import tanh as _tanh
from ember.autograd.function import Function
from ember.nn.functional._common import float_operands, require_tensor


def _floating(op: str, x):
    require_tensor(op, "input", x)
    if x._data.dtype.kind != "f":
        (x,) = float_operands(op, input=x)
    return x


class LeakyRelu(Function):
    __slots__ = ("negative_slope",)

    @staticmethod
    def forward(ctx, x, negative_slope):
        B = ctx.backend
        x = B.contiguous(x)
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return B.leaky_relu_forward(x, negative_slope)

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        (x,) = ctx.saved_tensors
        return B.leaky_relu_backward(B.contiguous(dy), x, ctx.negative_slope), None


class Gelu(Function):
    __slots__ = ("tanh",)

    @staticmethod
    def forward(ctx, x, tanh):
        B = ctx.backend
        x = B.contiguous(x)
        ctx.save_for_backward(x)
        ctx.tanh = tanh
        return B.gelu_forward(x, tanh)

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        (x,) = ctx.saved_tensors
        return B.gelu_backward(B.contiguous(dy), x, ctx.tanh), None


class _SoftmaxBase(Function):
    """y = kernel(x) along `dim`; the kernels' backward needs only y. A 0-d input is treated as
    a 1-element vector."""

    __slots__ = ("dim", "shape")
    kernel = backward_kernel = ""

    @classmethod
    def forward(cls, ctx, x, dim):
        B = ctx.backend
        ctx.shape = x.shape
        if x.ndim == 0:
            x = x.reshape(1)
        last = dim == x.ndim - 1
        ctx.dim = None if last else dim
        y = getattr(B, cls.kernel)(B.contiguous(x if last else B.moveaxis(x, dim, -1)))
        ctx.save_for_backward(y)
        if not last:
            y = B.moveaxis(y, -1, dim)
        return y.reshape(ctx.shape)

    @classmethod
    def backward(cls, ctx, dy):
        (y,) = ctx.saved_tensors
        B = ctx.backend
        dim = ctx.dim
        dy = dy.reshape(y.shape) if dim is None else B.moveaxis(dy, dim, -1)
        dx = getattr(B, cls.backward_kernel)(B.contiguous(dy), y)
        if dim is not None:
            dx = B.moveaxis(dx, -1, dim)
        return dx.reshape(ctx.shape), None


class Softmax(_SoftmaxBase):
    __slots__ = ()
    kernel, backward_kernel = "softmax_forward", "softmax_backward"


class LogSoftmax(_SoftmaxBase):
    __slots__ = ()
    kernel, backward_kernel = "log_softmax_forward", "log_softmax_backward"


def _softmax_dim(op: str, x, dim) -> int:
    ndim = x.ndim
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
            "dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        return 0 if ndim in (0, 1, 3) else 1
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"[{op}] dim {dim} is out of range for a {ndim}-d tensor of shape {tuple(x.shape)}"
        )
    return dim % rank


def relu(input, inplace: bool = False):
    """max(x, 0). `inplace` is accepted for torch compatibility; the result is always new."""
    return _relu(input)


def sigmoid(input):
    return _sigmoid(input)


def tanh(input):
    return _tanh(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x."""
    return LeakyRelu.apply(_floating("leaky_relu", input), float(negative_slope))


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (Phi the standard normal CDF); approximate='tanh' uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"[gelu] approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(_floating("gelu", input), approximate == "tanh")


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x - max) / sum(exp(x - max)) along `dim`. With dtype, the input is cast first."""
    input = _floating("softmax", input if dtype is None else input.to(dtype))
    return Softmax.apply(input, _softmax_dim("softmax", input, dim))


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - max - log(sum(exp(x - max))) along `dim`. With dtype, the input is cast first."""
    input = _floating("log_softmax", input if dtype is None else input.to(dtype))
    return LogSoftmax.apply(input, _softmax_dim("log_softmax", input, dim))
