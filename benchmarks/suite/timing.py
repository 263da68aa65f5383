"""Interleaved median timing of several libraries doing the same thing, in one process.

The machine is shared and noisy, so each library is timed in short blocks that take turns
(ember, numpy, torch, then numpy, torch, ember, ...) over several rounds: a burst of background
load then hits all of them alike instead of one library's whole measurement. Each figure is the
median over all samples. A sample is one call, or a batch of calls for calls shorter than
MIN_SAMPLE_S (then the per-call time of the batch), so clock resolution and loop overhead do
not count.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_SAMPLE_S = 2e-4
# Calls longer than this need no wake-up call before their block: a sleeping thread team wakes
# in microseconds, negligible against the call itself.
LONG_CALL_S = 0.02


@dataclass
class Plan:
    """How long to measure: about `budget_s` of samples per library, over `rounds` rounds."""

    budget_s: float
    rounds: int
    clock: Callable[[], float] = time.perf_counter
    samples: int | None = None  # fixed samples per block instead of the budget
    max_samples: int = 200


def median_seconds(
    runners: dict[str, Callable[[], object]], plan: Plan, pause_s: float = 0.0
) -> dict[str, float]:
    """Median seconds per call of each runner. `pause_s` is slept before every block: a
    library's thread pool keeps spinning for a while after its last call (OpenBLAS for tens of
    ms), which on a 2-core machine would bill the next library for its neighbour's spinning."""
    clock = plan.clock
    names = list(runners)
    batch, per_block = {}, {}
    for name in names:
        fn = runners[name]
        fn()
        start = clock()
        fn()
        seconds = max(clock() - start, 1e-8)
        batch[name] = max(1, math.ceil(MIN_SAMPLE_S / seconds))
        wanted = plan.samples or round(plan.budget_s / plan.rounds / (seconds * batch[name]))
        per_block[name] = min(plan.max_samples, max(1, wanted))
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(plan.rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn, n, b = runners[name], per_block[name], batch[name]
            if pause_s:
                time.sleep(pause_s)
            if samples[name] == [] or samples[name][-1] < LONG_CALL_S:
                fn()
            for _ in range(n):
                start = clock()
                for _ in range(b):
                    fn()
                samples[name].append((clock() - start) / b)
    return {name: statistics.median(s) for name, s in samples.items()}
