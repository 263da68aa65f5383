"""XOR: no linear model can learn it, one hidden layer can.

The four points (0,0), (0,1), (1,0), (1,1) with labels 0, 1, 1, 0 are not linearly separable:
any line gets at most 3 of the 4 right (75%). A hidden layer of a few tanh units bends the
input space so that the output layer can separate it: 100%.

    python examples/xor.py [--hidden 4] [--epochs 300]
"""

from __future__ import annotations

from _common import parser, run, setup

import ember
from ember import metrics, nn, optim
from ember.datasets import xor
from ember.training import fit, predict


def train(model, x, y, epochs: int, lr: float) -> float:
    targets = y.float().reshape(-1, 1)
    fit(
        model,
        (x, targets),
        nn.BCEWithLogitsLoss(),
        optim.Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=len(x),
        verbose=0,
    )
    return metrics.accuracy(y, predict(model, x).reshape(-1), threshold=0.0)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__, epochs=300)
    p.add_argument("--hidden", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    args = p.parse_args(argv)
    setup(args)

    x, y = xor()
    linear = train(nn.Linear(2, 1), x, y, args.epochs, args.lr)
    mlp = nn.Sequential(nn.Linear(2, args.hidden), nn.Tanh(), nn.Linear(args.hidden, 1))
    hidden = train(mlp, x, y, args.epochs, args.lr)
    print(f"XOR, {args.epochs} full-batch epochs of Adam (lr {args.lr})")
    print(f"linear model (logistic regression): {linear:.0%}")
    print(f"one hidden layer of {args.hidden} tanh units: {hidden:.0%}")
    with ember.no_grad():
        probabilities = mlp(x).sigmoid().reshape(-1).numpy()
    for point, label, prob in zip(x.numpy(), y.numpy(), probabilities):
        print(f"  x = {point.astype(int)}  label {label}  P(1) = {prob:.3f}")
    return {"linear_accuracy": linear, "mlp_accuracy": hidden}


if __name__ == "__main__":
    run(main)
