"""What the examples share: the command line, where the data lives, MNIST loading, timing."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import ember
from ember.training import Callback

# The project's data sit beside the repository: ../shared/data from its root.
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def parser(doc: str, epochs: int, **defaults) -> argparse.ArgumentParser:
    """--epochs, --seed, --threads, (when data_dir=True) --data-dir and (when device=True)
    --device, plus what the caller adds; the description is the first line of the example's
    docstring."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="threads for ember's kernels (default: all cores)"
    )
    if defaults.get("data_dir"):
        p.add_argument(
            "--data-dir",
            type=Path,
            default=DATA_DIR,
            help=f"directory holding mnist/ and spambase/ (default: {DATA_DIR})",
        )
    if defaults.get("device"):
        p.add_argument("--device", default="cpu", help="where to train: cpu, cuda or cuda:N")
    return p


def setup(args) -> None:
    if args.threads:
        ember.set_num_threads(args.threads)
    ember.manual_seed(args.seed)


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{what} not found at {path}; pass --data-dir DIR, the "
            f"directory that holds {path.parent.name}/{path.name}"
        )
    return path


def mnist(data_dir: Path):
    """The MNIST training and test sets (ember.datasets.MNIST) from data_dir/mnist."""
    from ember.datasets import MNIST

    root = require(Path(data_dir) / "mnist", "MNIST (its four IDX files)")
    return MNIST(root, train=True), MNIST(root, train=False)


# MNIST's pixel mean and standard deviation over the training set (of pixels in [0, 1]).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class EpochTimer(Callback):
    """Seconds per epoch (training plus validation), to report speed beside accuracy."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, state) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, state, logs) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    @property
    def mean(self) -> float:
        return sum(self.seconds) / len(self.seconds)


def run(main) -> None:
    """Call main(); a missing data set ends the program with its message, not a traceback."""
    try:
        main()
    except FileNotFoundError as err:
        sys.exit(f"error: {err}")


def mnist_loaders(
    data_dir: Path, batch_size: int, subset: int | None, seed: int, test_subset: int | None = None
):
    """Shuffled training batches (optionally a random `subset` of the 60,000 images) and test
    batches, both normalised with MNIST's mean and std."""
    import numpy as np

    from ember.data import DataLoader, Subset
    from ember.datasets.transforms import Normalize

    train_set, test_set = mnist(data_dir)
    rng = np.random.default_rng(seed)
    if subset:
        train_set = Subset(train_set, rng.permutation(len(train_set))[:subset])
    if test_subset:
        test_set = Subset(test_set, rng.permutation(len(test_set))[:test_subset])
    normalize = Normalize(MNIST_MEAN, MNIST_STD)
    train = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, seed=seed, transform=normalize
    )
    test = DataLoader(test_set, batch_size=1000, transform=normalize)
    return train, test
