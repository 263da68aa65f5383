"""EarlyStopping: end training once a monitored value stops improving."""

from __future__ import annotations

import numpy as np

from ember.data._convert import to_numpy
from ember.training._monitor import BestTracker, monitored_value, resolve_mode
from ember.training.callbacks import Callback, TrainState


def snapshot(model) -> dict[str, np.ndarray]:
    """Copies of every parameter and buffer (BatchNorm's running statistics too)."""
    return {k: np.array(to_numpy(v), copy=True) for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stops training after `patience` epochs in a row in which `monitor` failed to improve on
    its best value by more than `min_delta` (as Keras: patience 0 and 1 both stop at the first
    epoch that does not improve).

    mode: 'min', 'max', or 'auto' (min for names containing "loss", else max).
    restore_best_weights: at the end of training (stopped early or not) the model gets back the
    parameters and buffers it had at the end of its best epoch, bit for bit.
    After training, `best` is the best value, `best_epoch` its epoch and `stopped_epoch` the
    epoch after which training stopped (0-based; None if it ran all its epochs)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.mode = resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self._tracker = BestTracker(self.mode, self.min_delta)
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_weights: dict[str, np.ndarray] | None = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_train_begin(self, state: TrainState) -> None:
        self._reset()

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        value = monitored_value(logs, self.monitor, "EarlyStopping")
        if self._tracker.improved(value):
            self._tracker.best = value
            self.best_epoch = state.epoch
            self.wait = 0
            if self.restore_best_weights:
                self._best_weights = snapshot(state.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.epoch
            state.stop_training = True

    def on_train_end(self, state: TrainState) -> None:
        if self.verbose and self.stopped_epoch is not None:
            best = "none" if self.best_epoch is None else f"epoch {self.best_epoch + 1}"
            print(
                f"EarlyStopping: no improvement of {self.monitor} for {self.wait} epochs; "
                f"stopped after epoch {self.stopped_epoch + 1}, best {self.best:.4f} ({best})"
            )
        if self.restore_best_weights and self._best_weights is not None:
            state.model.load_state_dict(self._best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")
