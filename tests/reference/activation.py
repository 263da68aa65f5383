"""Float64 NumPy references for the activations, written from their definitions."""

import numpy as np


def relu(x):
    return np.maximum(x, 0.0)


def relu_backward(dout, x):
    return dout * (x > 0)
