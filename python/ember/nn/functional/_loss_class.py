"""Losses over class indices, with torch's semantics: cross_entropy (a fused native kernel)
and nll_loss (a gather of the target classes' log-probabilities on the backend's arrays).
reduction: 'mean' (default), 'sum' or 'none' (per element).
"""

from __future__ import annotations

from ember import _dtype
from ember.autograd.function import Function
from ember.nn.functional._activation import log_softmax
from ember.nn.functional._common import (
    check_reduction,
    float_operands,
    legacy_reduction,
    require_tensor,
)

_INT64 = _dtype.int64


def _class_layout(op: str, input, target):
    """Check input (N, C, *) or (C,) against a class-index target (N, *) or () of int64."""
    require_tensor(op, "target", target)
    if target._data.dtype is not _INT64:
        raise TypeError(
            f"[{op}] expected target of dtype int64 (class indices), got {target.dtype}"
        )
    shape, tshape = tuple(input.shape), tuple(target.shape)
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if len(shape) == 0 or tshape != expected:
        raise ValueError(
            f"[{op}] expected input (N, C, *) or (C,) with target (N, *) or (), got "
            f"input {shape} and target {tshape}"
        )


def _rows(x, B):
    """(N, C, *) or (C,) -> (rows, C) with the class axis last."""
    if x.ndim == 2:
        return B.contiguous(x)
    if x.ndim == 1:
        return x.reshape(1, -1)
    return B.contiguous(B.moveaxis(x, 1, -1).reshape(-1, x.shape[1]))


def _unrows(d, shape, B):
    """Inverse of _rows for a gradient of the input."""
    if len(shape) <= 2:
        return d.reshape(shape)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return B.moveaxis(d.reshape(moved), -1, 1)


class CrossEntropy(Function):
    __slots__ = ("shape", "reduction", "ignore_index", "label_smoothing")

    @staticmethod
    def forward(ctx, logits, target, weight, reduction, ignore_index, label_smoothing):
        B = ctx.backend
        ctx.shape = logits.shape
        ctx.reduction = reduction
        ctx.ignore_index = ignore_index
        ctx.label_smoothing = label_smoothing
        rows, t = _rows(logits, B), B.contiguous(target.reshape(-1))
        if weight is not None:
            weight = B.contiguous(weight)
        ctx.save_for_backward(rows, t, weight)
        loss = B.cross_entropy_forward(rows, t, weight, reduction, ignore_index, label_smoothing)
        return loss.reshape(target.shape) if reduction == "none" else loss

    @staticmethod
    def backward(ctx, dout):
        B = ctx.backend
        rows, t, weight = ctx.saved_tensors
        if ctx._edges[2] is not None:
            raise NotImplementedError(
                "cross_entropy: the gradient with respect to weight is not implemented"
            )
        if ctx.reduction == "none":
            dout = dout.reshape(-1)
        d = B.cross_entropy_backward(
            B.contiguous(dout),
            rows,
            t,
            weight,
            ctx.reduction,
            ctx.ignore_index,
            ctx.label_smoothing,
        )
        return _unrows(d, ctx.shape, B), None, None, None, None, None


