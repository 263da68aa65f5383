"""Float64 NumPy references for the activations, written from their definitions."""

import math

import numpy as np


def relu(x):
    # torch's clamp_min(0): NaN and -0 pass through.
    return np.where(x < 0, 0.0, x)


def relu_backward(dout, x):
    # torch's threshold_backward: zero where x <= 0, dout elsewhere (NaN inputs included).
    return np.where(x <= 0, 0.0, dout)


def leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_backward(dout, x, negative_slope=0.01):
    return dout * np.where(x > 0, 1.0, negative_slope)


def sigmoid(x):
    # 1 / (1 + e^-x) = exp(-log(1 + e^-x)); logaddexp never overflows.
    return np.exp(-np.logaddexp(0.0, -x))


def sigmoid_backward(dout, x):
    s = sigmoid(x)
    return dout * s * sigmoid(-x)


def tanh(x):
    return np.tanh(x)


def tanh_backward(dout, x):
    return dout / np.cosh(x) ** 2


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x, approximate=False):
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_backward(dout, x, approximate=False):
    if approximate:
        k = math.sqrt(2.0 / math.pi)
        u = k * (x + 0.044715 * x**3)
        du = k * (1.0 + 3 * 0.044715 * x**2)
        return dout * (0.5 * (1.0 + np.tanh(u)) + 0.5 * x * du / np.cosh(u) ** 2)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return dout * (0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * phi)


def softmax(x):
    """Over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(dout, x):
    """J^T dout, J_ij = d s_i / d x_j = s_i (delta_ij - s_j): sum_i dout_i s_i (delta_ij - s_j)."""
    s = softmax(x)
    return dout * s - s * np.sum(dout * s, axis=-1, keepdims=True)


def log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def log_softmax_backward(dout, x):
    """d log s_i / d x_j = delta_ij - s_j."""
    return dout - softmax(x) * dout.sum(axis=-1, keepdims=True)
