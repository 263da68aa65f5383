"""Where the data layer's randomness comes from (shuffling, splits, augmentation, synthetic sets).

Random components draw from a NumPy Generator resolved from: an explicit seed (a private
stream), a generator the user passes (ember.Generator or numpy.random.Generator: that shared
stream), or ember's default generator, so that `ember.manual_seed` makes a whole run
reproducible. Components that run in a prefetch thread (augmentations) own a private stream,
seeded once from the default generator, so the thread never races the main one for a shared RNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SEED_BOUND = 2**63


def _as_numpy_generator(generator: Any) -> np.random.Generator:
    from ember.random import Generator  # late: ember imports this package during its import

    if isinstance(generator, Generator):
        return generator.numpy  # looked up on each use: manual_seed replaces the stream
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"generator: expected an ember.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def _default_numpy_generator() -> np.random.Generator:
    from ember.random import default_generator

    return default_generator.numpy


def fresh_seed(generator: Any = None) -> int:
    """One seed drawn from `generator` (default: ember's default generator)."""
    source = _default_numpy_generator() if generator is None else _as_numpy_generator(generator)
    return int(source.integers(_SEED_BOUND))


def numpy_generator(generator: Any = None, seed: int | None = None) -> np.random.Generator:
    """The NumPy Generator to draw from: a private one for `seed`; the shared stream of
    `generator`; with neither, the stream of ember's default generator."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
        return np.random.default_rng(int(seed))
    if generator is not None:
        return _as_numpy_generator(generator)
    return _default_numpy_generator()


def private_generator(generator: Any = None, seed: int | None = None) -> np.random.Generator:
    """A stream owned by one component: from `seed`, else seeded by one draw from `generator`
    (default: ember's default generator)."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if seed is not None:
        return numpy_generator(seed=seed)
    return np.random.default_rng(fresh_seed(generator))
