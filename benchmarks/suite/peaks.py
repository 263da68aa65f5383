"""The machine's ceilings: a measured FP32 FMA peak and a measured STREAM-triad bandwidth.

FMA peak, measured: `ember._C.fma_peak(threads)` runs independent chains of vector FMAs on the
widest path ember's GEMM uses (AVX-512 where the CPU has it, else AVX2+FMA) on each thread; the
median of three 0.2 s runs per thread count is the peak. A nominal figure (reported clock x 2
FMA units x lanes x 2 flops) is unreliable here: VMs report the base clock, and turbo and
AVX-512 frequency licences move the real one. `--peak-mhz` asks for the nominal figure at a
given clock instead (AVX2 lanes, as before).

STREAM triad a = b + s*c on float32 arrays, counted as STREAM counts it (3 arrays x 4 bytes per
element, write-allocate traffic not counted), at the same array size as the large-tensor
kernels it bounds. Two ways, the faster one is the bound at each thread count:
  - numpy, blocked: c*s into an L2-sized scratch, then + b into a, block by block, so memory
    sees one pass over each array (numpy has no fused triad and its ufuncs use one thread;
    k threads run k contiguous parts, numpy releasing the GIL inside each ufunc);
  - torch.add(b, c, alpha=s, out=a): one fused pass, torch.set_num_threads(k).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from suite import env

FMA_UNITS, AVX2_LANES_F32, FLOPS_PER_FMA = 2, 8, 2
BLOCK = 1 << 16  # floats per numpy block: 256 KiB, comfortably inside a core's L2


@dataclass
class Peaks:
    mhz: float | None
    cores: int
    avx512: bool
    stream_gbs: dict[int, float] = field(default_factory=dict)
    stream_by_method: dict[str, dict[int, float]] = field(default_factory=dict)
    stream_elements: int = 0
    fma_measured: dict[int, float] = field(default_factory=dict)  # threads -> GFLOP/s
    fma_path: str = ""
    mhz_given: bool = False

    @property
    def fma_gflops_per_core(self) -> float | None:
        if not self.mhz:
            return None
        return self.mhz * 1e-3 * FMA_UNITS * AVX2_LANES_F32 * FLOPS_PER_FMA

    def flops(self, threads: int) -> float | None:
        if threads in self.fma_measured:
            return self.fma_measured[threads]
        per_core = self.fma_gflops_per_core
        return per_core * min(threads, self.cores) if per_core else None

    def describe(self) -> list[str]:
        lines = []
        if self.fma_measured:
            figures = ", ".join(
                f"{v:.0f} GFLOP/s on {t} thread{'s' * (t > 1)}"
                for t, v in sorted(self.fma_measured.items())
            )
            lines.append(
                f"FP32 FMA peak (measured, {self.fma_path} FMA chains, median of 3): {figures}"
            )
        elif self.fma_gflops_per_core:
            line = (
                f"FP32 FMA peak (nominal, not measured): {self.mhz:.0f} MHz x {FMA_UNITS} FMA x "
                f"{AVX2_LANES_F32} lanes (AVX2) x 2 = {self.fma_gflops_per_core:.1f} GFLOP/s "
                "per core"
            )
            if self.avx512:
                line += f"; AVX-512 (peers' kernels): {2 * self.fma_gflops_per_core:.1f}"
            lines.append(line)
            lines.append(
                "  (a reported clock is usually the base clock: cores in turbo exceed 100%; "
                "--peak-mhz sets another)"
            )
        else:
            lines.append("FP32 FMA peak: unknown (no clock reported); % of peak left empty")
        mib = 4 * self.stream_elements / 2**20
        for t, gbs in sorted(self.stream_gbs.items()):
            ways = ", ".join(f"{m} {v[t]:.1f}" for m, v in self.stream_by_method.items() if t in v)
            lines.append(
                f"STREAM triad ({mib:.0f} MiB arrays, {t} thread{'s' * (t > 1)}): "
                f"{gbs:.1f} GB/s (median; {ways})"
            )
        return lines


def nominal(cores: int, mhz: float | None = None) -> Peaks:
    peaks = Peaks(mhz=mhz or env.cpu_mhz(), cores=cores, avx512="avx512f" in env.cpu_flags())
    peaks.mhz_given = mhz is not None
    return peaks


def measure_fma(ctx, peaks: Peaks) -> None:
    """Fill peaks.fma_measured for each of ctx.threads, unless a clock was given (nominal)."""
    import ember

    native = ember._C
    if peaks.mhz_given or not hasattr(native, "fma_peak"):
        return
    # The widest FMA path ("amx+avx512f+..." -> avx512f: AMX has no FMA chains to time).
    peaks.fma_path = next(p for p in ember.build_info()["simd"].split("+") if p != "amx")
    for t in ctx.threads:
        runs = sorted(native.fma_peak(threads=t, seconds=0.2) for _ in range(3))
        peaks.fma_measured[t] = runs[1]


def _numpy_triad(a, b, c, s, threads: int, pool: ThreadPoolExecutor):
    def part(lo: int, hi: int) -> None:
        scratch = np.empty(BLOCK, a.dtype)
        for i in range(lo, hi, BLOCK):
            j = min(i + BLOCK, hi)
            tmp = scratch[: j - i]
            np.multiply(c[i:j], s, out=tmp)
            np.add(tmp, b[i:j], out=a[i:j])

    n = a.size
    bounds = [(n * k // threads, n * (k + 1) // threads) for k in range(threads)]
    if threads == 1:
        return lambda: part(0, n)
    return lambda: list(pool.map(lambda r: part(*r), bounds))


def measure_stream(ctx, peaks: Peaks, elements: int) -> None:
    """Fill peaks.stream_gbs[t] for each of ctx.threads."""
    a = np.zeros(elements, np.float32)
    b = np.ones(elements, np.float32)
    c = np.full(elements, 2.0, np.float32)
    s = np.float32(3.0)
    peaks.stream_elements = elements
    bytes_moved = 3 * 4 * elements
    torch = ctx.torch
    with ThreadPoolExecutor(max(ctx.threads)) as pool:
        for t in ctx.threads:
            runners = {"numpy": _numpy_triad(a, b, c, s, t, pool)}
            if torch is not None:
                ta, tb, tc = (torch.from_numpy(x) for x in (a, b, c))
                runners["torch"] = lambda ta=ta, tb=tb, tc=tc: torch.add(tb, tc, alpha=3.0, out=ta)
            with ctx.thread_count(t):
                ms = ctx.time(runners, t)
            for method, value in ms.items():
                peaks.stream_by_method.setdefault(method, {})[t] = bytes_moved / value / 1e6
            peaks.stream_gbs[t] = max(v[t] for v in peaks.stream_by_method.values())
