"""What ember's CUDA backend does on this GPU, in one run (started by benchmarks/gpu_check.sh):
build info, GEMM throughput of ember (its own kernel, and cuBLAS when built with it) against
PyTorch on the same GPU, and training steps per second of an MLP and a LeNet on MNIST-shaped
batches on the GPU against ember on the CPU.

Timings are medians of repeated runs after warm-ups, each bounded by a time budget so the whole
check stays within a few minutes. `--quick` shrinks every size (for a dry run, e.g. on the
emulated build).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import ember
import ember.cuda
import ember.nn as nn
import ember.nn.functional as F
import ember.optim

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None


def torch_cuda() -> bool:
    return torch is not None and torch.cuda.is_available()


def median_seconds(fn, sync, warmup: int = 3, reps: int = 10, budget: float = 4.0) -> float:
    """Median wall time of fn() (synchronized), repeated until `reps` runs or `budget` seconds."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    start = time.perf_counter()
    while len(times) < reps and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_rows(quick: bool):
    """(label, M, N, K): a large square product and the MLP's three products per layer."""
    if quick:
        return [("square", 96, 96, 96), ("mlp fwd b64", 64, 32, 40)]
    rows = [("square 4096", 4096, 4096, 4096), ("square 1024", 1024, 1024, 1024)]
    for batch in (64, 128):
        rows += [
            (f"mlp fwd   b{batch}", batch, 256, 784),  # x @ W1.T
            (f"mlp dW    b{batch}", 256, 784, batch),  # dy.T @ x
            (f"mlp dx    b{batch}", batch, 784, 256),  # dy @ W1
        ]
    return rows


def bench_gemm(quick: bool) -> list:
    results = []
    backends = ["ember"] + (["cuBLAS"] if ember._C.cuda.cublas_built() else [])
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False  # full float32, as ember computes
    previous = ember.cuda.gemm_backend()  # what `a @ b` runs: the ratio column compares it
    print(
        f"\n{'GEMM float32':<16}{'M x N x K':>22}"
        + "".join(f"{b + ' ms':>12}{'TFLOP/s':>9}" for b in backends + ["torch"])
        + f"{'torch/' + previous:>14}"
    )
    try:
        for label, M, N, K in gemm_rows(quick):
            flops = 2.0 * M * N * K
            a = ember.randn(M, K, device="cuda")
            b = ember.randn(K, N, device="cuda")
            row = {"shape": [M, N, K], "label": label}
            line = f"{label:<16}{f'{M} x {N} x {K}':>22}"
            for backend in backends:
                ember.cuda.set_gemm_backend(backend)
                s = median_seconds(lambda: a @ b, ember.cuda.synchronize)
                row[backend] = s
                line += f"{s * 1e3:>12.3f}{flops / s / 1e12:>9.2f}"
            if torch_cuda():
                ta = torch.from_numpy(a.cpu().numpy()).cuda()
                tb = torch.from_numpy(b.cpu().numpy()).cuda()
                s = median_seconds(lambda: ta @ tb, torch.cuda.synchronize)
                row["torch"] = s
                line += f"{s * 1e3:>12.3f}{flops / s / 1e12:>9.2f}{s / row[previous]:>14.2f}"
                ember.cuda.set_gemm_backend("ember")
                diff = np.abs((a @ b).cpu().numpy() - (ta @ tb).cpu().numpy()).max()
                row["max_abs_diff_vs_torch"] = float(diff)
            else:
                line += f"{'(no torch.cuda)':>34}"
            print(line, flush=True)
            row["active"] = previous
            results.append(row)
    finally:
        ember.cuda.set_gemm_backend(previous)
    return results


# ember's nn and torch.nn share these names and defaults: one definition builds either model.
def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def steps_per_second(model, optimizer, cross_entropy, x, y, steps: int, budget: float) -> float:
    """SGD steps per second, queued back to back (either framework: the same calls); the last
    loss's .item() waits for the queued steps."""

    def step():
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(2):
        step().item()
    done, start = 0, time.perf_counter()
    while done < steps and time.perf_counter() - start < budget:
        loss = step()
        done += 1
    loss.item()
    return done / (time.perf_counter() - start)


def ember_steps(make_model, shape, batch: int, device: str, steps: int, budget: float) -> float:
    ember.manual_seed(0)
    model = make_model(nn).to(device)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.random((batch,) + shape, dtype=np.float32), device=device)
    y = ember.tensor(rng.integers(0, 10, batch), device=device)
    return steps_per_second(model, optimizer, F.cross_entropy, x, y, steps, budget)


