"""ember's CUDA results and gradients against its CPU ones at training sizes (started by
benchmarks/gpu_check.sh on a GPU machine).

tests/test_cuda.py keeps its shapes small, so that it also runs on the emulator; this script uses
shapes large enough to run many thread blocks, grid-stride loops and tile edges on a real GPU.

Each case runs one expression on both devices from the same values and compares the output and
the gradients of every input for one random upstream gradient:
- float64: the GPU against the CPU, normwise (max |gpu - cpu| / max |cpu|) within 1e-10;
- float32: both devices against the CPU's float64 result, the GPU's normwise error at most 4x
  the CPU's own (or 1e-6), so a summation order of another kind passes and a wrong tile fails.
Then dropout's mask (bit for bit), SGD/Adam steps over a 5M-element parameter, and the losses of
300 LeNet-5 training steps on both devices.
Exits non-zero when any comparison fails.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np

import ember
import ember.cuda
import ember.nn as nn
import ember.nn.functional as F
import ember.optim

CUDA = "cuda"


def N(*shape):
    return (shape, "normal")


def C(classes, *shape):
    return (shape, f"class:{classes}")


# name, {input: (shape, kind)}, fn: the gradients of all float inputs are compared
CASES = [
    ("matmul odd 1000x1001x999", dict(a=N(1000, 1001), b=N(1001, 999)), lambda a, b: a @ b),
    ("matmul a.T @ b 777x512x333", dict(a=N(512, 777), b=N(512, 333)), lambda a, b: a.t() @ b),
    ("matvec 1x4096x4096", dict(a=N(1, 4096), b=N(4096, 4096)), lambda a, b: a @ b),
    ("bmm 16x257x129x65", dict(a=N(16, 257, 129), b=N(16, 129, 65)), lambda a, b: a @ b),
    ("linear 1024x784->256", dict(x=N(1024, 784), w=N(256, 784), b=N(256)), F.linear),
    (
        "conv LeNet1 64x1x28x28",
        dict(x=N(64, 1, 28, 28), w=N(6, 1, 5, 5), b=N(6)),
        lambda x, w, b: F.conv2d(x, w, b, padding=2),
    ),
    (
        "conv LeNet2 64x6x14x14",
        dict(x=N(64, 6, 14, 14), w=N(16, 6, 5, 5), b=N(16)),
        lambda x, w, b: F.conv2d(x, w, b),
    ),
    (
        "conv 8x64x32x32 3x3",
        dict(x=N(8, 64, 32, 32), w=N(64, 64, 3, 3)),
        lambda x, w: F.conv2d(x, w, padding=1),
    ),
    (
        "conv 4x3x67x61 7x7/2",
        dict(x=N(4, 3, 67, 61), w=N(16, 3, 7, 7)),
        lambda x, w: F.conv2d(x, w, stride=2, padding=3),
    ),
    (
        "conv grouped 4x32x33x31",
        dict(x=N(4, 32, 33, 31), w=N(48, 8, 3, 3)),
        lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=4),
    ),
    ("max_pool 64x16x28x28", dict(x=N(64, 16, 28, 28)), lambda x: F.max_pool2d(x, 2)),
    ("max_pool 3/2/1 8x32x57x45", dict(x=N(8, 32, 57, 45)), lambda x: F.max_pool2d(x, 3, 2, 1)),
    ("avg_pool 3/2/1 8x32x57x45", dict(x=N(8, 32, 57, 45)), lambda x: F.avg_pool2d(x, 3, 2, 1)),
    ("softmax 512x10000", dict(x=N(512, 10000)), lambda x: F.softmax(x, dim=-1)),
    ("log_softmax dim0 3000x70", dict(x=N(3000, 70)), lambda x: F.log_softmax(x, dim=0)),
    (
        "cross_entropy 8192x1000 ls",
        dict(x=N(8192, 1000), t=C(1000, 8192)),
        lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
    ),
    ("cross_entropy 65536x10", dict(x=N(65536, 10), t=C(10, 65536)), F.cross_entropy),
    ("sum 2^24", dict(x=N(1 << 24)), lambda x: x.sum()),
    ("mean dim0 4096x1023", dict(x=N(4096, 1023)), lambda x: x.mean(dim=0)),
    ("max dim1 1000x5000", dict(x=N(1000, 5000)), lambda x: x.max(dim=1).values),
    ("var dim1 300x20000", dict(x=N(300, 20000)), lambda x: x.var(dim=1)),
    (
        "broadcast mul-add 256x1x512",
        dict(a=N(256, 1, 512), b=N(1, 384, 512), c=N(512)),
        lambda a, b, c: a * b + c,
    ),
    ("gelu/tanh/sigmoid 4M", dict(x=N(4, 1 << 20)), lambda x: F.gelu(x) + F.tanh(x) * F.sigmoid(x)),
    ("relu+exp 4M", dict(x=N(1 << 22)), lambda x: F.relu(x) + (x * 0.5).exp()),
    (
        "batch_norm 256x64x16x16",
        dict(x=N(256, 64, 16, 16)),
        lambda x: F.batch_norm(x, None, None, training=True),
    ),
    (
        "gather rows 1M of 4096x16",
        dict(x=N(4096, 16), i=C(4096, 1 << 20)),
        lambda x, i: x[i] * 1.5,
    ),
    (
        "permute, transpose, mean",
        dict(x=N(64, 96, 128)),
        lambda x: x.permute(2, 0, 1).contiguous() * x.mean(dim=1).t()[:, :, None],
    ),
]


def make(kind: str, shape: tuple, rng) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind.startswith("class:"):
        return rng.integers(0, int(kind[6:]), shape).astype(np.int64)
    raise ValueError(kind)


def forward(fn, arrays: dict, dtype, device):
    tensors = {}
    for name, a in arrays.items():
        floating = a.dtype.kind == "f"
        tensors[name] = ember.tensor(
            a.astype(dtype) if floating else a, device=device, requires_grad=floating
        )
    return fn(*tensors.values()), tensors


def run(fn, arrays: dict, dtype, device, upstream: np.ndarray) -> dict[str, np.ndarray]:
    """The output and the gradients of fn, as float64 NumPy arrays."""
    y, tensors = forward(fn, arrays, dtype, device)
    y.backward(ember.tensor(upstream.astype(dtype), device=device))
    results = {"out": y.detach().cpu().numpy().astype(np.float64)}
    for name, t in tensors.items():
        if t.requires_grad:
            results[f"grad {name}"] = t.grad.cpu().numpy().astype(np.float64)
    return results


def normwise(a: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return float(np.max(np.abs(a - ref))) / max(scale, 1e-30) if ref.size else 0.0


def check_case(name, inputs, fn) -> list[str]:
    rng = np.random.default_rng(sum(map(ord, name)))
    arrays = {k: make(kind, shape, rng) for k, (shape, kind) in inputs.items()}
    with ember.no_grad():
        shape = tuple(forward(fn, arrays, np.float32, CUDA)[0].shape)
    upstream = rng.standard_normal(shape)
    failures = []
    cpu64 = run(fn, arrays, np.float64, "cpu", upstream)
    gpu64 = run(fn, arrays, np.float64, CUDA, upstream)
    cpu32 = run(fn, arrays, np.float32, "cpu", upstream)
    gpu32 = run(fn, arrays, np.float32, CUDA, upstream)
    worst = []
    for key, ref in cpu64.items():
        e64 = normwise(gpu64[key], ref)
        e_cpu32, e_gpu32 = normwise(cpu32[key], ref), normwise(gpu32[key], ref)
        ok64 = e64 <= 1e-10
        ok32 = e_gpu32 <= max(4 * e_cpu32, 1e-6)
        worst.append(f"{key}: f64 {e64:.1e}, f32 gpu {e_gpu32:.1e} / cpu {e_cpu32:.1e}")
        if not (ok64 and ok32):
            failures.append(f"{name}: {worst[-1]}")
    status = "ok  " if not failures else "FAIL"
    print(f"{status} {name:<30} " + "; ".join(worst), flush=True)
    return failures


def check_dropout() -> list[str]:
    x = np.random.default_rng(3).standard_normal(10_000_019).astype(np.float32)
    outs = []
    for device in ("cpu", CUDA):
        ember.manual_seed(123)
        t = ember.tensor(x, device=device, requires_grad=True)
        y = F.dropout(t, 0.3)
        y.backward(ember.ones_like(y))
        outs.append((y.detach().cpu().numpy(), t.grad.cpu().numpy()))
    (y_cpu, g_cpu), (y_gpu, g_gpu) = outs
    same_mask = np.array_equal(y_cpu == 0, y_gpu == 0) and np.array_equal(g_cpu, g_gpu)
    close = np.allclose(y_gpu, y_cpu, rtol=1e-6, atol=0)
    kept = float(np.mean(y_gpu != 0))
    print(
        f"{'ok  ' if same_mask and close else 'FAIL'} dropout 10M p=0.3: same mask "
        f"{same_mask}, values close {close}, kept {kept:.4f}",
        flush=True,
    )
    return [] if same_mask and close else ["dropout: CPU and GPU masks differ"]


def check_optimizers() -> list[str]:
    failures = []
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal(5_000_003).astype(np.float32)
    grads = [rng.standard_normal(w0.size).astype(np.float32) for _ in range(3)]
    makers = {
        "SGD momentum nesterov wd": lambda p: ember.optim.SGD(
            p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2
        ),
        "Adam amsgrad wd": lambda p: ember.optim.Adam(p, lr=1e-2, weight_decay=1e-2, amsgrad=True),
        "AdamW": lambda p: ember.optim.AdamW(p, lr=1e-2),
    }
    for name, make_opt in makers.items():
        finals = []
        for device in ("cpu", CUDA):
            w = ember.tensor(w0, device=device, requires_grad=True)
            opt = make_opt([w])
            for g in grads:
                w.grad = ember.tensor(g, device=device)
                opt.step()
            finals.append(w.detach().cpu().numpy())
        err = normwise(finals[1], finals[0])
        ok = err <= 1e-6
        print(
            f"{'ok  ' if ok else 'FAIL'} {name:<30} 3 steps on 5M: normwise {err:.1e}", flush=True
        )
        if not ok:
            failures.append(f"{name}: normwise {err:.1e}")
    return failures


def lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def check_training_trajectory(steps: int = 300) -> list[str]:
    """LeNet-5 trained by SGD (lr 0.05, momentum 0.9) on a learnable MNIST-shaped task on both
    devices from the same weights: the losses must agree closely at first; later they drift apart
    as float32 rounding differences grow (training is chaotic), and this shows how fast."""
    rng = np.random.default_rng(6)
    projection = rng.standard_normal((784, 10)).astype(np.float32)
    batches = []
    for _ in range(steps):
        x = rng.random((64, 1, 28, 28), dtype=np.float32)
        batches.append((x, np.argmax(x.reshape(64, -1) @ projection, axis=1)))
    ember.manual_seed(0)
    cpu_model = lenet()
    losses = {}
    for device in ("cpu", CUDA):
        model = copy.deepcopy(cpu_model).to(device)
        opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses[device] = []
        for x, y in batches:
            opt.zero_grad()
            loss = F.cross_entropy(
                model(ember.tensor(x, device=device)), ember.tensor(y, device=device)
            )
            loss.backward()
            opt.step()
            losses[device].append(loss.item())
    cpu, gpu = np.array(losses["cpu"]), np.array(losses[CUDA])
    deviation = np.abs(gpu - cpu) / np.abs(cpu)
    marks = [m for m in (1, 10, 30, 100, 300, 1000) if m <= steps]
    ok = bool(np.all(deviation[:10] <= 1e-4))
    print(
        f"{'ok  ' if ok else 'FAIL'} LeNet SGD {steps} steps: loss cpu {cpu[0]:.4f} -> {cpu[-1]:.4f}, "
        f"gpu {gpu[0]:.4f} -> {gpu[-1]:.4f}; relative deviation (running max) "
        + ", ".join(f"step {m}: {deviation[:m].max():.1e}" for m in marks),
        flush=True,
    )
    return [] if ok else ["LeNet training: the first 10 losses differ by more than 1e-4"]


def main() -> None:
    global CUDA
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default=CUDA, help="the device checked against the CPU (cpu: a dry run)"
    )
    CUDA = parser.parse_args().device
    if CUDA != "cpu" and not ember.cuda.is_available():
        sys.exit("gpu_crosscheck: no CUDA device (ember.cuda.is_available() is False)")
    start = time.perf_counter()
    failures = []
    for name, inputs, fn in CASES:
        try:
            failures += check_case(name, inputs, fn)
        except Exception as err:  # report and go on: one run should show every failure
            print(f"ERR  {name}: {type(err).__name__}: {err}", flush=True)
            failures.append(f"{name}: {type(err).__name__}: {err}")
    for check in (check_dropout, check_optimizers, check_training_trajectory):
        try:
            failures += check()
        except Exception as err:
            print(f"ERR  {check.__name__}: {type(err).__name__}: {err}", flush=True)
            failures.append(f"{check.__name__}: {type(err).__name__}: {err}")
    print(
        f"\n{len(CASES) + 5} checks in {time.perf_counter() - start:.0f} s: {len(failures)} failed"
    )
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
