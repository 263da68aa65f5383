"""Small synthetic 2-D classification sets for teaching: xor, unit_circle, two_moons, spirals.

Each returns (X, y) Tensors: X float32 of shape (n, 2), y int64 class labels of shape (n,).
Random ones take `seed=`; without it they draw from ember's default RNG (ember.manual_seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.data._convert import to_tensor
from ember.data._rng import numpy_generator


def _as_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    return to_tensor(x.astype(np.float32)), to_tensor(y.astype(np.int64))


def _check_count(where: str, name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")


def _check_noise(name: str, noise: float) -> None:
    if not noise >= 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise!r}")


def xor(copies: int = 1, noise: float = 0.0, seed: int | None = None) -> tuple[Any, Any]:
    """The XOR problem: points (0,0), (0,1), (1,0), (1,1) with labels 0, 1, 1, 0.

    copies > 1 repeats the four points (in that order), and noise > 0 adds N(0, noise^2) to
    every coordinate, giving a noisy cloud around each corner."""
    _check_count("xor", "copies", copies)
    _check_noise("xor", noise)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    x = np.tile(corners, (copies, 1))
    y = np.tile(np.array([0, 1, 1, 0]), copies)
    if noise > 0:
        x = x + noise * numpy_generator(seed=seed).standard_normal(x.shape)
    return _as_tensors(x, y)


def unit_circle(n: int, seed: int | None = None) -> tuple[Any, Any]:
    """x ~ N(0, I_2); label 1 outside the unit circle (||x||^2 > 1), 0 inside.

    About 61% of the points fall outside (P(chi^2_2 > 1) = exp(-1/2))."""
    _check_count("unit_circle", "n", n)
    x = numpy_generator(seed=seed).standard_normal((n, 2))
    return _as_tensors(x, (x * x).sum(axis=1) > 1.0)


def two_moons(n: int, noise: float = 0.1, seed: int | None = None) -> tuple[Any, Any]:
    """Two interleaving half circles, as scikit-learn's make_moons, shuffled.

    Class 0 (n - n//2 points): (cos t, sin t); class 1 (n//2 points): (1 - cos t, 1/2 - sin t),
    t evenly spaced on [0, pi]; then N(0, noise^2) is added to every coordinate."""
    _check_count("two_moons", "n", n, minimum=2)
    _check_noise("two_moons", noise)
    rng = numpy_generator(seed=seed)
    n_upper, n_lower = n - n // 2, n // 2
    t_upper, t_lower = np.linspace(0, np.pi, n_upper), np.linspace(0, np.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    x = np.concatenate([upper, lower])
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    order = rng.permutation(n)
    x, y = x[order], y[order]
    return _as_tensors(x + noise * rng.standard_normal(x.shape), y)


def spirals(
    n: int, classes: int = 2, noise: float = 0.2, seed: int | None = None
) -> tuple[Any, Any]:
    """Interleaved spiral arms, one per class (as the CS231n toy set, arms evenly rotated),
    shuffled.

    Arm k holds n // classes points (the first n % classes arms one more) at radii r evenly
    spaced on [0, 1], at angle 2*pi*k/classes + 4r + N(0, noise^2) radians;
    x = r * (sin angle, cos angle)."""
    _check_count("spirals", "classes", classes, minimum=2)
    _check_count("spirals", "n", n, minimum=classes)
    _check_noise("spirals", noise)
    rng = numpy_generator(seed=seed)
    sizes = [n // classes + (k < n % classes) for k in range(classes)]
    labels = np.repeat(np.arange(classes), sizes)
    radius = np.concatenate([np.linspace(0.0, 1.0, size) for size in sizes])
    angle = 2 * np.pi * labels / classes + 4.0 * radius + noise * rng.standard_normal(n)
    x = radius[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    order = rng.permutation(n)
    return _as_tensors(x[order], labels[order])
