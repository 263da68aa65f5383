"""Build information, thread control and the SIMD switch."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import _C
from ember._runtime import num_threads, simd_path


def run_python(code: str, **env: str) -> str:
    environment = {**os.environ, **env}
    for name in (
        "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "EMBER_SIMD", "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_MMAP_THRESHOLD_",
    ):  # fmt: skip
        if name not in env:
            environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_build_info_reports_the_build():
    info = ember.build_info()
    assert {"version", "compiler", "build_type", "openmp", "max_threads", "simd", "cuda"} <= set(
        info
    )
    assert info["version"] == ember.__version__
    assert info["simd"] in ("amx+avx512f+avx2+fma", "avx512f+avx2+fma", "avx2+fma", "generic")
    assert info["max_threads"] >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF symbol tables: Linux")
def test_the_module_exports_only_its_init_function():
    """Any other exported name can bind to the same name in a library loaded earlier (a second
    libstdc++, say), so that importing ember after NumPy or PyTorch mixes two copies' state."""
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("binutils' nm is not installed")
    listing = subprocess.run(
        [nm, "-D", "--defined-only", _C.__file__], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split()[-1] for line in listing.splitlines()] == ["PyInit__C"]


def test_malloc_policy_keeps_freed_memory_unless_the_user_set_one():
    show = "import ember; print(ember.build_info()['malloc'])"
    policy = run_python(show)
    if "glibc" not in policy:
        pytest.skip(f"not a glibc process: {policy}")
    assert "keeps up to 256 MiB freed" in policy
    assert "environment" in run_python(show, MALLOC_TRIM_THRESHOLD_="131072")
    assert "environment" in run_python(show, MALLOC_MMAP_THRESHOLD_="131072")


def test_omp_num_threads_is_honoured():
    if not ember.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    out = run_python("import ember; print(ember.get_num_threads())", OMP_NUM_THREADS="1")
    assert out == "1"


def test_set_num_threads_round_trips_and_rejects_bad_counts():
    before = ember.get_num_threads()
    with num_threads(1):
        assert ember.get_num_threads() == 1
    assert ember.get_num_threads() == before
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="set_num_threads"):
            ember.set_num_threads(bad)


def test_simd_switch_forces_the_fallback_and_restores():
    before = _C.get_simd()  # the detected path, unless EMBER_SIMD caps it
    with simd_path("generic"):
        assert _C.get_simd() == "generic"
    assert _C.get_simd() == before
    with pytest.raises(ValueError, match="set_simd"):
        _C.set_simd("sse9")
    assert run_python("from ember import _C; print(_C.get_simd())", EMBER_SIMD="generic") == (
        "generic"
    )


@pytest.mark.parametrize(
    ("lower", "lower_name", "higher", "higher_name"),
    [
        ("avx2", "avx2+fma", "avx512", "avx512f+avx2+fma"),
        ("avx512", "avx512f+avx2+fma", "amx", "amx+avx512f+avx2+fma"),
    ],
    ids=["avx512-to-avx2", "amx-to-avx512"],
)
def test_a_path_below_the_best_can_be_forced_and_restored(lower, lower_name, higher, higher_name):
    if higher_name.split("+")[0] not in ember.build_info()["simd_detected"].split("+"):
        with pytest.raises(ValueError, match="has no"):
            _C.set_simd(higher)
        pytest.skip(f"no {higher} path on this CPU, OS or build")
    before = _C.get_simd()
    with simd_path(lower):
        assert _C.get_simd() == lower_name
        with simd_path(higher):
            assert _C.get_simd() == higher_name
        assert _C.get_simd() == lower_name
    assert _C.get_simd() == before
    assert run_python("from ember import _C; print(_C.get_simd())", EMBER_SIMD=lower) == (
        lower_name
    )


@pytest.mark.parametrize("path", ["auto", "generic"])
def test_fma_peak_measures_a_positive_rate_on_every_path(path):
    with simd_path(path):
        rate = _C.fma_peak(threads=1, seconds=0.01)
    assert np.isfinite(rate) and rate > 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threads": 0}, "threads"),
    ({"seconds": 0.0}, "seconds"),
    ({"seconds": float("nan")}, "seconds"),
    ({"seconds": 61.0}, "seconds"),
])  # fmt: skip
def test_fma_peak_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=rf"\[fma_peak\] {message}"):
        _C.fma_peak(**kwargs)


