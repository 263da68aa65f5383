"""The unit circle: a feature map turns a non-linear problem into a linear one.

Points x ~ N(0, I) are labelled 1 outside the unit circle (x1^2 + x2^2 > 1), 0 inside; about 61%
are outside, so "always outside" already scores ~61% (the majority baseline).
  1. Logistic regression on x: its boundary is a line, which cannot enclose a disc. It does no
     better than the majority baseline.
  2. The same model on phi(x) = (x1^2, x2^2): the circle becomes the line phi1 + phi2 = 1, so
     about 30 training points suffice.
  3. An MLP on x learns the feature map itself (with more data than 2. needed).
Accuracies are measured on a separate test set.

    python examples/unit_circle.py [--few 30] [--samples 1000] [--epochs 200]
"""

from __future__ import annotations

import numpy as np
from _common import parser, run, setup

from ember import metrics, nn, optim
from ember.datasets import unit_circle
from ember.training import fit, predict


def squares(x):
    return x * x


def train(model, x, y, epochs: int, lr: float, batch_size: int) -> None:
    fit(
        model,
        (x, y.float().reshape(-1, 1)),
        nn.BCEWithLogitsLoss(),
        optim.Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )


def accuracy(model, x, y) -> float:
    return metrics.accuracy(y, predict(model, x).reshape(-1), threshold=0.0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=200)
    p.add_argument("--few", type=int, default=30, help="training points for phi(x)")
    p.add_argument("--samples", type=int, default=1000, help="training points for the others")
    p.add_argument("--test", type=int, default=5000)
    args = p.parse_args(argv)
    setup(args)

    x, y = unit_circle(args.samples, seed=args.seed)
    x_test, y_test = unit_circle(args.test, seed=args.seed + 1)
    majority = float(max(np.mean(y_test.numpy()), 1 - np.mean(y_test.numpy())))

    on_x = nn.Linear(2, 1)
    train(on_x, x, y, args.epochs, lr=0.05, batch_size=64)
    linear_x = accuracy(on_x, x_test, y_test)

    on_phi = nn.Linear(2, 1)
    few_x, few_y = x[: args.few], y[: args.few]
    train(on_phi, squares(few_x), few_y, args.epochs, lr=0.1, batch_size=8)
    linear_phi = accuracy(on_phi, squares(x_test), y_test)
    w = on_phi.weight.detach().numpy().ravel()
    b = float(on_phi.bias.detach().numpy()[0])

    mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
    train(mlp, x, y, args.epochs, lr=0.01, batch_size=64)
    mlp_x = accuracy(mlp, x_test, y_test)

    print(f"test set: {args.test} points, majority baseline {majority:.1%}")
    print(f"logistic regression on x        ({args.samples} points): {linear_x:.1%}")
    print(
        f"logistic regression on phi(x)   ({args.few} points): {linear_phi:.1%}   "
        f"boundary {w[0]:.2f} x1^2 + {w[1]:.2f} x2^2 = {-b:.2f}"
    )
    print(f"MLP 2-16-16-1 on x              ({args.samples} points): {mlp_x:.1%}")
    return {"majority": majority, "linear_x": linear_x, "linear_phi": linear_phi, "mlp_x": mlp_x}


if __name__ == "__main__":
    run(main)
