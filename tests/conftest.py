import numpy as np
import pytest

import ember
from ember._runtime import simd_path


def pytest_report_header(config):
    return f"ember build: {ember.build_info()}"


SIMD_PATHS = ["auto", "avx512", "avx2", "generic"]


def enter_simd_path(name: str) -> None:
    """Skips "avx512" and "avx2" unless each is a path of its own, below the best one on this CPU
    (AMX GEMM, AVX-512)."""
    detected = ember.build_info()["simd_detected"]
    if name == "avx512" and not detected.startswith("amx"):
        pytest.skip("avx512 is this CPU's best path (tested as 'auto') or it has no AVX-512")
    if name == "avx2" and "avx512f" not in detected:
        pytest.skip("avx2 is this CPU's best path (tested as 'auto') or it has no AVX2")


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Runs a test on the best SIMD path, on each narrower one the CPU has (AVX-512 without the
    AMX GEMM, AVX2), and on the portable fallback."""
    enter_simd_path(request.param)
    with simd_path(request.param):
        yield request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["f64", "f32"])
def dtype(request):
    return request.param
