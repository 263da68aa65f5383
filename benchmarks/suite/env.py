"""What must happen before NumPy loads, and what the machine is. Imports nothing heavy.

OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE once, when NumPy loads it. Someone tuning a
kernel may have set them (to force OpenBLAS's AVX2 kernel, say); the numpy baseline should be
OpenBLAS's own choice for this CPU, so they are removed from THIS process before NumPy loads.
Subprocesses (epoch runs, import timings) get the environment as it was, plus what the runner
was told to set for every process (subprocess_env).

OpenBLAS's idle threads spin for up to 2^28 cycles (~80 ms) after each call before they sleep.
In one process with ember and torch, a numpy block left its worker spinning on the second core
through the next library's block, and 2-thread ember and torch rows came out at half speed in
some runs and full speed in others. This process sets OPENBLAS_THREAD_TIMEOUT=18 (2^18 cycles,
under 0.1 ms: about ember's own spin of 10000 rounds), unless the variable is set; the header
says which.

OpenMP's wait policy: ember loads GNU OpenMP with a bounded spin (GOMP_SPINCOUNT=10000) unless
OMP_WAIT_POLICY or GOMP_SPINCOUNT is set. In one process ember and torch share that runtime (one
libgomp.so.1 is loaded, by whoever comes first: ember, here), so torch's idle threads spin as
briefly; an epoch worker running torch alone keeps torch's default (~300,000 spins).
--omp-wait-policy sets one policy for all.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ORIGINAL_ENV = dict(os.environ)
FOR_EVERY_PROCESS: dict[str, str] = {}


def set_for_every_process(name: str, value: str) -> None:
    """Set `name` in this process and in every subprocess the suite starts."""
    os.environ[name] = value
    FOR_EVERY_PROCESS[name] = value


def subprocess_env(**extra: str) -> dict[str, str]:
    return ORIGINAL_ENV | FOR_EVERY_PROCESS | extra


def omp_wait_policy() -> str:
    if "OMP_WAIT_POLICY" in os.environ:
        return f"{os.environ['OMP_WAIT_POLICY']} (from the environment, for every process)"
    return (
        "ember's bounded spin (GOMP_SPINCOUNT=10000, set as it loads); torch shares ember's OpenMP "
        "runtime in this process (its idle threads spin as briefly), while torch's epoch workers "
        "keep its default (~300,000 spins)"
    )


REPO_ROOT = Path(__file__).resolve().parents[2]


def prepare_openblas(coretype: str | None = None) -> list[str]:
    """Unset the OpenBLAS overrides in this process (optionally force `coretype` instead) and
    return the names that were set. Must run before anything imports NumPy."""
    if "numpy" in sys.modules:
        raise RuntimeError("prepare_openblas() must run before NumPy is imported")
    unset = [f"{v}={os.environ.pop(v)}" for v in OPENBLAS_VARS if v in os.environ]
    if coretype:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")
    return unset


def openblas_thread_timeout() -> str:
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")
    chosen = "set by the suite" if ORIGINAL_ENV.get("OPENBLAS_THREAD_TIMEOUT") is None else "yours"
    return (
        f"OPENBLAS_THREAD_TIMEOUT={value} ({chosen}: idle OpenBLAS threads spin 2^{value} cycles)"
    )


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_mhz() -> float | None:
    """The clock the OS reports (on a VM: the hypervisor's figure, usually the base clock)."""
    value = _cpuinfo_field("cpu MHz")
    return float(value) if value else None


def cpu_flags() -> set[str]:
    return set((_cpuinfo_field("flags") or "").split())


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def git_revision() -> str:
    """The commit the working tree is on, '+dirty' when it has uncommitted changes (read-only
    git queries)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")
