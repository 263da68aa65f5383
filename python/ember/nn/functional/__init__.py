"""ember.nn.functional: the math of every layer, as functions of tensors (torch's signatures).

Each op is an autograd Function over one native kernel pair (or a short NumPy computation on
the backend's arrays); modules in ember.nn only hold parameters and call these.
"""

from ember._ops_shape import flatten
from ember.nn.functional._activation import (
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from ember.nn.functional._conv import conv2d
from ember.nn.functional._dropout import dropout
from ember.nn.functional._linear import linear
from ember.nn.functional._loss_class import cross_entropy, nll_loss
from ember.nn.functional._loss_elementwise import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    mse_loss,
)
from ember.nn.functional._normalization import batch_norm
from ember.nn.functional._pooling import avg_pool2d, max_pool2d

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "flatten",
    "gelu",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
