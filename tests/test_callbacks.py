"""ember.training callbacks: EarlyStopping, ModelCheckpoint, LearningRateScheduler,
TerminateOnNaN, LambdaCallback and the order in which fit() calls a user's hooks."""

import math
import os

import numpy as np
import pytest
from training_helpers import ScriptedLogs, WeightsPerEpoch, digits_loaders, mlp, weights

from ember import nn, optim
from ember._runtime import num_threads
from ember.optim import lr_scheduler
from ember.serialization import load
from ember.training import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    fit,
    predict,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Callbacks do not depend on the kernels' threading; one thread keeps these small steps
    fast on a busy shared machine."""
    with num_threads(1):
        yield


@pytest.fixture(scope="module")
def loaders():
    return digits_loaders()


def run(loaders, callbacks, epochs, lr=0.1, model=None, val=True):
    model = model or mlp()
    train, test = loaders
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=epochs,
        val_data=test if val else None,
        callbacks=callbacks,
        verbose=0,
    )
    return model, optimizer, history


# ------------------------------------------------------------------------------ EarlyStopping


@pytest.mark.parametrize(
    ("script", "patience", "min_delta", "stopped", "best_epoch"),
    [
        # best at epoch 1, then 2 epochs without improvement: stop after epoch 3
        ([1.0, 0.8, 0.9, 0.85, 0.7, 0.6], 2, 0.0, 3, 1),
        # patience 0 stops at the first epoch that does not improve (as patience 1, as Keras)
        ([1.0, 0.9, 0.95, 0.5, 0.4, 0.3], 0, 0.0, 2, 1),
        ([1.0, 0.9, 0.95, 0.5, 0.4, 0.3], 1, 0.0, 2, 1),
        # an improvement by no more than min_delta does not count
        ([1.0, 0.97, 0.96, 0.5, 0.4, 0.3], 2, 0.05, 2, 0),
        # a run of equal values is not an improvement
        ([0.5, 0.5, 0.5, 0.5, 0.4, 0.3], 3, 0.0, 3, 0),
        # NaN never becomes the best value
        ([1.0, math.nan, math.nan, 0.2, 0.1, 0.0], 2, 0.0, 2, 0),
    ],
)
def test_early_stopping_stops_at_exactly_the_right_epoch(
    loaders, script, patience, min_delta, stopped, best_epoch
):
    stop = EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta)
    _, _, history = run(loaders, [ScriptedLogs("val_loss", script), stop], epochs=len(script))
    assert history.epoch == list(range(stopped + 1))
    assert stop.stopped_epoch == stopped
    assert stop.best_epoch == best_epoch
    assert stop.best == script[best_epoch]
    assert history["val_loss"] == script[: stopped + 1]


def test_early_stopping_maximises_accuracy_and_runs_to_the_end_while_improving(loaders):
    stop = EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "max"
    script = [0.5, 0.6, 0.7, 0.8]
    _, _, history = run(loaders, [ScriptedLogs("val_accuracy", script), stop], epochs=4)
    assert len(history.epoch) == 4
    assert stop.stopped_epoch is None
    assert stop.best_epoch == 3


def test_early_stopping_restores_the_best_epochs_weights_bit_exactly(loaders):
    per_epoch = WeightsPerEpoch()
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    script = [1.0, 0.7, 0.3, 0.4, 0.5, 0.2]
    model, _, history = run(loaders, [ScriptedLogs("val_loss", script), per_epoch, stop], epochs=6)
    assert history.epoch == [0, 1, 2, 3, 4]
    restored = weights(model)
    for name, best in per_epoch.by_epoch[2].items():
        assert np.array_equal(restored[name], best), name
    # the weights really moved after the best epoch, so restoring them changed the model
    assert not np.array_equal(per_epoch.by_epoch[4]["0.weight"], restored["0.weight"])


def test_early_stopping_restores_buffers_too():
    from training_helpers import digits_split

    import ember

    x_train, y_train, x_test, y_test = digits_split()
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
    per_epoch = WeightsPerEpoch()
    stop = EarlyStopping(patience=1, restore_best_weights=True)
    fit(
        model,
        (x_train, y_train),
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        epochs=4,
        val_data=(x_test, y_test),
        callbacks=[ScriptedLogs("val_loss", [1.0, 0.5, 0.6, 0.7]), per_epoch, stop],
        verbose=0,
    )
    restored = weights(model)
    assert "1.running_mean" in restored
    for name, best in per_epoch.by_epoch[1].items():
        assert np.array_equal(restored[name], best), name


def test_early_stopping_rejects_a_missing_monitor_and_a_bad_patience(loaders):
    with pytest.raises(KeyError, match="val_loss.*pass val_data"):
        run(loaders, [EarlyStopping()], epochs=1, val=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


# ---------------------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_every_epoch_reloads_to_identical_predictions(loaders, tmp_path):
    per_epoch = WeightsPerEpoch()
    ckpt = ModelCheckpoint(tmp_path / "run" / "epoch{epoch:02d}-{val_loss:.3f}.safetensors")
    model, _, history = run(loaders, [per_epoch, ckpt], epochs=3)
    expected = [
        tmp_path / "run" / f"epoch{e + 1:02d}-{v:.3f}.safetensors"
        for e, v in enumerate(history["val_loss"])
    ]
    assert ckpt.saved == expected
    assert all(p.is_file() for p in expected)
    for e, path in enumerate(expected):
        stored = load(path)
        for name, value in per_epoch.by_epoch[e].items():
            assert np.array_equal(stored[name].numpy(), value)

    x_test = loaders[1].dataset.tensors[0]
    fresh = mlp(seed=123)
    assert not np.array_equal(predict(fresh, x_test).numpy(), predict(model, x_test).numpy())
    fresh.load_state_dict(load(expected[-1]))
    assert np.array_equal(predict(fresh, x_test).numpy(), predict(model, x_test).numpy())


def test_checkpoint_save_best_only_keeps_the_best_epoch(loaders, tmp_path):
    per_epoch = WeightsPerEpoch()
    path = tmp_path / "best.safetensors"
    ckpt = ModelCheckpoint(path, save_best_only=True)
    script = [1.0, 0.5, 0.7, 0.4, 0.6]
    run(loaders, [ScriptedLogs("val_loss", script), per_epoch, ckpt], epochs=5)
    assert ckpt.saved == [path, path, path]  # epochs 0, 1 and 3 improved
    assert ckpt.best == 0.4
    stored = load(path)
    for name, value in per_epoch.by_epoch[3].items():
        assert np.array_equal(stored[name].numpy(), value)
    assert not np.array_equal(stored["0.weight"].numpy(), per_epoch.by_epoch[4]["0.weight"])


def test_checkpoint_write_is_atomic(loaders, tmp_path, monkeypatch):
    """A failure while the file is being written leaves the previous checkpoint untouched."""
    path = tmp_path / "model.safetensors"
    run(loaders, [ModelCheckpoint(path)], epochs=1)
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)  # fails after the new bytes were written
    with pytest.raises(OSError, match="disk full"):
        run(loaders, [ModelCheckpoint(path)], epochs=1, model=mlp(seed=7))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_checkpoint_path_naming_an_unknown_field_says_so(loaders, tmp_path):
    with pytest.raises(KeyError, match="val_accuracy"):
        run(loaders, [ModelCheckpoint(tmp_path / "{val_accuracy}.safetensors")], epochs=1)


# ---------------------------------------------------------------------- LearningRateScheduler


class BatchLrs(Callback):
    def __init__(self):
        self.lrs = []

    def on_batch_begin(self, state):
        self.lrs.append((state.epoch, state.optimizer.param_groups[0]["lr"]))


def expected_lrs(make_scheduler, epochs):
    """What the scheduler, stepped once per epoch on its own, sets at each epoch."""
    optimizer = optim.SGD(mlp().parameters(), lr=0.1)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step()
    return lrs, optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize(
    "make_scheduler",
    [
        lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.1),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=4),
        lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.5),
    ],
    ids=["step", "cosine", "exponential"],
)
def test_lr_scheduler_callback_sets_the_schedulers_lr(loaders, make_scheduler):
    lrs, final = expected_lrs(make_scheduler, 5)
    assert len(set(lrs)) > 1
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    batches = BatchLrs()
    history = fit(
        model,
        loaders[0],
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=5,
        callbacks=[LearningRateScheduler(make_scheduler(optimizer)), batches],
        verbose=0,
    )
    assert history["lr"] == lrs
    assert optimizer.param_groups[0]["lr"] == final
    per_batch = len(loaders[0])
    assert batches.lrs == [(e, lr) for e, lr in enumerate(lrs) for _ in range(per_batch)]


def test_lr_scheduler_callback_takes_a_keras_style_function(loaders):
    schedule = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr / 2)
    _, optimizer, history = run(loaders, [schedule], epochs=4, val=False)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.025]
    assert optimizer.param_groups[0]["lr"] == 0.025


def test_reduce_on_plateau_follows_the_monitored_value(loaders):
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    script = [1.0, 1.0, 1.0, 0.5, 0.6, 0.7]
    history = fit(
        model,
        loaders[0],
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=6,
        val_data=loaders[1],
        verbose=0,
        callbacks=[ScriptedLogs("val_loss", script), LearningRateScheduler(plateau)],
    )
    # two bad epochs (1, 2) exceed patience 1 -> halve after epoch 2; again after epoch 5
    assert history["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05]
    assert optimizer.param_groups[0]["lr"] == 0.025


def test_lr_scheduler_callback_rejects_another_optimizers_scheduler(loaders):
    other = optim.SGD(mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        run(loaders, [LearningRateScheduler(lr_scheduler.StepLR(other, 1))], epochs=1)
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


# --------------------------------------------------------------------- user callbacks, hooks


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, state):
        self.calls.append("train_begin")

    def on_train_end(self, state):
        self.calls.append("train_end")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_epoch_end(self, state, logs):
        self.calls.append(f"epoch_end {state.epoch} {sorted(logs)}")

    def on_batch_begin(self, state):
        self.calls.append(f"batch_begin {state.epoch}.{state.batch}")

    def on_batch_end(self, state, logs):
        self.calls.append(f"batch_end {state.epoch}.{state.batch} {sorted(logs)}")


def small_run(callbacks, epochs=2, n=12, batch_size=5):
    from training_helpers import digits_split

    x, y, x_val, y_val = digits_split()
    model = mlp()
    return fit(
        model,
        (x[:n], y[:n]),
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        epochs=epochs,
        batch_size=batch_size,
        val_data=(x_val, y_val),
        metrics=["accuracy"],
        callbacks=callbacks,
        verbose=0,
    )


def test_user_callback_receives_the_hooks_in_order():
    recorder = Recorder()
    small_run([recorder])
    epoch_logs = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    expected = ["train_begin"]
    for e in range(2):
        expected.append(f"epoch_begin {e}")
        for b in range(3):  # 12 samples in batches of 5
            expected += [f"batch_begin {e}.{b}", f"batch_end {e}.{b} ['loss']"]
        expected.append(f"epoch_end {e} {epoch_logs}")
    expected.append("train_end")
    assert recorder.calls == expected


def test_callbacks_run_in_the_order_given_and_see_each_others_logs():
    seen = []
    first = LambdaCallback(on_epoch_end=lambda state, logs: logs.__setitem__("extra", 1.5))
    second = LambdaCallback(on_epoch_end=lambda state, logs: seen.append(logs["extra"]))
    history = small_run([first, second], epochs=2)
    assert seen == [1.5, 1.5]
    assert history["extra"] == [1.5, 1.5]
    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_step=print)


def test_stop_training_in_a_batch_hook_ends_the_epoch_after_that_batch():
    recorder = Recorder()

    def stop_at_second_batch(state, logs):
        state.stop_training = state.batch == 1

    history = small_run([LambdaCallback(on_batch_end=stop_at_second_batch), recorder], epochs=3)
    assert history.epoch == [0]
    batches = [c for c in recorder.calls if c.startswith("batch_end")]
    assert batches == ["batch_end 0.0 ['loss']", "batch_end 0.1 ['loss']"]
    assert recorder.calls[-2:] == [
        "epoch_end 0 ['accuracy', 'loss', 'val_accuracy', 'val_loss']",
        "train_end",
    ]


def test_terminate_on_nan_stops_at_the_first_non_finite_loss():
    def poisoned_loss(out, y):
        if poisoned_loss.calls == 4:
            out = out * float("nan")
        return nn.functional.cross_entropy(out, y)

    poisoned_loss.calls = 0

    class Count(Callback):
        def on_batch_begin(self, state):
            poisoned_loss.calls += 1

    from training_helpers import digits_split

    x, y, _, _ = digits_split()
    model = mlp()
    nan = TerminateOnNaN()
    history = fit(
        model,
        (x[:12], y[:12]),
        poisoned_loss,
        optim.SGD(model.parameters(), lr=0.1),
        epochs=5,
        batch_size=5,
        callbacks=[Count(), nan],
        verbose=0,
    )
    assert nan.stopped_batch == (1, 0)  # the 4th batch: epoch 1 (0-based), its first batch
    assert history.epoch == [0, 1]
    assert math.isnan(history["loss"][1])
