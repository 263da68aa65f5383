"""batch_norm as one fused Function: forward and backward are a handful of whole-array
operations on the backend's arrays instead of a chain of small autograd ops.

x is (N, C, *); statistics are per channel over the M = N * prod(*) values of each channel.
Training:  xhat = (x - mean) / sqrt(var + eps)  (biased var),  y = weight * xhat + bias
Backward (g = dy):  dbias = sum(g),  dweight = sum(g * xhat),
                    dx = weight / sqrt(var + eps) * (g - dbias / M - xhat * dweight / M)
In eval (or without batch statistics) mean/var are the running estimates, constants to
autograd, so dx = weight / sqrt(var + eps) * g.
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.nn.functional._common import float_operands, require_tensor


def _channel_shape(x) -> tuple:
    """(1, C, 1, ...): a per-channel vector broadcast against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


class BatchNorm(Function):
    __slots__ = ("batch_stats",)

    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, batch_stats, momentum, eps):
        B = ctx.backend
        shape = _channel_shape(x)
        axes = (0,) + tuple(range(2, x.ndim))
        if batch_stats:
            count = x.size // x.shape[1]
            mean = B.mean(x, axis=axes, keepdims=True)
            centered = x - mean
            var = B.mean(centered * centered, axis=axes, keepdims=True)
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean.reshape(-1)
            if running_var is not None:
                running_var *= 1.0 - momentum
                running_var += (momentum * count / (count - 1)) * var.reshape(-1)
        else:
            mean = running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = running_var.reshape(shape).astype(x.dtype, copy=False)
            centered = x - mean
        inv_std = 1.0 / B.sqrt(var + eps)
        xhat = centered * inv_std
        ctx.batch_stats = batch_stats
        ctx.save_for_backward(xhat, inv_std if weight is None else inv_std * weight.reshape(shape))
        if weight is None:
            return xhat if bias is None else xhat + bias.reshape(shape)
        y = xhat * weight.reshape(shape)
        return y if bias is None else y + bias.reshape(shape)

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        xhat, scale = ctx.saved_tensors
        ex, _, _, ew, eb = ctx._edges[:5]
        axes = (0,) + tuple(range(2, dy.ndim))
        need_sums = ctx.batch_stats and ex is not None
        dbias = B.sum(dy, axis=axes) if eb is not None or need_sums else None
        dweight = B.sum(dy * xhat, axis=axes) if ew is not None or need_sums else None
        dx = None
        if ex is not None:
            if ctx.batch_stats:
                count = dy.size // dy.shape[1]
                shape = _channel_shape(dy)
                dx = scale * (
                    dy - (dbias / count).reshape(shape) - xhat * (dweight / count).reshape(shape)
                )
            else:
                dx = scale * dy
        return (
            dx,
            None,
            None,
            dweight if ew is not None else None,
            dbias if eb is not None else None,
            None,
            None,
            None,
        )


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """Normalise input (N, C, *) per channel, then scale by weight and shift by bias (C,).

    training=True uses the batch's statistics and, when given, updates running_mean and
    running_var in place: r = (1 - momentum) * r + momentum * batch_stat, with the unbiased
    (M / (M - 1)) batch variance for running_var, as torch. training=False uses the running
    estimates."""
    require_tensor("batch_norm", "input", input)
    if input.ndim < 2:
        raise ValueError(
            f"[batch_norm] expected input of shape (N, C, *), got a {input.ndim}-d "
            f"tensor of shape {tuple(input.shape)}"
        )
    channels = input.shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(
                f"[batch_norm] expected {name} of shape ({channels},) for input "
                f"{tuple(input.shape)}, got {tuple(t.shape)}"
            )
    if training:
        if input._data.size // max(channels, 1) <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input "
                f"size {tuple(input.shape)}"
            )
    elif running_mean is None or running_var is None:
        raise ValueError(
            "[batch_norm] running_mean and running_var are required when training=False"
        )
    dt = input._data.dtype
    if dt.kind != "f" or any(t is not None and t._data.dtype is not dt for t in (weight, bias)):
        input, weight, bias = float_operands("batch_norm", input=input, weight=weight, bias=bias)
    return BatchNorm.apply(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        bool(training),
        0.0 if momentum is None else float(momentum),
        float(eps),
    )