class NllLoss(Function):
    """loss_i = -weight[t_i] * logp[i, t_i] (0 where t_i == ignore_index); 'mean' divides the
    sum by the sum of the weights of the non-ignored targets, as torch."""

    __slots__ = ("shape", "reduction", "total_weight")

    @staticmethod
    def forward(ctx, logp, target, weight, reduction, ignore_index):
        B = ctx.backend
        ctx.shape, ctx.reduction = logp.shape, reduction
        rows, t = _rows(logp, B), target.reshape(-1)
        classes = rows.shape[1]
        keep = t != ignore_index
        bad = keep & ((t < 0) | (t >= classes))
        if bad.any():
            raise IndexError(
                f"[nll_loss] Target {int(t[bad][0])} is out of bounds for {classes} classes"
            )
        safe = B.where(keep, t, 0)
        w = keep.astype(rows.dtype) if weight is None else weight[safe] * keep
        picked = B.take_along_axis(rows, safe[:, None], 1)[:, 0]
        losses = -(picked * w)
        ctx.save_for_backward(safe, w)
        if reduction == "none":
            return losses.reshape(target.shape)
        total = B.sum(losses)
        if reduction == "sum":
            return total
        ctx.total_weight = B.sum(w)
        return total / ctx.total_weight

    @staticmethod
    def backward(ctx, dout):
        B = ctx.backend
        safe, w = ctx.saved_tensors
        if ctx._edges[2] is not None:
            raise NotImplementedError(
                "nll_loss: the gradient with respect to weight is not implemented"
            )
        if ctx.reduction == "none":
            g = dout.reshape(-1) * w
        elif ctx.reduction == "sum":
            g = dout * w
        else:
            g = (dout / ctx.total_weight) * w
        rows_shape = (safe.shape[0], ctx.shape[1] if len(ctx.shape) > 1 else ctx.shape[0])
        d = B.scatter_along_axis(rows_shape, safe[:, None], -g[:, None], 1)
        return _unrows(d, ctx.shape, B), None, None, None, None


def _class_weight(op: str, weight, input):
    if weight is None:
        return None
    require_tensor(op, "weight", weight)
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if tuple(weight.shape) != (classes,):
        raise ValueError(
            f"[{op}] expected weight of shape ({classes},) (one per class), got "
            f"{tuple(weight.shape)}"
        )
    return weight if weight._data.dtype is input._data.dtype else weight.to(input.dtype)


def _probability_cross_entropy(input, target, weight, reduction, label_smoothing):
    """Cross entropy against class probabilities (target of input's shape)."""
    dim = 0 if input.ndim == 1 else 1
    classes = input.shape[dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    terms = target * log_softmax(input, dim)
    if weight is not None:
        terms = terms * weight.reshape((classes,) + (1,) * (input.ndim - dim - 1))
    losses = -terms.sum(dim)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Softmax cross entropy of logits input (N, C, *) or (C,) against class indices target
    (N, *) or () of dtype int64, or against class probabilities of input's shape.

    loss_i = -sum_c weight[c] * q_ic * log_softmax(input)_ic with q_i the one-hot target mixed
    with the uniform distribution: q = (1 - label_smoothing) * onehot + label_smoothing / C.
    'mean' divides by the summed weight of the non-ignored targets (by N for probabilities)."""
    legacy_reduction("cross_entropy", size_average, reduce)
    check_reduction("cross_entropy", reduction)
    require_tensor("cross_entropy", "input", input)
    require_tensor("cross_entropy", "target", target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[cross_entropy] label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    if input._data.dtype.kind != "f":
        (input,) = float_operands("cross_entropy", input=input)
    weight = _class_weight("cross_entropy", weight, input)
    if target._data.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        if target._data.dtype is not input._data.dtype:
            target = target.to(input.dtype)
        return _probability_cross_entropy(input, target, weight, reduction, float(label_smoothing))
    _class_layout("cross_entropy", input, target)
    return CrossEntropy.apply(
        input, target, weight, reduction, int(ignore_index), float(label_smoothing)
    )


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
):
    """Negative log-likelihood of log-probabilities input (N, C, *) or (C,) at class indices
    target (N, *) or () (int64): loss_i = -weight[t_i] * input[i, t_i]; 'mean' divides by the
    summed weight of the non-ignored targets."""
    legacy_reduction("nll_loss", size_average, reduce)
    check_reduction("nll_loss", reduction)
    require_tensor("nll_loss", "input", input)
    if input._data.dtype.kind != "f":
        (input,) = float_operands("nll_loss", input=input)
    _class_layout("nll_loss", input, target)
    weight = _class_weight("nll_loss", weight, input)
    return NllLoss.apply(input, target, weight, reduction, int(ignore_index))
