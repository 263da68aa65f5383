"""Dropout."""

from __future__ import annotations

from ember.nn.functional._dropout import dropout
from ember.nn.module import Module


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1 / (1 - p);
    the identity in eval. Draws come from ember's Philox stream (reproducible under
    ember.manual_seed)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
