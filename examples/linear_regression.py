"""Ridge regression by SGD with weight decay, checked against the closed form.

Data: X (n, d), y (n,); model y_hat = X w + b (nn.Linear(d, 1)).

Closed form. Ridge regression minimises the sum of squared errors plus lambda * ||w||^2, the
intercept b unpenalised:

    J(w, b) = sum_i (x_i . w + b - y_i)^2 + lambda ||w||^2.

With X1 = [X, 1] (a column of ones for b), theta = (w, b) and P = diag(1, ..., 1, 0):

    theta = (X1^T X1 + lambda P)^-1 X1^T y.

SGD. nn.MSELoss() is the *mean* squared error L = (1/n) sum_i (x_i . w + b - y_i)^2, and SGD's
weight_decay wd adds wd * w to the gradient, i.e. it descends L + (wd / 2) ||w||^2. Setting
that gradient to zero:

    (2/n) X1^T (X1 theta - y) + wd P theta = 0   <=>   (X1^T X1 + (n wd / 2) P) theta = X1^T y,

the closed form with lambda = n * wd / 2, i.e.

    wd = 2 lambda / n        (n: the number of training samples, not the batch size).

So b goes in its own parameter group with weight_decay=0 (as P's zero says), and a minibatch
changes nothing in this mapping: the mean over a batch is an unbiased estimate of the mean over
the n samples. (With k outputs, MSELoss divides by n * k instead and wd = 2 lambda / (n k).)
Full-batch steps (the default) converge to the closed form up to rounding; minibatches leave
an lr-sized noise floor. Everything runs in float64 so that the distance printed is tiny.

    python examples/linear_regression.py [--lam 20] [--epochs 300] [--batch-size 0 (= n)]
"""

from __future__ import annotations

import numpy as np
from _common import parser, run, setup

import ember
from ember import nn, optim
from ember.training import fit


def make_data(n: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w_true = rng.uniform(-2, 2, d)
    y = x @ w_true + 3.0 + 0.5 * rng.standard_normal(n)
    return x, y


def ridge_closed_form(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """theta = (w, b) minimising sum of squared errors + lam ||w||^2."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    penalty = np.diag([1.0] * x.shape[1] + [0.0])
    return np.linalg.solve(x1.T @ x1 + lam * penalty, x1.T @ y)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=300)
    p.add_argument("--lam", type=float, default=20.0, help="ridge lambda of the closed form")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--features", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--batch-size", type=int, default=0, help="0: full batch")
    args = p.parse_args(argv)
    setup(args)

    x, y = make_data(args.samples, args.features, args.seed)
    n = len(x)
    wd = 2 * args.lam / n
    model = nn.Linear(args.features, 1, dtype=ember.float64)
    optimizer = optim.SGD(
        [
            {"params": [model.weight], "weight_decay": wd},
            {"params": [model.bias], "weight_decay": 0.0},
        ],
        lr=args.lr,
    )
    data = (ember.from_numpy(x), ember.from_numpy(y.reshape(-1, 1)))
    history = fit(
        model,
        data,
        nn.MSELoss(),
        optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size or n,
        verbose=0,
    )

    theta_sgd = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    theta_ridge = ridge_closed_form(x, y, args.lam)
    theta_ols = ridge_closed_form(x, y, 0.0)
    to_ridge = float(np.linalg.norm(theta_sgd - theta_ridge))
    to_ols = float(np.linalg.norm(theta_sgd - theta_ols))
    print(
        f"n={n}, d={args.features}, lambda={args.lam} -> SGD weight_decay = 2*lambda/n = "
        f"{wd:.4g}; {args.epochs} epochs, batch {args.batch_size or n}, lr {args.lr}"
    )
    print(f"final training MSE: {history['loss'][-1]:.6f}")
    print(f"closed form (w, b): {np.array2string(theta_ridge, precision=5)}")
    print(f"SGD         (w, b): {np.array2string(theta_sgd, precision=5)}")
    print(
        f"||theta_SGD - theta_ridge|| = {to_ridge:.3e}   "
        f"(vs unregularised least squares: {to_ols:.3e})"
    )
    return {"distance_to_ridge": to_ridge, "distance_to_ols": to_ols}


if __name__ == "__main__":
    run(main)
