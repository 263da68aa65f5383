"""Random state: `ember.manual_seed(s)` makes every draw reproducible.

A Generator holds two streams derived from one seed:
- a NumPy Generator (PCG64) for host-side draws: initialization (randn, rand, uniform_, ...),
  permutations and shuffling;
- a Philox counter (seed, offset) for kernels that generate their random numbers themselves
  (dropout): a kernel given (seed, offset) uses counter offset + i for element i, so the draws
  depend only on the seed and on how many were consumed before, not on thread count.

Like torch's CPU generator, the default generator starts from a fixed seed, so a program that
never seeds is still reproducible run to run.
"""

from __future__ import annotations

import os

import numpy as np

DEFAULT_SEED = 67280421310721  # torch's initial CPU seed
_SEED_MASK = (1 << 64) - 1


class Generator:
    """A random stream for `generator=` arguments (factories, DataLoader shuffling)."""

    def __init__(self, device="cpu") -> None:
        from ember._device import as_device

        self.device = as_device(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Restart both streams from `seed` (any int; negative ones wrap as in torch)."""
        seed = int(seed) & _SEED_MASK
        self._seed = seed
        self._numpy = np.random.Generator(np.random.PCG64(seed))
        self._philox_offset = 0
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    @property
    def numpy(self) -> np.random.Generator:
        """The host-side stream, for code that draws with NumPy directly (data pipelines)."""
        return self._numpy

    def next_philox(self, numel: int) -> tuple[int, int]:
        """(seed, offset) for a kernel about to draw `numel` numbers; reserves them by advancing
        the offset by numel rounded up to a multiple of 4 (Philox yields 4 numbers per counter)."""
        if numel < 0:
            raise ValueError(f"next_philox: numel must be >= 0, got {numel}")
        offset = self._philox_offset
        self._philox_offset = offset + (numel + 3) // 4 * 4
        return self._seed, offset

    def get_state(self) -> dict:
        return {
            "seed": self._seed,
            "numpy": self._numpy.bit_generator.state,
            "philox_offset": self._philox_offset,
        }

    def set_state(self, state: dict) -> Generator:
        self._seed = state["seed"]
        self._numpy = np.random.Generator(np.random.PCG64())
        self._numpy.bit_generator.state = state["numpy"]
        self._philox_offset = state["philox_offset"]
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator device={self.device} seed={self._seed}>"


default_generator = Generator()


def _generator(generator: Generator | None) -> Generator:
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be an ember.Generator, got {type(generator).__name__}")
    return generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (host draws and the dropout Philox stream)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def next_philox(numel: int, generator: Generator | None = None) -> tuple[int, int]:
    """(seed, offset) of `generator` (default: the default generator), then reserve `numel`
    draws. See Generator.next_philox."""
    return _generator(generator).next_philox(numel)
