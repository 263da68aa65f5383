"""conv2d: 2-D cross-correlation over (N, C, H, W) inputs, one native call each way."""

from __future__ import annotations

from ember.autograd.function import Function
from ember.nn.functional._common import float_operands, pair, require_tensor


class Conv2d(Function):
    """x (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW), bias (C_out,) or None."""

    __slots__ = ("stride", "padding", "dilation", "groups")
    fresh_gradients = True  # native kernel outputs

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        B = ctx.backend
        x, weight = B.contiguous(x), B.contiguous(weight)
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups
        if bias is not None:
            bias = B.contiguous(bias)
        return B.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        x, weight = ctx.saved_tensors
        ex, ew, eb = ctx._edges[:3]
        needs = (ex is not None, ew is not None, eb is not None)
        dx, dweight, dbias = B.conv2d_backward(
            B.contiguous(dy), x, weight, ctx.stride, ctx.padding, ctx.dilation, ctx.groups, *needs
        )
        return dx, dweight, dbias, None, None, None, None


def _check(x, weight, bias, groups: int) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"[conv2d] expected input of shape (N, C, H, W) or (C, H, W), got a "
            f"{x.ndim}-d tensor of shape {tuple(x.shape)}"
        )
    if weight.ndim != 4:
        raise ValueError(
            f"[conv2d] expected weight of shape (C_out, C_in / groups, kH, kW), got "
            f"shape {tuple(weight.shape)}"
        )
    if groups < 1 or weight.shape[0] % groups:
        raise ValueError(
            f"[conv2d] groups must be a positive divisor of C_out = {weight.shape[0]}, got {groups}"
        )
    channels = x.shape[-3]
    if channels != weight.shape[1] * groups:
        raise ValueError(
            f"[conv2d] input has {channels} channels (shape {tuple(x.shape)}), but weight "
            f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"[conv2d] expected bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )


def _same_padding(weight, dilation) -> tuple[tuple[int, int], tuple[bool, bool]]:
    """Symmetric padding for 'same' output size, and per axis whether the total padding is odd.
    torch puts the odd extra pixel at the end; padding symmetrically by one more and dropping the
    first output row/column computes exactly that."""
    pads, odd = [], []
    for k, d in zip(weight.shape[2:], dilation, strict=True):
        total = d * (k - 1)
        pads.append((total + 1) // 2)
        odd.append(total % 2 == 1)
    return (pads[0], pads[1]), (odd[0], odd[1])


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as torch) of input (N, C_in, H, W) or (C_in, H, W)
    with weight (C_out, C_in / groups, kH, kW). padding: int, pair, 'valid' or 'same'
    (stride 1 only). Output (N, C_out, H_out, W_out) with
    H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1."""
    require_tensor("conv2d", "input", input)
    require_tensor("conv2d", "weight", weight)
    dt = weight._data.dtype
    if input._data.dtype is not dt or (bias is not None and bias._data.dtype is not dt):
        input, weight, bias = float_operands("conv2d", input=input, weight=weight, bias=bias)
    _check(input, weight, bias, groups)
    stride = pair("conv2d", "stride", stride)
    dilation = pair("conv2d", "dilation", dilation)
    crop = (False, False)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    "[conv2d] padding='same' is not supported for strided "
                    f"convolutions (stride={stride})"
                )
            padding, crop = _same_padding(weight, dilation)
        else:
            raise ValueError(
                f"[conv2d] padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
            )
    else:
        padding = pair("conv2d", "padding", padding)
    batched = input.ndim == 4
    if not batched:
        input = input.unsqueeze(0)
    y = Conv2d.apply(input, weight, bias, stride, padding, dilation, groups)
    if crop[0] or crop[1]:
        y = y[:, :, int(crop[0]) :, int(crop[1]) :]
    return y if batched else y.squeeze(0)
