"""Conv2d forward + backward (dx, dweight, dbias) at batch 64, ember vs PyTorch (if installed).

    python benchmarks/bench_conv.py [--quick] [--threads 1 2] [--cpu-time] [--json out.json]

Each row times one training step of one layer: y = conv2d(x, w, b), then the gradients of x, w
and b for a fixed upstream gradient. Median over repeats after warm-up; both libraries run in
the same process at the same thread count. GFLOP/s counts the three products of a direct
convolution (forward, dx, dw: 3 * 2*N*O*OH*OW*C*KH*KW), whatever algorithm ran, so it compares
across layers and libraries. On a shared machine, --cpu-time measures the process's CPU time
instead of wall time: steadier when other jobs compete for the cores, meaningful at 1 thread only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import ember
import numpy as np
from ember import _C

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

BATCH = 64
clock = time.perf_counter
# name, (C, H, W), (O, KH, KW), padding
LAYERS = [
    ("lenet.conv1", (1, 28, 28), (6, 5, 5), 2),
    ("lenet.conv1 (pad 0)", (1, 28, 28), (6, 5, 5), 0),
    ("lenet.conv2", (6, 14, 14), (16, 5, 5), 0),
    ("cifar.conv1", (3, 32, 32), (6, 5, 5), 0),
    ("64->64 3x3", (64, 32, 32), (64, 3, 3), 1),
]


def median_ms(step, budget_s: float, max_repeats: int) -> float:
    """Median time of `step` after two warm-up calls; as many repeats as fit in the budget."""
    step()
    start = clock()
    step()
    first = clock() - start
    repeats = int(min(max_repeats, max(3, budget_s / max(first, 1e-9))))
    times = []
    for _ in range(repeats):
        start = clock()
        step()
        times.append(clock() - start)
    return 1e3 * statistics.median(times)


def time_layer(x, w, b, dout, pad, budget_s, max_repeats) -> dict:
    def ember_step():
        _C.conv2d_forward(x, w, b, padding=pad)
        _C.conv2d_backward(dout, x, w, padding=pad)

    times = {"ember_ms": median_ms(ember_step, budget_s, max_repeats)}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tdout = torch.tensor(dout)

        def torch_step():
            y = F.conv2d(tx, tw, tb, padding=pad)
            torch.autograd.grad(y, (tx, tw, tb), tdout)

        times["torch_ms"] = median_ms(torch_step, budget_s, max_repeats)
        times["speedup"] = times["torch_ms"] / times["ember_ms"]
    return times


def run(quick: bool, thread_counts: list[int]) -> list[dict]:
    rng = np.random.default_rng(0)
    budget_s, max_repeats = (0.5, 5) if quick else (2.0, 30)
    rows = []
    for threads in thread_counts:
        ember.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for name, (C, H, W), (O, KH, KW), pad in LAYERS:
            x = rng.standard_normal((BATCH, C, H, W)).astype(np.float32)
            w = (rng.standard_normal((O, C, KH, KW)) / np.sqrt(C * KH * KW)).astype(np.float32)
            b = rng.standard_normal(O).astype(np.float32)
            OH, OW = H + 2 * pad - KH + 1, W + 2 * pad - KW + 1
            dout = rng.standard_normal((BATCH, O, OH, OW)).astype(np.float32)
            row = {
                "op": "conv2d fwd+bwd",
                "layer": name,
                "shape": f"{BATCH}x{C}x{H}x{W} -> {O}x{KH}x{KW}",
                "threads": threads,
                **time_layer(x, w, b, dout, pad, budget_s, max_repeats),
            }
            row["gflops"] = 3 * 2 * BATCH * O * OH * OW * C * KH * KW / row["ember_ms"] / 1e6
            rows.append(row)
            print_row(row)
    return rows


def print_row(r: dict) -> None:
    no_torch = "        - |       -"
    torch_part = f"{r['torch_ms']:9.3f} | {r['speedup']:6.2f}x" if "torch_ms" in r else no_torch
    print(
        f"{r['op']:15} | {r['layer']:19} | {r['shape']:26} | {r['threads']:7} | "
        f"{r['ember_ms']:8.3f} | {r['gflops']:7.1f} | {torch_part}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.cpu_time:
        global clock
        clock = time.process_time
    print(f"ember {ember.build_info()}")
    timer = "process CPU time" if args.cpu_time else "wall time"
    print(
        f"torch {torch.__version__ if torch else 'not installed'}; batch {BATCH}; float32; {timer}"
    )
    header = f"{'op':15} | {'layer':19} | {'shape':26} | threads | ember ms | GFLOP/s"
    print(f"{header} |  torch ms | x torch")
    rows = run(args.quick, args.threads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
