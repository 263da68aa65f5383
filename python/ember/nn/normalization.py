"""BatchNorm1d and BatchNorm2d."""

from __future__ import annotations

from ember import _dtype
from ember.nn import init
from ember.nn._factory import empty_parameter, new_tensor
from ember.nn.functional._normalization import batch_norm
from ember.nn.module import Module


class _BatchNorm(Module):
    """Per-channel normalisation with learnable scale (weight, ones) and shift (bias, zeros).

    In training the batch statistics normalise, and running_mean / running_var are updated
    with `momentum` (the unbiased batch variance for running_var; momentum=None gives the
    cumulative average over num_batches_tracked batches). In eval the running statistics
    normalise. Buffers: running_mean (zeros), running_var (ones), num_batches_tracked (int64).
    """

    _expected_ndims: tuple = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = empty_parameter((num_features,), device, dtype)
            if bias:
                self.bias = empty_parameter((num_features,), device, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer(
                "running_mean", new_tensor("zeros", (num_features,), device, dtype)
            )
            self.register_buffer("running_var", new_tensor("ones", (num_features,), device, dtype))
            self.register_buffer(
                "num_batches_tracked", new_tensor("zeros", (), device, _dtype.int64)
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        if input.ndim not in self._expected_ndims:
            raise ValueError(
                f"[{self._get_name()}] expected input of shape {self._layout}, got "
                f"a {input.ndim}-d tensor of shape {tuple(input.shape)}"
            )
        momentum = self.momentum
        tracking = self.training and self.track_running_stats
        if tracking and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            if momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked._data)
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            self.weight,
            self.bias,
            batch_stats,
            0.0 if momentum is None else momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C."""

    _expected_ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C."""

    _expected_ndims = (4,)
    _layout = "(N, C, H, W)"
