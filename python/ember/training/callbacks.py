"""Callbacks: code that fit() runs at fixed points of training.

Write your own by subclassing `Callback` and overriding any of its hooks. fit() calls them in
this order (each hook of every callback, in the order the callbacks were given):

    on_train_begin
      on_epoch_begin                      for each epoch
        on_batch_begin, on_batch_end      for each training batch
      on_epoch_end                        after validation, with the epoch's logs
    on_train_end                          also after a callback stopped training early

Every hook receives the `TrainState` (model, optimizer, epoch, batch, history, and
`stop_training`: set it in a batch hook to end the epoch after that batch, or in an epoch hook;
either way the epoch is still validated and logged, and then training ends). The end hooks
of batches and epochs also receive `logs`, a dict of floats: {"loss": 0.41} per batch;
{"loss": 0.31, "accuracy": 0.91, "val_loss": 0.35, "val_accuracy": 0.90} per epoch. A callback may
add entries to an epoch's logs (LearningRateScheduler adds "lr"); they go into the History.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class TrainState:
    """What fit() shares with its callbacks. `epoch` and `batch` are 0-based."""

    def __init__(self, model, optimizer, epochs: int, history) -> None:
        self.model = model
        self.optimizer = optimizer
        self.epochs = epochs
        self.epoch = 0
        self.batch = 0
        self.history = history
        self.stop_training = False


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...

    def on_epoch_begin(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_batch_begin(self, state: TrainState) -> None: ...

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...


HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """A callback from plain functions with the hooks' signatures, e.g.
    LambdaCallback(on_epoch_end=lambda state, logs: print(state.epoch, logs["loss"]))."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, fn in hooks.items():
            if name not in HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; hooks are {HOOKS}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {fn!r}")
            setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite: after that, every further
    step would only spread the NaN through the weights. `stopped_batch` records where
    (epoch, batch), None if it never happened."""

    def __init__(self) -> None:
        self.stopped_batch: tuple[int, int] | None = None

    def on_train_begin(self, state: TrainState) -> None:
        self.stopped_batch = None

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if not math.isfinite(logs["loss"]) and self.stopped_batch is None:
            self.stopped_batch = (state.epoch, state.batch)
            state.stop_training = True
