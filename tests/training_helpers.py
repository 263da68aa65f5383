"""Shared by the training-loop tests: a small real data set, a small model, and a callback that
scripts the monitored values so that callbacks can be driven epoch by epoch."""

from __future__ import annotations

import numpy as np

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset, train_test_split
from ember.datasets import load_digits
from ember.training import Callback


def digits_split(n_train: int = 600, n_test: int = 300, seed: int = 0):
    """(x_train, y_train, x_test, y_test): float32 pixels in [0, 1], stratified."""
    x, y = load_digits()
    x = x / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=n_test, stratify=y, seed=seed
    )
    return x_train[:n_train], y_train[:n_train], x_test, y_test


def digits_loaders(batch_size: int = 32, seed: int = 0):
    x_train, y_train, x_test, y_test = digits_split(seed=seed)
    train = DataLoader(
        TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed
    )
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=128)
    return train, test


def mlp(hidden: int = 32, seed: int = 0) -> nn.Module:
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def weights(model) -> dict[str, np.ndarray]:
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}


class ScriptedLogs(Callback):
    """Overwrites logs[name] at the end of epoch e with values[e]. Listed before the callback
    under test, it makes that callback see exactly this sequence."""

    def __init__(self, name: str, values) -> None:
        self.name = name
        self.values = list(values)

    def on_epoch_end(self, state, logs) -> None:
        logs[self.name] = self.values[state.epoch]


class WeightsPerEpoch(Callback):
    """Keeps a copy of the model's weights at the end of every epoch."""

    def __init__(self) -> None:
        self.by_epoch: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, state, logs) -> None:
        self.by_epoch.append(weights(state.model))
