import numpy as np
import pytest

import ember
from ember._runtime import simd_path


def pytest_report_header(config):
    return f"ember build: {ember.build_info()}"


SIMD_PATHS = ["auto", "generic"]


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Runs a test once on the best SIMD path and once on the portable fallback."""
    with simd_path(request.param):
        yield request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["f64", "f32"])
def dtype(request):
    return request.param
