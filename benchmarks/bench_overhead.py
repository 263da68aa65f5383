"""Per-op Python overhead of ember's Tensor/autograd layer, against PyTorch in the same run.

    python benchmarks/bench_overhead.py [--repeats 30] [--json out.json]

On tiny tensors the arithmetic is negligible, so these rows time the framework itself: building
the tape, dispatching to a kernel, walking the graph backward, accumulating .grad.

  relu fwd+bwd        y = relu(x); y.backward(g)                  x: (64, 10)
  linear fwd+bwd      y = x @ W.T + b; y.backward(g)              x: (64, 10), W: (10, 10)
  add fwd             x + x (no graph)                            x: (64, 10)

Both libraries run on one thread, interleaved batch by batch (ember, torch, ember, ...) so
background load hits both alike. Each figure is the median over batches of the per-call time of a
batch of calls, after warm-up, measured as this thread's CPU time: on a shared machine, time spent
descheduled would otherwise swamp microsecond figures. ratio = ember / torch (< 1: ember faster).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import ember
import numpy as np

try:
    import torch
except ImportError:  # the table then shows ember alone
    torch = None


def cases(lib, rng):
    """name -> a zero-argument callable running one step of the row in library `lib`."""

    def tensor(a, grad=False):
        if lib is ember:
            return ember.tensor(a, requires_grad=grad)
        return torch.tensor(a, requires_grad=grad)

    x = tensor(rng.standard_normal((64, 10)).astype(np.float32), grad=True)
    w = tensor(rng.standard_normal((10, 10)).astype(np.float32), grad=True)
    b = tensor(rng.standard_normal(10).astype(np.float32), grad=True)
    g = tensor(rng.standard_normal((64, 10)).astype(np.float32))
    plain = tensor(rng.standard_normal((64, 10)).astype(np.float32))

    def relu_fwd_bwd():
        lib.relu(x).backward(g)

    def linear_fwd_bwd():
        (x @ w.T + b).backward(g)

    def add_fwd():
        plain + plain

    return {
        "relu fwd+bwd (64, 10)": relu_fwd_bwd,
        "x @ W.T + b fwd+bwd (64, 10) x (10, 10)": linear_fwd_bwd,
        "add fwd (64, 10)": add_fwd,
    }


def measure(steps: dict, repeats: int, batch: int = 200) -> dict:
    """Median CPU microseconds per call of each step, over `repeats` batches of `batch` calls."""
    for step in steps.values():
        for _ in range(batch):
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.thread_time_ns()
            for _ in range(batch):
                step()
            times[name].append((time.thread_time_ns() - start) / batch / 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed batches per row")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    ember.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"ember {ember.__version__}  build: {ember.build_info()}")
    print(
        f"python {platform.python_version()}  numpy {np.__version__}  "
        f"torch {torch.__version__ if torch else 'not installed'}  threads: 1"
    )

    rng = np.random.default_rng(0)
    mine = cases(ember, rng)
    theirs = cases(torch, rng) if torch is not None else {}
    steps = {("ember", k): v for k, v in mine.items()}
    steps.update({("torch", k): v for k, v in theirs.items()})
    result = measure(steps, args.repeats)

    rows = []
    print(f"\n{'op':44s} {'ember µs':>9s} {'torch µs':>9s} {'ratio':>6s}")
    for name in mine:
        e = result[("ember", name)]
        t = result.get(("torch", name))
        ratio = e / t if t else None
        rows.append({"op": name, "ember_us": e, "torch_us": t, "ratio": ratio})
        print(
            f"{name:44s} {e:9.2f} {t if t else float('nan'):9.2f} "
            f"{ratio if ratio else float('nan'):6.2f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"build": ember.build_info(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
