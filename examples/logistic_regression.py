"""Logistic regression (BCEWithLogitsLoss) on a linearly separable set: 100% train accuracy.

The points are drawn around the line w . x + b = 0 and those closer to it than `--margin` are
dropped, so a separating line exists by construction. On separable data the logistic loss has
no minimum at finite weights: gradient descent keeps growing ||w|| along a separating direction
(it tends to the maximum-margin one), so the loss goes to 0 and every point ends up on its side.

    python examples/logistic_regression.py [--samples 200] [--margin 0.3] [--epochs 100]
"""

from __future__ import annotations

import numpy as np
from _common import parser, run, setup

import ember
from ember import metrics, nn, optim
from ember.training import fit, predict


def separable_points(n: int, margin: float, seed: int):
    """n points in 2-D labelled by the side of a random line, none within `margin` of it."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    normal, offset = np.array([np.cos(angle), np.sin(angle)]), rng.uniform(-0.5, 0.5)
    points = []
    while sum(len(p) for p in points) < n:
        x = rng.uniform(-3, 3, (n, 2))
        points.append(x[np.abs(x @ normal + offset) >= margin])
    x = np.concatenate(points)[:n]
    y = (x @ normal + offset > 0).astype(np.float32)
    return x.astype(np.float32), y, normal


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=100)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--margin", type=float, default=0.3)
    p.add_argument("--lr", type=float, default=0.5)
    args = p.parse_args(argv)
    setup(args)

    x, y, normal = separable_points(args.samples, args.margin, args.seed)
    features, targets = ember.from_numpy(x), ember.from_numpy(y.reshape(-1, 1))
    model = nn.Linear(2, 1)
    history = fit(
        model,
        (features, targets),
        nn.BCEWithLogitsLoss(),
        optim.SGD(model.parameters(), lr=args.lr),
        epochs=args.epochs,
        batch_size=32,
        metrics=["accuracy"],
        verbose=0,
    )

    logits = predict(model, features).reshape(-1)
    accuracy = metrics.accuracy(y.astype(np.int64), logits, threshold=0.0)
    w = model.weight.detach().numpy().ravel()
    cosine = float(w @ normal / np.linalg.norm(w))
    print(f"{args.samples} separable points (margin {args.margin}), {args.epochs} epochs of SGD")
    print(f"training loss: {history['loss'][0]:.4f} (epoch 1) -> {history['loss'][-1]:.4f}")
    print(f"||w|| = {np.linalg.norm(w):.2f}; cosine between w and the true normal: {cosine:.4f}")
    print(f"train accuracy: {accuracy:.2%}")
    return {"train_accuracy": accuracy, "final_loss": history["loss"][-1], "cosine": cosine}


if __name__ == "__main__":
    run(main)
