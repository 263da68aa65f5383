"""Float64 NumPy references for 2-D max and average pooling (PyTorch semantics, floor mode).

Window (i, j) covers rows i*sh .. i*sh + kh - 1 and columns j*sw .. j*sw + kw - 1 of the input
padded by (ph, pw) on each side: with -inf for max pooling, with 0 for average pooling.
"""

import numpy as np


def pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def _geometry(shape, kernel, stride, padding):
    kernel, stride, padding = pair(kernel), pair(stride), pair(padding)
    _, _, H, W = shape
    OH = (H + 2 * padding[0] - kernel[0]) // stride[0] + 1
    OW = (W + 2 * padding[1] - kernel[1]) // stride[1] + 1
    return kernel, stride, padding, (OH, OW)


def _windows(out_hw, kernel, stride):
    """Yield (i, j, rows, cols): output position and its window in padded coordinates."""
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            rows = slice(i * stride[0], i * stride[0] + kernel[0])
            cols = slice(j * stride[1], j * stride[1] + kernel[1])
            yield i, j, rows, cols


def _pad(x, padding, value):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def max_pool2d(x, kernel, stride, padding=0):
    """Returns (y, indices); indices are flat positions ih*W + iw in each input plane of the
    first maximum in row-major window order, or of the last NaN in a window with NaNs."""
    kernel, stride, padding, (OH, OW) = _geometry(x.shape, kernel, stride, padding)
    N, C, _, W = x.shape
    xp = _pad(x, padding, -np.inf)
    y = np.empty((N, C, OH, OW))
    indices = np.empty((N, C, OH, OW), dtype=np.int64)
    for i, j, rows, cols in _windows((OH, OW), kernel, stride):
        window = xp[:, :, rows, cols].reshape(N, C, -1)
        best = window.argmax(axis=-1)  # the first maximum; the first NaN if there is one
        # PyTorch scans the window taking "v > best or v is NaN", so the LAST NaN wins.
        is_nan = np.isnan(window)
        last_nan = window.shape[-1] - 1 - is_nan[..., ::-1].argmax(axis=-1)
        best = np.where(is_nan.any(axis=-1), last_nan, best)
        y[:, :, i, j] = np.take_along_axis(window, best[..., None], axis=-1)[..., 0]
        r, c = np.divmod(best, kernel[1])
        indices[:, :, i, j] = (rows.start + r - padding[0]) * W + (cols.start + c - padding[1])
    return y, indices


def max_pool2d_backward(dy, indices, input_shape):
    """The adjoint of gathering x at indices: dy summed onto those positions."""
    N, C, H, W = input_shape
    planes = np.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    dx = np.zeros(N * C * H * W)
    np.add.at(dx, (indices + planes).ravel(), dy.ravel())
    return dx.reshape(input_shape)


def _divisors(shape, kernel, stride, padding, count_include_pad, out_hw):
    """Per output position: the window size in the padded input, or its pixels in the image."""
    _, _, H, W = shape
    inside = _pad(np.ones((1, 1, H, W)), padding, 0.0)
    if count_include_pad:
        inside = np.ones_like(inside)
    d = np.empty(out_hw)
    for i, j, rows, cols in _windows(out_hw, kernel, stride):
        d[i, j] = inside[0, 0, rows, cols].sum()
    return d


def avg_pool2d(x, kernel, stride, padding=0, count_include_pad=True):
    kernel, stride, padding, out_hw = _geometry(x.shape, kernel, stride, padding)
    xp = _pad(x, padding, 0.0)
    d = _divisors(x.shape, kernel, stride, padding, count_include_pad, out_hw)
    y = np.empty(x.shape[:2] + out_hw)
    for i, j, rows, cols in _windows(out_hw, kernel, stride):
        y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / d[i, j]
    return y


def avg_pool2d_backward(dy, input_shape, kernel, stride, padding=0, count_include_pad=True):
    kernel, stride, padding, out_hw = _geometry(input_shape, kernel, stride, padding)
    _, _, H, W = input_shape
    d = _divisors(input_shape, kernel, stride, padding, count_include_pad, out_hw)
    dxp = _pad(np.zeros(input_shape), padding, 0.0)
    for i, j, rows, cols in _windows(out_hw, kernel, stride):
        dxp[:, :, rows, cols] += (dy[:, :, i, j] / d[i, j])[:, :, None, None]
    ph, pw = padding
    return dxp[:, :, ph : ph + H, pw : pw + W]
