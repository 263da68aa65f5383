"""MNIST with a LeNet-5-style convolutional network.

conv 6@5x5 (padding 2) - ReLU - max-pool 2 - conv 16@5x5 - ReLU - max-pool 2 - 120 - 84 - 10,
as LeCun et al. (1998) but with ReLU and max-pooling. Inputs normalised with MNIST's mean and
std; SGD (lr 0.05, momentum 0.9, weight decay 5e-4) on batches of 64 with the lr annealed along a
cosine to 0. Reaches >= 98.8% test accuracy within 5 epochs: measured 99.00%, 99.31%, 99.07%
(seeds 0, 1, 2), 3.7 s per epoch on one thread and 3.0 s on two (an idle 2-core machine).
One and two threads give the same accuracy and loss to the last printed digit: the kernels this
network runs (GEMM, direct convolutions, pooling, SGD) are bitwise independent of the thread count.

    python examples/mnist_lenet.py [--epochs 5] [--subset N] [--data-dir ../shared/data]
        [--device cuda]
"""

from __future__ import annotations

from _common import EpochTimer, mnist_loaders, parser, run, setup

from ember import nn, optim
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.training import LearningRateScheduler, evaluate, fit


def lenet5(classes: int = 10) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6 x 14 x 14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # 16 x 5 x 5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=5, data_dir=True, device=True)
    p.add_argument("--subset", type=int, default=None, help="train on N random images")
    p.add_argument("--test-subset", type=int, default=None, help="test on N random images")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    args = p.parse_args(argv)
    setup(args)

    train, test = mnist_loaders(
        args.data_dir, args.batch_size, args.subset, args.seed, args.test_subset
    )
    model = lenet5().to(args.device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    timer = EpochTimer()
    callbacks = [LearningRateScheduler(CosineAnnealingLR(optimizer, T_max=args.epochs)), timer]
    print(
        f"MNIST LeNet-5: {len(train.dataset)} training / {len(test.dataset)} test images, "
        f"{args.epochs} epochs"
    )
    fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=args.epochs,
        val_data=test,
        metrics=["accuracy"],
        callbacks=callbacks,
        verbose=args.verbose,
        device=args.device,
    )
    result = evaluate(model, test, nn.CrossEntropyLoss(), metrics=["accuracy"], device=args.device)
    print(
        f"test accuracy: {result['accuracy']:.2%} (loss {result['loss']:.4f}); "
        f"{timer.mean:.1f} s per epoch"
    )
    return {"test_accuracy": result["accuracy"], "seconds_per_epoch": timer.mean}


if __name__ == "__main__":
    run(main)
