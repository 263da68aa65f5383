"""(5) End to end: one epoch of MNIST training, ember's own loop against a plain PyTorch loop.

Each epoch runs in a fresh process (suite/epoch_worker.py, the recipe is there) so its peak RSS
(VmHWM, counted from after the data are prepared) is that framework's alone; ember and torch runs alternate, the order flipping each repeat;
figures are medians. The data are the real MNIST training images when ../shared/data/mnist
(from the repository's root) holds them, read with ember.datasets.MNIST, else random images and
labels of the same shape. With --quick only a subset is trained, and any run stops after
MAX_SECONDS (a 2-thread epoch on a busy 2-core machine can take minutes); the time is then
scaled to 60,000 images and the note says from how many (start-up excluded either way).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from suite import env
from suite.table import Row

TITLE = "End to end: seconds per MNIST epoch (60,000 images, batch 64) and peak RSS"
WORKER = Path(__file__).with_name("epoch_worker.py")
MNIST_DIR = env.REPO_ROOT.parent / "shared" / "data" / "mnist"
EPOCH = 60000
MAX_SECONDS = {"quick": 5.0, "full": 20.0}
MODELS = [("mlp", "MNIST MLP 784-256-128-10 epoch"), ("lenet", "LeNet-5 epoch")]


def write_data(path: Path) -> str:
    """The training images (uint8, N x 28 x 28) and labels into an .npz; returns what they are."""
    try:
        from ember.datasets import MNIST

        train = MNIST(MNIST_DIR, train=True)
        images, labels, source = train.data, train.targets, "real MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (EPOCH, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, EPOCH)
        source = f"random data of MNIST's shape (no MNIST in {MNIST_DIR})"
    np.savez(path, images=images, labels=labels)
    return source


def run_worker(
    framework: str, model: str, threads: int, data: Path, samples: int, max_seconds: float
) -> dict:
    cmd = [sys.executable, str(WORKER), "--framework", framework, "--model", model,
           "--threads", str(threads), "--data", str(data), "--samples", str(samples),
           "--max-seconds", str(max_seconds)]  # fmt: skip
    worker_env = env.subprocess_env(OMP_NUM_THREADS=str(threads), PYTHONPATH=":".join(sys.path))
    done = subprocess.run(
        cmd, env=worker_env, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"{framework} worker failed: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"] if runs else "not run"}
    return {
        "seconds": statistics.median(r["seconds"] * EPOCH / r["samples"] for r in ok),
        "samples": min(r["samples"] for r in ok),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in ok),
        "data_rss_mb": statistics.median(r["data_rss_mb"] for r in ok),
        "loss": ok[-1]["loss"],
        "runs": runs,
    }


def run(ctx, emit) -> None:
    samples = 6400 if ctx.quick else EPOCH
    repeats = 1 if ctx.quick else 3
    max_seconds = MAX_SECONDS["quick" if ctx.quick else "full"]
    # On a busy 2-core machine a 2-thread epoch can take 50x longer (see the README): --quick
    # keeps to the smallest thread count to stay short.
    thread_counts = [min(ctx.threads)] if ctx.quick else ctx.threads
    frameworks = ["ember"] + (["torch"] if ctx.torch is not None else [])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mnist.npz"
        source = write_data(data)
        ctx.notes.append(f"training data: {source}")
        data_note = "real MNIST" if source == "real MNIST" else "random data"
        for threads in thread_counts:
            for model, label in MODELS:
                runs = {f: [] for f in frameworks}
                for r in range(repeats):
                    order = frameworks if r % 2 == 0 else frameworks[::-1]
                    for framework in order:
                        runs[framework].append(
                            run_worker(framework, model, threads, data, samples, max_seconds)
                        )
                result = {f: summarize(v) for f, v in runs.items()}
                emit(make_row(label, threads, result, data_note))


def make_row(label: str, threads: int, result: dict, data_note: str) -> Row:
    ember_r, torch_r = result["ember"], result.get("torch", {})
    note = [data_note]
    if "error" in ember_r or "error" in torch_r:
        note.append(ember_r.get("error") or torch_r.get("error"))
    rss = [f"{f} {r['peak_rss_mb']:.0f}" for f, r in result.items() if "peak_rss_mb" in r]
    if rss:
        data_mb = next(r["data_rss_mb"] for r in result.values() if "data_rss_mb" in r)
        note.append(f"peak RSS MB: {' / '.join(rss)} (data alone {data_mb:.0f})")
    fewest = min((r["samples"] for r in result.values() if "samples" in r), default=EPOCH)
    if fewest < EPOCH:
        note.append(f"scaled from {fewest} images")
    seconds = ember_r.get("seconds")
    return Row(
        section=TITLE,
        op=label,
        shape=f"{EPOCH}x1x28x28 b64",
        threads=threads,
        ember_ms=1e3 * seconds if seconds else None,
        torch_ms=1e3 * torch_r["seconds"] if "seconds" in torch_r else None,
        rate=EPOCH / seconds if seconds else None,
        unit="img/s",
        note="; ".join(note),
        extra=result,
    )
