"""Float64 NumPy reference for 2-D convolution (PyTorch's conv2d), written from the definition

    y[n, o, i, j] = b[o] + sum_{c in group(o), kh, kw}
                    w[o, c - c0(o), kh, kw] * xpad[n, c, i*sh + kh*dh, j*sw + kw*dw]

where xpad is x with `padding` zeros on each side. Each kernel tap (kh, kw) picks a strided
slice of xpad; the sum over taps is an einsum per group. The backward pass adds each tap's
contribution back onto the same slice.
"""

import numpy as np


def pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def output_size(size, kernel, stride, pad, dilation):
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _tap_slices(w_shape, out_hw, stride, dilation):
    """Yield (kh, kw, rows, cols): the slices of xpad read by tap (kh, kw)."""
    _, _, KH, KW = w_shape
    OH, OW = out_hw
    (sh, sw), (dh, dw) = stride, dilation
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh * dh, kh * dh + sh * (OH - 1) + 1, sh)
            cols = slice(kw * dw, kw * dw + sw * (OW - 1) + 1, sw)
            yield kh, kw, rows, cols


def _geometry(x, w, stride, padding, dilation):
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    _, _, H, W = x.shape
    _, _, KH, KW = w.shape
    OH = output_size(H, KH, stride[0], padding[0], dilation[0])
    OW = output_size(W, KW, stride[1], padding[1], dilation[1])
    return stride, padding, dilation, (OH, OW)


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    stride, padding, dilation, (OH, OW) = _geometry(x, w, stride, padding, dilation)
    N, O, Cg = x.shape[0], w.shape[0], w.shape[1]
    Og = O // groups
    xp = _pad(x, padding)
    y = np.zeros((N, O, OH, OW))
    for g in range(groups):
        xg, wg = xp[:, g * Cg : (g + 1) * Cg], w[g * Og : (g + 1) * Og]
        for kh, kw, rows, cols in _tap_slices(w.shape, (OH, OW), stride, dilation):
            y[:, g * Og : (g + 1) * Og] += np.einsum(
                "ncij,oc->noij", xg[:, :, rows, cols], wg[:, :, kh, kw]
            )
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, groups=1):
    """Returns (dx, dw, db) for the upstream gradient dy."""
    stride, padding, dilation, (OH, OW) = _geometry(x, w, stride, padding, dilation)
    _, _, H, W = x.shape
    O, Cg = w.shape[0], w.shape[1]
    Og = O // groups
    xp = _pad(x, padding)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for g in range(groups):
        cs, os_ = slice(g * Cg, (g + 1) * Cg), slice(g * Og, (g + 1) * Og)
        dyg = dy[:, os_]
        for kh, kw, rows, cols in _tap_slices(w.shape, (OH, OW), stride, dilation):
            dxp[:, cs, rows, cols] += np.einsum("noij,oc->ncij", dyg, w[os_, :, kh, kw])
            dw[os_, :, kh, kw] = np.einsum("noij,ncij->oc", dyg, xp[:, cs, rows, cols])
    ph, pw = padding
    dx = dxp[:, :, ph : ph + H, pw : pw + W]
    return dx, dw, dy.sum(axis=(0, 2, 3))
