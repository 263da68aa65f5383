"""Linear and Identity."""

from __future__ import annotations

from ember.nn import init
from ember.nn._factory import empty_parameter
from ember.nn.functional._linear import linear
from ember.nn.module import Module


class Linear(Module):
    """y = x @ weight.T + bias. weight (out_features, in_features) and bias (out_features,) are
    initialised as torch's: U(-1/sqrt(in_features), 1/sqrt(in_features))."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in_features), device, dtype)
        if bias:
            self.bias = empty_parameter((out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input; accepts (and ignores) any constructor arguments, as torch's."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input
