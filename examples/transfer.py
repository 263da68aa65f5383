"""Transfer learning on MNIST: features learned on digits 0-4 help to learn digits 5-9.

1. Pretrain a small CNN (two conv layers, then a fully connected head) on the ~30,600 training
   images of digits 0-4, and ember.save its state_dict.
2. ember.load it into a fresh model, freeze the conv layers (requires_grad_(False)), put a new
   5-way head on top and train only the head on 1,000 images of digits 5-9.
3. Train the same network from scratch, all layers, on the same 1,000 images and epochs.
Both are tested on all ~4,860 test images of digits 5-9 after a few numbers of epochs. The conv
features (strokes, curves, their combinations) carry over from one set of digits to the other,
so the pretrained model is far ahead after a few epochs; given enough epochs on the 1,000
images, the network trained from scratch catches up. Measured (seed 0), test accuracy after
epoch 1 / 3 / 10 / 30: transfer 94.8% / 97.1% / 97.7% / 97.7%, scratch 69.5% / 94.1% / 97.0% /
97.8%.

    python examples/transfer.py [--pretrain-epochs 2] [--epochs 30] [--samples 1000]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from _common import MNIST_MEAN, MNIST_STD, EpochTimer, mnist, parser, run, setup

from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.serialization import load, save
from ember.training import Callback, evaluate, fit


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 14 x 14
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),             # 32 x 5 x 5
            nn.Flatten(),
        )  # fmt: skip
        self.head = self.new_head(classes)

    @staticmethod
    def new_head(classes: int) -> nn.Module:
        return nn.Sequential(nn.Linear(32 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, x):
        return self.head(self.features(x))


def digits(dataset, wanted: range, count: int | None, rng) -> tuple[np.ndarray, np.ndarray]:
    """Normalised images and labels (shifted to 0..4) of the digits in `wanted`; `count` of
    them at random, or all."""
    indices = np.flatnonzero(np.isin(dataset.targets, list(wanted)))
    if count is not None:
        indices = rng.choice(indices, size=count, replace=False)
    images, labels = dataset.gather(np.sort(indices))
    return (images - MNIST_MEAN) / MNIST_STD, labels - wanted.start


class AccuracyAt(Callback):
    """Test accuracy after the epochs (1-based) in `at`: the learning curve at a few points,
    without paying for a full evaluation every epoch."""

    def __init__(self, at: list[int], data) -> None:
        self.at, self.data = at, data
        self.accuracy: dict[int, float] = {}

    def on_epoch_end(self, state, logs) -> None:
        if state.epoch + 1 in self.at:
            self.accuracy[state.epoch + 1] = test_accuracy(state.model, self.data)


def train(model, data, epochs: int, lr: float, seed: int, callbacks=()) -> EpochTimer:
    x, y = data
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    timer = EpochTimer()
    optimizer = optim.SGD(trainable, lr=lr, momentum=0.9)
    fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=epochs,
        callbacks=[timer, *callbacks], verbose=0)  # fmt: skip
    return timer


def test_accuracy(model, data) -> float:
    return evaluate(model, data, metrics=["accuracy"], batch_size=1000)["accuracy"]


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=30, data_dir=True)
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument(
        "--pretrain-subset",
        type=int,
        default=None,
        help="pretrain on N random images of 0-4 (default: all)",
    )
    p.add_argument("--samples", type=int, default=1000, help="training images of 5-9")
    p.add_argument(
        "--test-subset",
        type=int,
        default=None,
        help="test on N random test images of each half (default: all)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="where to save the pretrained model (default: a temporary file)",
    )
    args = p.parse_args(argv)
    setup(args)
    rng = np.random.default_rng(args.seed)
    train_set, test_set = mnist(args.data_dir)
    low_train = digits(train_set, range(5), args.pretrain_subset, rng)
    high_train = digits(train_set, range(5, 10), args.samples, rng)
    low_test = digits(test_set, range(5), args.test_subset, rng)
    high_test = digits(test_set, range(5, 10), args.test_subset, rng)

    pretrained = SmallCNN()
    timer = train(pretrained, low_train, args.pretrain_epochs, lr=0.05, seed=args.seed)
    print(
        f"pretrained on {len(low_train[0])} images of 0-4 ({timer.mean:.1f} s per epoch): "
        f"{test_accuracy(pretrained, low_test):.2%} on their {len(low_test[0])} test images"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or Path(tmp) / "digits0-4.safetensors"
        save(pretrained.state_dict(), path)
        transferred = SmallCNN()
        transferred.load_state_dict(load(path))
    transferred.features.requires_grad_(False)
    transferred.head = SmallCNN.new_head(5)
    at = sorted({e for e in (1, 3, 10, args.epochs) if e <= args.epochs})
    transfer_curve = AccuracyAt(at, high_test)
    train(transferred, high_train, args.epochs, lr=0.05, seed=args.seed, callbacks=[transfer_curve])

    scratch = SmallCNN()
    scratch_curve = AccuracyAt(at, high_test)
    train(scratch, high_train, args.epochs, lr=0.05, seed=args.seed, callbacks=[scratch_curve])

    print(
        f"digits 5-9: {len(high_train[0])} training images; accuracy on {len(high_test[0])} "
        f"test images"
    )
    print(f"{'':42}" + "".join(f"{f'epoch {e}':>11}" for e in at))
    for name, curve in [
        ("frozen pretrained conv layers + new head", transfer_curve),
        ("same network trained from scratch", scratch_curve),
    ]:
        print(f"  {name:40}" + "".join(f"{curve.accuracy[e]:>11.2%}" for e in at))
    return {
        "transfer_accuracy": transfer_curve.accuracy[args.epochs],
        "scratch_accuracy": scratch_curve.accuracy[args.epochs],
        "transfer_curve": transfer_curve.accuracy,
        "scratch_curve": scratch_curve.accuracy,
    }


if __name__ == "__main__":
    run(main)
