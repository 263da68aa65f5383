"""ModelCheckpoint: save the model during training."""

from __future__ import annotations

from pathlib import Path

from ember.serialization import save
from ember.training._monitor import BestTracker, monitored_value, resolve_mode
from ember.training.callbacks import Callback, TrainState


class ModelCheckpoint(Callback):
    """Saves the model's state_dict with ember.save at the end of each epoch; reload it with
    `model.load_state_dict(ember.load(path))`.

    path: may hold format fields filled from the epoch (1-based) and the epoch's logs, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"; missing directories are created.
    save_best_only: write only the epochs that improve `monitor` (mode as in EarlyStopping).
    Writes are atomic (ember.save writes a temporary file and renames it), so a crash while
    saving leaves the previous checkpoint intact. `saved` lists the paths written, in order."""

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = resolve_mode(mode, monitor, "ModelCheckpoint")
        self.verbose = verbose
        self._tracker = BestTracker(self.mode)
        self.saved: list[Path] = []

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_train_begin(self, state: TrainState) -> None:
        self._tracker = BestTracker(self.mode)
        self.saved = []

    def _format_path(self, epoch: int, logs: dict[str, float]) -> Path:
        try:
            return Path(self.path.format(**{**logs, "epoch": epoch + 1}))
        except (KeyError, IndexError) as err:
            raise KeyError(
                f"ModelCheckpoint: path {self.path!r} names {err}, which is neither "
                f"'epoch' nor a logged value {sorted(logs)}"
            ) from None

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = monitored_value(logs, self.monitor, "ModelCheckpoint")
            if not self._tracker.improved(value):
                return
            self._tracker.best = value
        path = self._format_path(state.epoch, logs)
        path.parent.mkdir(parents=True, exist_ok=True)
        save(state.model.state_dict(), path)
        self.saved.append(path)
        if self.verbose:
            print(f"ModelCheckpoint: saved {path}")
