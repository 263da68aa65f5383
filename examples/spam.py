"""Spam filtering on UCI Spambase: logistic regression and an MLP.

4,601 e-mails x 57 numeric features (word and character frequencies, runs of capitals); the
target column `type` is spam / nonspam (39% spam). A stratified split keeps that proportion in
both parts; the features are standardised with the mean and standard deviation of the training
part only (the test set must not leak into preprocessing). Both models output one logit and
train with BCEWithLogitsLoss; spam is the positive class of precision, recall and F1.
Measured (seed 0): logistic regression 92.1% test accuracy (F1 89.8%), the MLP 95.1% (F1 93.7%).

    python examples/spam.py [--epochs 60] [--data-dir ../shared/data]
"""

from __future__ import annotations

import numpy as np
from _common import EpochTimer, parser, require, run, setup

import ember
from ember import metrics, nn, optim
from ember.data import DataLoader, TensorDataset, train_test_split
from ember.datasets import load_csv
from ember.training import fit, predict


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def report(name: str, y_true: np.ndarray, logits, classes) -> dict[str, float]:
    scores = {
        "accuracy": metrics.accuracy(y_true, logits, threshold=0.0),
        "precision": metrics.precision(y_true, logits, threshold=0.0),
        "recall": metrics.recall(y_true, logits, threshold=0.0),
        "f1": metrics.f1_score(y_true, logits, threshold=0.0),
    }
    matrix = metrics.confusion_matrix(y_true, logits, num_classes=2, threshold=0.0)
    print(f"\n{name}: " + "  ".join(f"{k} {v:.2%}" for k, v in scores.items()))
    width = max(len(c) for c in classes) + 6
    print(" " * width + "".join(f"{'pred ' + c:>{width}}" for c in classes))
    for c, row in zip(classes, matrix):
        print(f"{'true ' + c:<{width}}" + "".join(f"{v:>{width}d}" for v in row))
    return scores


def train(model, train_loader, epochs: int, lr: float, weight_decay: float) -> EpochTimer:
    timer = EpochTimer()
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    fit(
        model,
        train_loader,
        nn.BCEWithLogitsLoss(),
        optimizer,
        epochs=epochs,
        callbacks=[timer],
        verbose=0,
    )
    return timer


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=60, data_dir=True)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args(argv)
    setup(args)

    path = require(args.data_dir / "spambase" / "spambase.csv", "Spambase")
    x, y, _, classes = load_csv(path, target_column="type")
    x_train, x_test, y_train, y_test = train_test_split(
        x.numpy(), y.numpy(), test_size=0.25, stratify=y.numpy(), seed=args.seed
    )
    x_train, x_test = standardise(x_train, x_test)
    print(
        f"Spambase: {len(x_train)} training / {len(x_test)} test e-mails, "
        f"{np.mean(y_train):.1%} / {np.mean(y_test):.1%} spam ({classes[1]!r} = positive)"
    )
    data = TensorDataset(x_train.astype(np.float32), y_train.astype(np.float32).reshape(-1, 1))
    loader = DataLoader(data, batch_size=64, shuffle=True, seed=args.seed)
    features = ember.from_numpy(x_test.astype(np.float32))

    logistic = nn.Linear(x_train.shape[1], 1)
    train(logistic, loader, args.epochs, lr=0.01, weight_decay=1e-4)
    lr_scores = report("logistic regression", y_test, predict(logistic, features), classes)

    h = args.hidden
    mlp = nn.Sequential(
        nn.Linear(x_train.shape[1], h),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(h, h),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(h, 1),
    )
    timer = train(mlp, loader, args.epochs, lr=1e-3, weight_decay=1e-2)
    mlp_scores = report(f"MLP 57-{h}-{h}-1", y_test, predict(mlp, features), classes)
    print(f"\n{timer.mean * 1000:.0f} ms per MLP epoch")
    return {
        "logistic_accuracy": lr_scores["accuracy"],
        "mlp_accuracy": mlp_scores["accuracy"],
        "mlp_f1": mlp_scores["f1"],
    }


if __name__ == "__main__":
    run(main)