def torch_steps(make_model, shape, batch: int, steps: int, budget: float) -> float:
    """The same model and step in PyTorch on its GPU: the peer for ember's GPU steps."""
    model = make_model(torch.nn).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand((batch,) + shape, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")
    return steps_per_second(
        model, optimizer, torch.nn.functional.cross_entropy, x, y, steps, budget
    )


def bench_training(quick: bool) -> list:
    results = []
    cases = [
        ("MLP 784-256-10", mlp, (784,), 64),
        ("MLP 784-256-10", mlp, (784,), 128),
        ("LeNet-5", lenet, (1, 28, 28), 64),
    ]
    if quick:
        cases = [(n, f, s, 8) for n, f, s, _ in cases[::2]]
    print(
        f"\n{'training step':<18}{'batch':>6}{'GPU steps/s':>13}{'CPU steps/s':>13}{'GPU/CPU':>9}"
        f"{'torch GPU':>11}{'ember/torch':>13}"
    )
    for name, make, shape, batch in cases:
        gpu = ember_steps(make, shape, batch, "cuda", 3 if quick else 500, 4.0)
        cpu = ember_steps(make, shape, batch, "cpu", 3 if quick else 100, 4.0)
        row = {"model": name, "batch": batch, "gpu_steps_s": gpu, "cpu_steps_s": cpu}
        line = f"{name:<18}{batch:>6}{gpu:>13.1f}{cpu:>13.1f}{gpu / cpu:>9.2f}"
        if torch_cuda():
            row["torch_gpu_steps_s"] = peer = torch_steps(
                make, shape, batch, 3 if quick else 500, 4.0
            )
            line += f"{peer:>11.1f}{gpu / peer:>13.2f}"
        print(line, flush=True)
        results.append(row)
    return results


def bench_overhead(quick: bool) -> list:
    """Microseconds per call of small ops queued back to back (Python, dispatch and launch), on
    the GPU (ember, PyTorch) and on the CPU (ember): what bounds the small models' steps. The
    `a + b` rows below the ops split ember's GPU cost into its layers."""
    x_host = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    layer = {device: nn.Linear(256, 256).to(device) for device in ("cuda", "cpu")}
    ops = [
        ("a + b", lambda x, d: x + x),
        ("relu", lambda x, d: F.relu(x)),
        ("Linear(256, 256)", lambda x, d: layer[d](x)),
        ("sum", lambda x, d: x.sum()),
    ]
    peers = {}
    if torch_cuda():
        t_layer = torch.nn.Linear(256, 256).cuda()
        peers = {
            "a + b": lambda x: x + x,
            "relu": torch.relu,
            "Linear(256, 256)": t_layer,
            "sum": lambda x: x.sum(),
        }
    calls = 20 if quick else 2000

    def per_call(fn, sync) -> float:
        def many():
            for _ in range(calls):
                fn()

        return median_seconds(many, sync, warmup=1, reps=5) / calls * 1e6

    print(f"\n{'op on 64x256 float32':<26}{'GPU us/call':>13}{'torch GPU':>11}{'CPU us/call':>13}")
    results = []
    with ember.no_grad():
        for name, op in ops:
            row = {"op": name}
            for device, sync in (("cuda", ember.cuda.synchronize), ("cpu", lambda: None)):
                x = ember.tensor(x_host, device=device)
                row[device] = per_call(lambda op=op, x=x, d=device: op(x, d), sync)
            if name in peers:
                tx = torch.from_numpy(x_host).cuda()
                with torch.no_grad():
                    row["torch_cuda"] = per_call(
                        lambda f=peers[name], tx=tx: f(tx), torch.cuda.synchronize
                    )
            peer = f"{row['torch_cuda']:>11.1f}" if "torch_cuda" in row else f"{'':>11}"
            print(f"{name:<26}{row['cuda']:>13.1f}{peer}{row['cpu']:>13.1f}", flush=True)
            results.append(row)
        # The layers of one GPU `a + b`: the native launch alone, then the backend's Python.
        from ember.backends import cuda as backend

        x = ember.tensor(x_host, device="cuda")
        a = x._data
        out = backend.add(a, a)
        layers = [
            ("  a + b: native launch", lambda: ember._C.cuda.binary("add", out, a, a, 0.0)),
            ("  a + b: backend.add", lambda: backend.add(a, a)),
            ("  a + b: Tensor, no_grad", lambda: x + x),
        ]
        for name, fn in layers:
            us = per_call(fn, ember.cuda.synchronize)
            print(f"{name:<26}{us:>13.1f}", flush=True)
            results.append({"op": name.strip(), "cuda": us})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a dry run)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not ember.cuda.is_available():
        raise SystemExit(
            f"gpu_check: ember.cuda.is_available() is False (build_info: {ember.build_info()})"
        )
    info = ember.build_info()
    print("ember build_info:", json.dumps(info))
    print(
        "device:", ember.cuda.get_device_name(), "| ember threads on CPU:", ember.get_num_threads()
    )
    if torch is not None:
        print("torch", torch.__version__, "| torch.cuda:", torch_cuda())
    results = {
        "build_info": info,
        "gemm": bench_gemm(args.quick),
        "training": bench_training(args.quick),
        "overhead_us": bench_overhead(args.quick),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
