"""Batch transforms for inputs: Normalize, RandomCrop, RandomShift, RandomHorizontalFlip, Compose.

A transform maps a whole batch at once (first axis = sample; images are (N, C, H, W) or
(N, H, W)), vectorised in NumPy: a DataLoader applies it once per batch. It takes NumPy arrays
or Tensors and returns the same kind. Random transforms own their RNG, fixed at construction
from `seed`, from `generator`, or from ember's default RNG (so ember.manual_seed reproduces them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember.data._convert import like_input, to_numpy
from ember.data._rng import private_generator


def _pair(name: str, value: int | Sequence[int]) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair
    ):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_batch(name: str, batch: Any) -> np.ndarray:
    x = to_numpy(batch)
    if x.ndim < 3:
        raise ValueError(
            f"[{name}] expected a batch of images (N, C, H, W) or (N, H, W), got shape {x.shape}"
        )
    return x


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, batch: Any) -> Any:
        for transform in self.transforms:
            batch = transform(batch)
        return batch

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class Normalize:
    """(x - mean) / std. mean and std are scalars or one value per channel: per axis 1 of the
    batch, i.e. C of (N, C, H, W), or each feature of (N, F). Integer input becomes float32."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {std!r}")

    def __call__(self, batch: Any) -> Any:
        x = to_numpy(batch)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
        channels = max(len(self.mean), len(self.std))
        if channels > 1 and (x.ndim < 2 or x.shape[1] != channels):
            raise ValueError(
                f"[Normalize] {channels} means/stds need a batch with {channels} channels on "
                f"axis 1, got shape {x.shape}"
            )
        along_axis1 = (-1,) + (1,) * (x.ndim - 2) if channels > 1 else ()
        mean = self.mean.astype(dtype).reshape(along_axis1)
        std = self.std.astype(dtype).reshape(along_axis1)
        return like_input(((x - mean) / std).astype(dtype, copy=False), batch)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _random_crop(
    x: np.ndarray, height: int, width: int, padding: int, rng: np.random.Generator
) -> np.ndarray:
    if padding:
        pad = [(0, 0)] * (x.ndim - 2) + [(padding, padding), (padding, padding)]
        x = np.pad(x, pad)
    rows, cols = x.shape[-2] - height + 1, x.shape[-1] - width + 1
    if rows < 1 or cols < 1:
        raise ValueError(
            f"[RandomCrop] crop {height}x{width} is larger than the padded image "
            f"{x.shape[-2]}x{x.shape[-1]}"
        )
    n = x.shape[0]
    top, left = rng.integers(rows, size=n), rng.integers(cols, size=n)
    # windows[i, ..., r, c] is the crop with top-left corner (r, c): one gather picks them all.
    windows = sliding_window_view(x, (height, width), axis=(-2, -1))
    return windows[np.arange(n), ..., top, left, :, :]


class RandomCrop:
    """Crop each image at a random place to `size` (int or (h, w)), after zero-padding every
    border by `padding` pixels; each sample gets its own offset."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int = 0,
        *,
        seed: int | None = None,
        generator: Any = None,
    ) -> None:
        self.height, self.width = _pair("RandomCrop size", size)
        if self.height < 1 or self.width < 1 or padding < 0:
            raise ValueError(f"RandomCrop: need size >= 1 and padding >= 0, got {size}, {padding}")
        self.padding = int(padding)
        self.rng = private_generator(generator, seed)

    def __call__(self, batch: Any) -> Any:
        x = _image_batch("RandomCrop", batch)
        return like_input(_random_crop(x, self.height, self.width, self.padding, self.rng), batch)

    def __repr__(self) -> str:
        return f"RandomCrop(size=({self.height}, {self.width}), padding={self.padding})"


class RandomShift:
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift] along
    each axis, filling with zeros; the shape is kept (RandomCrop to the same size, padded)."""

    def __init__(self, max_shift: int, *, seed: int | None = None, generator: Any = None) -> None:
        if (
            isinstance(max_shift, bool)
            or not isinstance(max_shift, (int, np.integer))
            or max_shift < 0
        ):
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.rng = private_generator(generator, seed)

    def __call__(self, batch: Any) -> Any:
        x = _image_batch("RandomShift", batch)
        height, width = x.shape[-2:]
        return like_input(_random_crop(x, height, width, self.max_shift, self.rng), batch)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability p."""

    def __init__(self, p: float = 0.5, *, seed: int | None = None, generator: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = private_generator(generator, seed)

    def __call__(self, batch: Any) -> Any:
        x = _image_batch("RandomHorizontalFlip", batch)
        flip = self.rng.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return like_input(out, batch)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
