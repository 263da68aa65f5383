"""Build information and process-wide native settings (threads, SIMD path)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ember import _C


def build_info() -> dict:
    """What this build of ember is: version, compiler, build type, OpenMP and its thread count,
    the SIMD path chosen at run time, and whether CUDA was compiled in."""
    return dict(_C.build_info())


def get_num_threads() -> int:
    """Threads ember's kernels use (OMP_NUM_THREADS at import, else all cores)."""
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the threads ember's kernels use; ignored (always 1) in a build without OpenMP."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _C.set_num_threads(n)


# get_simd's names -> the names set_simd accepts.
_SET_NAME = {"avx2+fma": "avx2", "avx512f+avx2+fma": "avx512", "amx+avx512f+avx2+fma": "amx"}


@contextmanager
def simd_path(name: str) -> Iterator[None]:
    """Run kernels on one SIMD path inside the block: 'generic' forces the portable fallback,
    'avx2' the AVX2+FMA path, 'avx512' the AVX-512F path, 'amx' AVX-512F with the float32 GEMM on
    AMX tiles, 'auto' the best one this CPU supports."""
    previous = _C.get_simd()
    _C.set_simd(name)
    try:
        yield
    finally:
        _C.set_simd(_SET_NAME.get(previous, previous))


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run kernels with n threads inside the block."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
