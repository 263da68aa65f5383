"""One timed training epoch of one framework, alone in its process, so that its peak RSS is its
own. Imports only numpy and the framework under test. Prints one JSON line.

    python epoch_worker.py --framework ember|torch --model mlp|lenet --threads 1
                           --data mnist.npz --samples 60000

Recipe (both frameworks): inputs normalised with MNIST's mean and std, cross-entropy, SGD
(lr 0.05, momentum 0.9), batches of 64 reshuffled each epoch. Untimed warm-up of WARMUP_BATCHES
batches first, then one timed epoch over `samples` images. ember trains with its own loop,
ember.training.fit(verbose=0); torch with the plain loop below. --max-seconds ends the epoch
early (after the batch that crosses it); "samples" then says how many images were trained.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

MEAN, STD = 0.1307, 0.3081
BATCH, LR, MOMENTUM = 64, 0.05, 0.9
WARMUP_BATCHES = 10


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux carries ru_maxrss over fork + exec, so a worker started
    from a big parent would report the parent's peak: VmHWM (per address space) is read
    instead, ru_maxrss only where /proc is absent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux >= 4.0), so that the data's preparation (its
    temporaries) does not count as the framework's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def load(path: str, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        images, labels = data["images"], data["labels"]
    pick = np.random.default_rng(seed).permutation(len(images))[:samples]
    x = images[pick].reshape(-1, 1, 28, 28).astype(np.float32)
    x /= 255
    x -= MEAN
    x /= STD
    return x, labels[pick].astype(np.int64)


def layers(nn, model: str) -> list:
    """The same architecture in either framework: their nn modules share names and defaults."""
    if model == "mlp":
        return [nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                nn.Linear(128, 10)]  # fmt: skip
    return [
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    ]  # fmt: skip


def ember_epoch(args, x, y) -> tuple[float, int, float]:
    import ember
    from ember import nn, optim
    from ember.training import Callback

    class TimeLimit(Callback):
        def on_train_begin(self, state) -> None:
            self.batches, self.start = 0, time.perf_counter()

        def on_batch_end(self, state, logs) -> None:
            self.batches += 1
            if time.perf_counter() - self.start > args.max_seconds:
                state.stop_training = True

    ember.set_num_threads(args.threads)
    ember.manual_seed(args.seed)
    model = nn.Sequential(*layers(nn, args.model))
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    X, Y = ember.from_numpy(x), ember.from_numpy(y)
    warm = WARMUP_BATCHES * BATCH
    ember.fit(model, (X[:warm], Y[:warm]), loss_fn, optimizer, batch_size=BATCH, verbose=0)
    limit = TimeLimit()
    start = time.perf_counter()
    history = ember.fit(
        model, (X, Y), loss_fn, optimizer, batch_size=BATCH, verbose=0, callbacks=[limit]
    )
    seconds = time.perf_counter() - start
    return seconds, min(len(X), limit.batches * BATCH), float(history.history["loss"][-1])


def torch_epoch(args, x, y) -> tuple[float, int, float]:
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = nn.Sequential(*layers(nn, args.model))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)

    def epoch(n: int, max_seconds: float) -> tuple[int, float]:
        model.train()
        order = torch.randperm(n)
        total, done, start = 0.0, 0, time.perf_counter()
        for i in range(0, n, BATCH):
            idx = order[i : i + BATCH]
            xb, yb = X[idx], Y[idx]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            done += len(idx)
            if time.perf_counter() - start > max_seconds:
                break
        return done, total / done

    epoch(WARMUP_BATCHES * BATCH, float("inf"))
    start = time.perf_counter()
    done, loss = epoch(len(X), args.max_seconds)
    return time.perf_counter() - start, done, loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=("ember", "torch"), required=True)
    p.add_argument("--model", choices=("mlp", "lenet"), required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", required=True)
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=float("inf"))
    args = p.parse_args()
    x, y = load(args.data, args.samples, args.seed)
    reset_peak_rss()
    data_rss = rss_mb()
    run = ember_epoch if args.framework == "ember" else torch_epoch
    seconds, samples, loss = run(args, x, y)
    print(json.dumps({"seconds": seconds, "samples": samples, "loss": loss,
                      "peak_rss_mb": peak_rss_mb(), "data_rss_mb": data_rss}))  # fmt: skip


if __name__ == "__main__":
    main()
