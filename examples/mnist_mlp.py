"""MNIST with a multilayer perceptron: 784-256-128-10, ReLU, dropout, SGD with momentum.

Recipe: inputs normalised with MNIST's mean and std; dropout 0.2 after each hidden layer; SGD
(lr 0.05, momentum 0.9, weight decay 5e-4) on batches of 64, the lr annealed along a cosine to 0
over the run (LearningRateScheduler callback). Reaches >= 98% test accuracy within 10 epochs:
measured 98.48% (seed 0), 1.2 s per epoch on one thread of an idle 2-core machine.

    python examples/mnist_mlp.py [--epochs 10] [--subset N] [--data-dir ../shared/data]
        [--device cuda]
"""

from __future__ import annotations

from _common import EpochTimer, mnist_loaders, parser, run, setup

from ember import nn, optim
from ember.optim.lr_scheduler import CosineAnnealingLR
from ember.training import LearningRateScheduler, evaluate, fit


def mlp(dropout: float = 0.2) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(128, 10),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=10, data_dir=True, device=True)
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
    model = mlp().to(args.device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    timer = EpochTimer()
    callbacks = [LearningRateScheduler(CosineAnnealingLR(optimizer, T_max=args.epochs)), timer]
    print(
        f"MNIST MLP: {len(train.dataset)} training / {len(test.dataset)} test images, "
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
