"""Element-wise losses (input and target of one shape), with torch's semantics: mse_loss,
binary_cross_entropy and binary_cross_entropy_with_logits, each a fused native kernel pair.
reduction: 'mean' (default), 'sum' or 'none' (per element).
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.nn.functional._common import (
    check_reduction,
    float_operands,
    legacy_reduction,
    require_tensor,
)


def _dout_per_element(dout, reduction: str, numel: int):
    """The upstream gradient of each element's loss (broadcastable to the input)."""
    if reduction == "none":
        return dout
    return dout / numel if reduction == "mean" else dout


class Mse(Function):
    __slots__ = ("reduction",)

    @staticmethod
    def forward(ctx, x, target, reduction):
        B = ctx.backend
        x, target = B.contiguous(x), B.contiguous(target)
        ctx.save_for_backward(x, target)
        ctx.reduction = reduction
        return B.mse_forward(x, target, reduction)

    @staticmethod
    def backward(ctx, dout):
        B = ctx.backend
        x, target = ctx.saved_tensors
        dx = B.mse_backward(B.contiguous(dout), x, target, ctx.reduction)
        ex, et = ctx._edges[:2]
        return (dx if ex is not None else None), (-dx if et is not None else None), None


class Bce(Function):
    __slots__ = ("reduction",)

    @staticmethod
    def forward(ctx, p, target, reduction):
        B = ctx.backend
        p, target = B.contiguous(p), B.contiguous(target)
        ctx.save_for_backward(p, target)
        ctx.reduction = reduction
        return B.bce_forward(p, target, reduction)

    @staticmethod
    def backward(ctx, dout):
        B = ctx.backend
        p, target = ctx.saved_tensors
        ep, et = ctx._edges[:2]
        dp = (
            B.bce_backward(B.contiguous(dout), p, target, ctx.reduction) if ep is not None else None
        )
        dt = None
        if et is not None:
            # d/dt of -(t log p + (1 - t) log(1 - p)), with torch's clamp of the logs at -100.
            log_p = B.maximum(B.log(p), -100.0)
            log_1mp = B.maximum(B.log(1.0 - p), -100.0)
            dt = _dout_per_element(dout, ctx.reduction, p.size) * (log_1mp - log_p)
        return dp, dt, None


class BceWithLogits(Function):
    __slots__ = ("reduction",)

    @staticmethod
    def forward(ctx, x, target, reduction, pos_weight):
        B = ctx.backend
        x, target = B.contiguous(x), B.contiguous(target)
        if pos_weight is not None:
            pos_weight = B.contiguous(pos_weight)
        ctx.save_for_backward(x, target, pos_weight)
        ctx.reduction = reduction
        return B.bce_with_logits_forward(x, target, reduction, pos_weight)

    @staticmethod
    def backward(ctx, dout):
        B = ctx.backend
        x, target, pos_weight = ctx.saved_tensors
        ex, et, _, epw = ctx._edges
        if epw is not None:
            raise NotImplementedError(
                "binary_cross_entropy_with_logits: the gradient with "
                "respect to pos_weight is not implemented"
            )
        dx = (
            B.bce_with_logits_backward(B.contiguous(dout), x, target, ctx.reduction, pos_weight)
            if ex is not None
            else None
        )
        dt = None
        if et is not None:
            # loss = (1 - t) x + (1 + (pw - 1) t) softplus(-x): d/dt = -x + (pw - 1) softplus(-x).
            dt = -x
            if pos_weight is not None:
                softplus = B.maximum(-x, 0.0) + B.log(1.0 + B.exp(-B.abs(x)))
                dt = dt + (pos_weight - 1.0) * softplus
            dt = _dout_per_element(dout, ctx.reduction, x.size) * dt
        return dx, dt, None, None


def _pair_operands(op: str, input, target, reduction: str, size_average, reduce):
    """input and target of one float dtype and one shape."""
    legacy_reduction(op, size_average, reduce)
    check_reduction(op, reduction)
    require_tensor(op, "input", input)
    require_tensor(op, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"[{op}] target size {tuple(target.shape)} must be the same as input "
            f"size {tuple(input.shape)}"
        )
    dt = input._data.dtype
    if dt.kind != "f" or target._data.dtype is not dt:
        input, target = float_operands(op, input=input, target=target)
    return input, target


def _weighted(op: str, losses, weight, reduction: str):
    """Apply an element weight (broadcast against the per-element losses), then reduce."""
    require_tensor(op, "weight", weight)
    losses = losses * weight
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """(input - target)^2, reduced. input and target must have the same shape."""
    input, target = _pair_operands("mse_loss", input, target, reduction, size_average, reduce)
    return Mse.apply(input, target, reduction)


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"
):
    """-(t log p + (1 - t) log(1 - p)) for probabilities input p in [0, 1] (each log clamped
    at -100, as torch); `weight` rescales each element's loss."""
    input, target = _pair_operands(
        "binary_cross_entropy", input, target, reduction, size_average, reduce
    )
    if weight is None:
        return Bce.apply(input, target, reduction)
    return _weighted("binary_cross_entropy", Bce.apply(input, target, "none"), weight, reduction)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight=None,
):
    """BCE of sigmoid(input) computed stably from the logits:
    loss = (1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)). pos_weight (C,) weighs the
    positive term per class (the last dimension); `weight` rescales each element's loss."""
    op = "binary_cross_entropy_with_logits"
    input, target = _pair_operands(op, input, target, reduction, size_average, reduce)
    if pos_weight is not None:
        require_tensor(op, "pos_weight", pos_weight)
        cols = input.shape[-1] if input.ndim else 1
        if pos_weight.numel() == 1 and cols != 1:
            pos_weight = pos_weight.reshape(1).expand(cols)
        if pos_weight.ndim != 1 or pos_weight.shape[0] != cols:
            raise ValueError(
                f"[{op}] expected pos_weight of shape ({cols},) (one per class, the "
                f"last dimension of input), got {tuple(pos_weight.shape)}"
            )
        if pos_weight._data.dtype is not input._data.dtype:
            pos_weight = pos_weight.to(input.dtype)
    if weight is None:
        return BceWithLogits.apply(input, target, reduction, pos_weight)
    return _weighted(op, BceWithLogits.apply(input, target, "none", pos_weight), weight, reduction)
