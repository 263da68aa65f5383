"""LearningRateScheduler: change the learning rate from epoch to epoch."""

from __future__ import annotations

from collections.abc import Callable

from ember.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from ember.training._monitor import monitored_value
from ember.training.callbacks import Callback, TrainState


class LearningRateScheduler(Callback):
    """Drives the learning rate once per epoch and logs the rate each epoch trained with as "lr".

    schedule: either an ember.optim.lr_scheduler scheduler, stepped at the end of every epoch
    (ReduceLROnPlateau with logs[monitor]), or Keras's form, a function (epoch, lr) -> new lr
    called at the start of every epoch (0-based) with the current lr of the first param group;
    its result is set on every group."""

    def __init__(
        self, schedule: LRScheduler | Callable[[int, float], float], monitor: str = "val_loss"
    ) -> None:
        if not isinstance(schedule, LRScheduler) and not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be an lr_scheduler or a "
                f"function (epoch, lr) -> lr, got {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.monitor = monitor
        self._epoch_lr = 0.0

    def on_train_begin(self, state: TrainState) -> None:
        scheduled = getattr(self.schedule, "optimizer", state.optimizer)
        if scheduled is not state.optimizer:
            raise ValueError(
                "LearningRateScheduler: the scheduler drives another optimizer than "
                "the one fit() trains with"
            )

    def on_epoch_begin(self, state: TrainState) -> None:
        groups = state.optimizer.param_groups
        if not isinstance(self.schedule, LRScheduler):
            lr = float(self.schedule(state.epoch, float(groups[0]["lr"])))
            for group in groups:
                group["lr"] = lr
        self._epoch_lr = float(groups[0]["lr"])

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        logs["lr"] = self._epoch_lr
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.schedule.step(monitored_value(logs, self.monitor, "LearningRateScheduler"))
        elif isinstance(self.schedule, LRScheduler):
            self.schedule.step()
