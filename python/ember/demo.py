"""ember's demo: train a small network on the handwritten digits shipped with ember.

    python -m ember.demo [--epochs 30] [--hidden 64] [--seed 0] [--threads N]

The data (UCI optical digits, 1,797 8x8 images) ships inside the package, so the demo needs no
download. It prints the build, a progress bar per epoch, and the final test accuracy.
"""

from __future__ import annotations

import argparse
import time

import ember
from ember import nn, optim
from ember.data import DataLoader, TensorDataset, train_test_split
from ember.datasets import load_digits
from ember.training import evaluate, fit


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    if args.threads:
        ember.set_num_threads(args.threads)
    ember.manual_seed(args.seed)

    info = ember.build_info()
    openmp = f"on, {ember.get_num_threads()} threads" if info["openmp"] else "off, 1 thread"
    print(
        f"ember {info['version']} | {info['compiler']} {info['build_type']} | "
        f"OpenMP {openmp} | SIMD {info['simd']}"
    )

    x, y = load_digits()
    x = x / 16.0  # pixel intensities 0..16 -> [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, seed=args.seed
    )
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=args.seed)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=256)

    model = nn.Sequential(
        nn.Linear(64, args.hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(args.hidden, 10)
    )
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    start = time.perf_counter()
    fit(
        model,
        train,
        loss_fn,
        optimizer,
        epochs=args.epochs,
        val_data=test,
        metrics=["accuracy"],
        verbose=args.verbose,
    )
    result = evaluate(model, test, loss_fn, metrics=["accuracy"])
    seconds = time.perf_counter() - start
    print(
        f"test accuracy: {result['accuracy']:.2%} (loss {result['loss']:.4f}) after "
        f"{args.epochs} epochs in {seconds:.1f} s"
    )
    return result["accuracy"]


if __name__ == "__main__":
    main()
