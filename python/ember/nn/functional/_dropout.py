"""dropout: zero each element with probability p and scale the rest by 1 / (1 - p).

The mask is never stored: forward draws a (seed, offset) pair from ember's Philox stream
(ember.random.next_philox), and backward regenerates the same mask from it. That costs a few
nanoseconds per element and saves the mask's memory; it also makes dropout reproducible under
ember.manual_seed.
"""

from __future__ import annotations

from ember import random as _random
from ember.autograd.function import Function
from ember.nn.functional._common import float_operands, require_tensor


class Dropout(Function):
    __slots__ = ("p", "seed", "offset")

    @staticmethod
    def forward(ctx, x, p, seed, offset):
        ctx.p, ctx.seed, ctx.offset = p, seed, offset
        B = ctx.backend
        return B.dropout_forward(B.contiguous(x), p, seed, offset)

    @staticmethod
    def backward(ctx, dy):
        B = ctx.backend
        return B.dropout_backward(B.contiguous(dy), ctx.p, ctx.seed, ctx.offset), None, None, None


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """In training, each element is zeroed with probability p and the others are scaled by
    1 / (1 - p), so the expectation is unchanged; otherwise the input itself is returned.
    `inplace` is accepted for torch compatibility; the result is always new."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    require_tensor("dropout", "input", input)
    if not training or p == 0.0:
        return input
    if input._data.dtype.kind != "f":
        (input,) = float_operands("dropout", input=input)
    seed, offset = _random.next_philox(input._data.size)
    return Dropout.apply(input, float(p), seed, offset)
