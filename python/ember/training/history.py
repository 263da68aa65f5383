"""History: what fit() measured, one plain float per epoch per metric."""

from __future__ import annotations

from pathlib import Path


class History:
    """`history.history["val_loss"]` is a list of floats, one per finished epoch; `epoch` lists the
    epoch numbers (0-based). Holds no Tensors, so it never keeps a graph or a batch alive."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __contains__(self, name: str) -> bool:
        return name in self.history

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History(epochs={len(self.epoch)}, last: {last})"

    def plot(self, path: str | Path, metrics: list[str] | None = None) -> Path:
        """Draw the training curves into a PNG at `path`: one panel per metric (default: every
        logged name except the val_ twins and "lr"), each with its val_ twin beside it.
        Needs matplotlib (`pip install matplotlib`); ember itself never requires it. Draws on
        a standalone Figure, so pyplot's global state and the user's backend stay untouched."""
        try:
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError as err:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from err
        names = metrics or [k for k in self.history if not k.startswith("val_") and k != "lr"]
        names = [n for n in names if n in self.history or f"val_{n}" in self.history]
        if not names:
            raise ValueError(f"History.plot: nothing to plot among {sorted(self.history)}")
        fig = Figure(figsize=(4.5 * len(names), 3.5))
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes, names):
            for key in (name, f"val_{name}"):
                if key in self.history:
                    ax.plot(epochs, self.history[key], marker="o", label=key)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path