def test_import_leaves_the_openmp_environment_as_it_was():
    """ember loads its OpenMP runtime with a bounded spin but must not change what other
    libraries loaded later in the process see."""
    names = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
    code = f"import os, ember; print([os.environ.get(n, 'unset') for n in {names!r}])"
    assert run_python(code) == "['unset', 'unset', 'unset']"
    assert run_python(code, OMP_WAIT_POLICY="active") == "['active', 'unset', 'unset']"
    assert run_python(code, GOMP_SPINCOUNT="7") == "['unset', '7', 'unset']"


def test_openmp_workers_spin_a_bounded_time_unless_the_user_chose():
    """libgomp reports its settings with OMP_DISPLAY_ENV: GOMP_SPINCOUNT is ember's 10000 while
    ember loads the runtime, and the user's value when they set one."""
    code = "import ember"

    def spincount(**env: str) -> str:
        environment = {**os.environ, "OMP_DISPLAY_ENV": "VERBOSE", **env}
        for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
            if name not in env:
                environment.pop(name, None)
        done = subprocess.run(
            [sys.executable, "-c", code], env=environment, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        lines = [line for line in done.stderr.splitlines() if "GOMP_SPINCOUNT" in line]
        if not lines:
            pytest.skip("the OpenMP runtime is not GNU libgomp (no GOMP_SPINCOUNT reported)")
        return lines[0].split("=")[-1].strip().strip("'")

    assert spincount() == "10000"
    assert spincount(GOMP_SPINCOUNT="12345") == "12345"
    assert spincount(OMP_WAIT_POLICY="passive") == "0"


def test_kernels_release_the_gil():
    """The main thread runs while another thread is inside a kernel. With a switch interval far
    longer than the test, a thread holding the GIL never hands it over on its own, so the main
    thread can only wake (and set the flag) while the worker sits in a GIL-free kernel; the
    worker repeats short products until it sees the flag, so nothing depends on how long one
    product takes."""
    import sys
    import threading

    a = np.random.default_rng(0).standard_normal((200, 200)).astype(np.float32)
    started, main_ran = threading.Event(), threading.Event()
    products = []

    def work():
        with num_threads(1):
            started.set()
            for _ in range(20_000):  # a bound for a failing build, not a time limit
                _C.gemm(a, a)
                products.append(1)
                if main_ran.is_set():
                    break

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        started.wait()
        main_ran.set()
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert main_ran.is_set() and len(products) < 20_000


def fake_sysfs(root, topology: dict) -> str:
    """A sysfs cpu directory: topology maps cpu -> (physical_package_id, core_id), or None for a
    CPU whose topology files are missing."""
    for cpu, ids in topology.items():
        directory = root / f"cpu{cpu}" / "topology"
        directory.mkdir(parents=True)
        if ids is not None:
            (directory / "physical_package_id").write_text(f"{ids[0]}\n")
            (directory / "core_id").write_text(f"{ids[1]}\n")
    return str(root)


def test_physical_cores_counts_smt_siblings_once(tmp_path):
    # Two cores with two hardware threads each (Linux numbers siblings apart), two packages
    # reusing core ids, and a CPU without topology files.
    smt = fake_sysfs(tmp_path / "smt", {0: (0, 0), 1: (0, 1), 2: (0, 0), 3: (0, 1)})
    assert _C._physical_cores(smt, [0, 1, 2, 3]) == 2
    assert _C._physical_cores(smt, [0, 2]) == 1  # an affinity mask on one core's siblings
    assert _C._physical_cores(smt, [1, 2]) == 2
    packages = fake_sysfs(tmp_path / "packages", {0: (0, 0), 1: (1, 0), 2: (1, 1)})
    assert _C._physical_cores(packages, [0, 1, 2]) == 3
    broken = fake_sysfs(tmp_path / "broken", {0: (0, 0), 1: None})
    assert _C._physical_cores(broken, [0, 1]) == 0
    assert _C._physical_cores(broken, [0, 5]) == 0


def test_default_threads_follow_the_affinity_mask_and_physical_cores():
    if not ember.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    allowed = sorted(os.sched_getaffinity(0))
    cores = _C._physical_cores("/sys/devices/system/cpu", allowed)
    if cores == 0:
        pytest.skip("no readable CPU topology in sysfs")
    show = "import ember; print(ember.get_num_threads())"
    assert int(run_python(show)) == min(cores, len(allowed))
    one_cpu = f"import os; os.sched_setaffinity(0, {{{allowed[-1]}}}); {show}"
    assert run_python(one_cpu) == "1"
