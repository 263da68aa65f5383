import numpy as np
import pytest

import ember
from ember._runtime import simd_path


def pytest_report_header(config):
    return f"ember build: {ember.build_info()}"


SIMD_PATHS = ["auto", "avx2", "generic"]


def enter_simd_path(name: str) -> None:
    """Skips "avx2" unless it is a path of its own: below the best one (AVX-512) on this CPU."""
    if name == "avx2" and ember.build_info()["simd_detected"] != "avx512f+avx2+fma":
        pytest.skip("avx2 is this CPU's best path (tested as 'auto') or it has no AVX2")


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Runs a test on the best SIMD path, on AVX2 where the best is wider, and on the portable
    fallback."""
    enter_simd_path(request.param)
    with simd_path(request.param):
        yield request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["f64", "f32"])
def dtype(request):
    return request.param
