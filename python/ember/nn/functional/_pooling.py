"""max_pool2d and avg_pool2d over (N, C, H, W) inputs, one native call each way."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.nn.functional._common import float_operands, pair, require_tensor


class MaxPool2d(Function):
    """Forward keeps the argmax of each window (flat positions in each H*W plane, as torch's
    indices) so backward is a scatter of dy."""

    __slots__ = ("input_shape", "indices")

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, return_indices):
        B = ctx.backend
        y, indices = B.max_pool2d_forward(B.contiguous(x), kernel_size, stride, padding)
        ctx.input_shape, ctx.indices = x.shape, indices
        return (y, indices) if return_indices else y

    @staticmethod
    def backward(ctx, dy, *_):
        B = ctx.backend
        dx = B.max_pool2d_backward(B.contiguous(dy), ctx.indices, ctx.input_shape)
        return dx, None, None, None, None


class AvgPool2d(Function):
    __slots__ = ("input_shape", "kernel_size", "stride", "padding", "count_include_pad")

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad):
        B = ctx.backend
        ctx.input_shape, ctx.kernel_size, ctx.stride = x.shape, kernel_size, stride
        ctx.padding, ctx.count_include_pad = padding, count_include_pad
        return B.avg_pool2d_forward(
            B.contiguous(x), kernel_size, stride, padding, count_include_pad
        )

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        dx = B.avg_pool2d_backward(
            B.contiguous(dy),
            ctx.input_shape,
            ctx.kernel_size,
            ctx.stride,
            ctx.padding,
            ctx.count_include_pad,
        )
        return dx, None, None, None, None


def _pool_args(op: str, input, kernel_size, stride, padding, ceil_mode: bool):
    """Checked (input, kernel, stride, padding); stride defaults to the kernel size."""
    require_tensor(op, "input", input)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"[{op}] expected input of shape (N, C, H, W) or (C, H, W), got a "
            f"{input.ndim}-d tensor of shape {tuple(input.shape)}"
        )
    if ceil_mode:
        raise NotImplementedError(f"[{op}] ceil_mode=True is not supported")
    kernel = pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or stride == [] else pair(op, "stride", stride)
    padding = pair(op, "padding", padding)
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(
            f"[{op}] kernel_size and stride must be positive, got kernel_size="
            f"{kernel}, stride={stride}"
        )
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2 or min(padding) < 0:
        raise ValueError(
            f"[{op}] pad should be non-negative and at most half of the kernel "
            f"size, got kernel_size={kernel}, padding={padding}"
        )
    if input._data.dtype.kind != "f":
        (input,) = float_operands(op, input=input)
    return input, kernel, stride, padding


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over kH x kW windows of input (N, C, H, W) or (C, H, W), padded with -inf.
    With return_indices, also the argmax as flat positions in each H * W plane (int64)."""
    input, kernel, stride, padding = _pool_args(
        "max_pool2d", input, kernel_size, stride, padding, ceil_mode
    )
    if pair("max_pool2d", "dilation", dilation) != (1, 1):
        raise NotImplementedError("[max_pool2d] dilation other than 1 is not supported")
    batched = input.ndim == 4
    if not batched:
        input = input.unsqueeze(0)
    out = MaxPool2d.apply(input, kernel, stride, padding, bool(return_indices))
    if batched:
        return out
    return tuple(t.squeeze(0) for t in out) if return_indices else out.squeeze(0)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Mean over kH x kW windows of input (N, C, H, W) or (C, H, W). Zero padding counts in
    the divisor unless count_include_pad=False."""
    input, kernel, stride, padding = _pool_args(
        "avg_pool2d", input, kernel_size, stride, padding, ceil_mode
    )
    if divisor_override is not None:
        raise NotImplementedError("[avg_pool2d] divisor_override is not supported")
    batched = input.ndim == 4
    if not batched:
        input = input.unsqueeze(0)
    out = AvgPool2d.apply(input, kernel, stride, padding, bool(count_include_pad))
    return out if batched else out.squeeze(0)
