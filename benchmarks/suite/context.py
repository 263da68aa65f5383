"""What every section needs: the mode, the thread counts, the peers, the peaks, the timer."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import ember
from suite.timing import Plan, median_seconds


def optional_import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@dataclass
class Context:
    quick: bool
    threads: list[int]
    plan: Plan
    torch: object | None = None
    threadpoolctl: object | None = None
    peaks: object | None = None  # suite.peaks.Peaks, once measured
    gemm_dtype: str = "float32"
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def thread_count(self, n: int) -> Iterator[None]:
        """ember, torch and numpy's BLAS all on n threads inside the block. NumPy's ufuncs are
        single-threaded whatever n is."""
        ember.set_num_threads(n)
        if self.torch is not None:
            self.torch.set_num_threads(n)
        blas = (
            self.threadpoolctl.threadpool_limits(limits=n, user_api="blas")
            if self.threadpoolctl is not None
            else nullcontext()
        )
        with blas:
            yield

    def time(self, runners: dict[str, Callable[[], object]], threads: int) -> dict[str, float]:
        """Median milliseconds per call of each runner, interleaved (see suite.timing)."""
        pause = (0.01 if self.quick else 0.05) if threads > 1 else 0.0
        return {k: 1e3 * s for k, s in median_seconds(runners, self.plan, pause).items()}

    def flops_peak(self, threads: int) -> float | None:
        return self.peaks.flops(threads) if self.peaks else None

    def stream_gbs(self, threads: int) -> float | None:
        return self.peaks.stream_gbs.get(threads) if self.peaks else None
