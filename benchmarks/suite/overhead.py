"""(4) The Python layer: per-op cost of a forward + backward through autograd on tiny tensors,
and the time `import` takes.

On a (64, 10) tensor the arithmetic is negligible, so these rows time the framework itself:
building the tape, checking arguments, dispatching to a kernel, walking the graph backward,
accumulating .grad. One thread; each figure is this thread's CPU time per call (median of
interleaved batches), since on a shared machine time spent descheduled would swamp
microsecond figures.

Import time: a fresh interpreter per sample (ember and torch alternating), timing the import
statement alone (not the interpreter's start-up); median. `import ember` loads nn, optim, data
lazily, so a second row imports what a training script touches.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np

import ember
from suite import env
from suite.table import Row
from suite.timing import median_seconds

TITLE = "Python layer: autograd per-op overhead (1 thread, CPU time) and import time"

IMPORTS = [
    ("import ember", "import ember", "import torch"),
    ("import ember + nn, optim, data", "import ember, ember.nn, ember.optim, ember.data",
     "import torch"),
]  # fmt: skip


def step_cases(lib, nn, F, rng) -> dict:
    """op name -> a callable running one step of it in library `lib` (ember or torch)."""

    def tensor(a, grad=False):
        return lib.tensor(a, requires_grad=grad)

    x = tensor(rng.standard_normal((64, 10)).astype(np.float32), grad=True)
    w = tensor(rng.standard_normal((10, 10)).astype(np.float32), grad=True)
    b = tensor(rng.standard_normal(10).astype(np.float32), grad=True)
    g = tensor(rng.standard_normal((64, 10)).astype(np.float32))
    plain = tensor(rng.standard_normal((64, 10)).astype(np.float32))
    target = lib.from_numpy(rng.integers(0, 10, 64))
    lib.manual_seed(0)
    linear = nn.Linear(10, 10)

    return {
        "relu fwd+bwd": lambda: F.relu(x).backward(g),
        "Linear(10,10) fwd+bwd": lambda: linear(x).backward(g),
        "cross-entropy fwd+bwd": lambda: F.cross_entropy(x, target).backward(),
        "x @ W.T + b fwd+bwd": lambda: (x @ w.T + b).backward(g),
        "add fwd (no graph)": lambda: plain + plain,
    }


def run_steps(ctx, emit) -> None:
    rng = np.random.default_rng(0)
    mine = step_cases(ember, ember.nn, ember.nn.functional, rng)
    runners = {("ember", k): v for k, v in mine.items()}
    torch = ctx.torch
    if torch is not None:
        theirs = step_cases(torch, torch.nn, torch.nn.functional, rng)
        runners.update({("torch", k): v for k, v in theirs.items()})
    plan = replace(ctx.plan, clock=time.thread_time, budget_s=ctx.plan.budget_s / 2)
    ember.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    ms = {k: 1e3 * v for k, v in median_seconds(runners, plan).items()}
    for name in mine:
        emit(
            Row(
                section=TITLE,
                op=name,
                shape="(64, 10)",
                threads=1,
                ember_ms=ms[("ember", name)],
                torch_ms=ms.get(("torch", name)),
                note=f"{1e3 * ms[('ember', name)]:.1f} µs",
            )
        )


def import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env.subprocess_env(PYTHONPATH=":".join(sys.path)),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def run_imports(ctx, emit) -> None:
    repeats = 3 if ctx.quick else 7
    for name, ember_statement, torch_statement in IMPORTS[:1] if ctx.quick else IMPORTS:
        times = {"ember": [], "torch": []}
        for _ in range(repeats):
            times["ember"].append(import_seconds(ember_statement))
            if ctx.torch is not None:
                times["torch"].append(import_seconds(torch_statement))
        med = {k: 1e3 * statistics.median(v) for k, v in times.items() if v}
        emit(
            Row(
                section=TITLE,
                op=name,
                shape="fresh process",
                threads="-",
                ember_ms=med["ember"],
                torch_ms=med.get("torch"),
                note=f"median of {repeats}"
                + (f"; vs `{torch_statement}`" if "torch" in med else ""),
            )
        )


def run(ctx, emit) -> None:
    run_steps(ctx, emit)
    run_imports(ctx, emit)
