"""linear: y = x @ weight.T + bias, one native GEMM call each way."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.nn.functional._common import float_operands


class Linear(Function):
    """x (*, in), weight (out, in), bias (out,) or None -> y (*, out). Leading dimensions of x
    are folded into one batch dimension for the kernel."""

    __slots__ = ()
    fresh_gradients = True  # native kernel outputs

    @staticmethod
    def forward(ctx, x, weight, bias):
        # Shapes are checked by the kernel's binding ("[linear] weight: expected ..."): this is
        # the hottest op of small models, so no second check here.
        B = ctx.backend
        shape = x.shape
        if len(shape) != 2:
            if not shape:
                raise ValueError("[linear] expected input of shape (*, in_features), got 0-d")
            x = x.reshape(-1, shape[-1])
        x, weight = B.contiguous(x), B.contiguous(weight)
        ctx.save_for_backward(x, weight)
        y = B.linear_forward(x, weight, None if bias is None else B.contiguous(bias))
        return y if len(shape) == 2 else y.reshape(shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        x, weight = ctx.saved_tensors
        ex, ew, eb = ctx._edges
        shape = dy.shape
        if len(shape) != 2:
            dy = dy.reshape(-1, weight.shape[0])
        dx, dweight, dbias = B.linear_backward(
            B.contiguous(dy), x, weight, ex is not None, ew is not None, eb is not None
        )
        if dx is not None and len(shape) != 2:
            dx = dx.reshape(shape[:-1] + (weight.shape[1],))
        return dx, dweight, dbias


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias for input (*, in_features), weight (out_features,
    in_features), bias (out_features,)."""
    try:
        dt = weight._data.dtype
        same = input._data.dtype is dt and (bias is None or bias._data.dtype is dt)
    except AttributeError:
        same = False
    if not same or dt.kind != "f":
        input, weight, bias = float_operands("linear", input=input, weight=weight, bias=bias)
    return Linear.apply(input, weight, bias)
