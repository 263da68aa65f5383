"""fit / evaluate / predict: the training loop, Keras's shape with PyTorch's parts.

    history = fit(model, train_loader, nn.CrossEntropyLoss(), optim.SGD(...), epochs=5,
                  val_data=test_loader, metrics=["accuracy"],
                  callbacks=[EarlyStopping(patience=2, restore_best_weights=True)])
    evaluate(model, test_loader, nn.CrossEntropyLoss(), metrics=["accuracy", "f1"])
    predict(model, x_test)

Data: a DataLoader, any re-iterable of (inputs, targets) batches, or an (X, y) pair of Tensors
or arrays (batched here). Each training step is the usual
`optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()`. Metrics are computed
over the whole epoch from the model's outputs (see ember.training.epoch_metrics), never
averaged over batches; the training ones come from the outputs seen during the epoch (in train
mode, as the weights change), the validation ones from the model at the end of the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager

import numpy as np

import ember
from ember.data import DataLoader, TensorDataset
from ember.data._convert import to_numpy
from ember.training.callbacks import Callback, TrainState
from ember.training.epoch_metrics import EpochOutputs, check_metrics
from ember.training.history import History
from ember.utils.progress import ProgressBar


def _as_batches(data, batch_size: int, shuffle: bool = False):
    """DataLoaders and iterables of batches pass through; an (X, y) pair is batched."""
    if isinstance(data, tuple) and all(hasattr(t, "shape") for t in data):
        return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "shape"):
        raise TypeError(
            "expected batches of (inputs, targets) or an (X, y) pair, got a single "
            "array; pass (X, y)"
        )
    return data


def _pair(batch, device, who: str):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        got = type(batch).__name__
        if isinstance(batch, (tuple, list)):
            got += f" of length {len(batch)}"
        raise TypeError(f"{who}: each batch must be an (inputs, targets) pair, got {got}")
    x, y = batch
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def _length(data) -> int | None:
    return len(data) if hasattr(data, "__len__") else None


def fit(
    model,
    train_data: Iterable,
    loss_fn: Callable,
    optimizer,
    *,
    epochs: int = 1,
    val_data=None,
    metrics: Sequence[str | Callable] = (),
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    device=None,
    batch_size: int = 32,
    shuffle: bool = True,
) -> History:
    """Train `model` for `epochs` epochs (fewer if a callback stops it); return its History.

    train_data / val_data: DataLoaders, iterables of (inputs, targets) batches, or (X, y) pairs
    (batched by `batch_size`; the training pair reshuffled every epoch when `shuffle`, drawing
    from ember's default RNG, so ember.manual_seed makes it reproducible).
    metrics: names from ember.training.epoch_metrics.NAMED_METRICS or callables.
    verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    Logged each epoch: "loss" (the sample-weighted mean of the batch losses), each metric, and
    "val_loss" / "val_<metric>" when val_data is given; callbacks may add more ("lr")."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    metrics = check_metrics(metrics)
    train_data = _as_batches(train_data, batch_size, shuffle)
    val_data = None if val_data is None else _as_batches(val_data, max(batch_size, 256))
    history = History()
    state = TrainState(model, optimizer, epochs, history)
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.on_train_begin(state)
    for epoch in range(epochs):
        state.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(state)
        bar = ProgressBar(_length(train_data), desc=f"epoch {epoch + 1}/{epochs}", verbose=verbose)
        logs = _train_epoch(
            model, train_data, loss_fn, optimizer, metrics, callbacks, state, bar, device
        )
        if val_data is not None:
            val = evaluate(model, val_data, loss_fn, metrics=metrics, device=device)
            logs.update({f"val_{name}": value for name, value in val.items()})
        bar.close(**{name: value for name, value in logs.items() if name.startswith("val_")})
        for cb in callbacks:
            cb.on_epoch_end(state, logs)
        history.append(epoch, logs)
        if state.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(state)
    return history


def _train_epoch(
    model, loader, loss_fn, optimizer, metrics, callbacks, state, bar, device
) -> dict[str, float]:
    model.train()
    outputs = EpochOutputs(metrics, loss_fn)
    loss_sum, count = 0.0, 0
    for i, batch in enumerate(loader):
        x, y = _pair(batch, device, "fit")
        state.batch = i
        for cb in callbacks:
            cb.on_batch_begin(state)
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        loss_value = float(loss.item())
        n = len(x)
        loss_sum += loss_value * n
        count += n
        outputs.add(out, y)
        bar.update(samples=n, loss=loss_value)
        for cb in callbacks:
            cb.on_batch_end(state, {"loss": loss_value})
        if state.stop_training:
            break
    if count == 0:
        raise ValueError(
            "fit: the training data yielded no batches (an exhausted iterator? "
            "pass a DataLoader or a list, which can be iterated every epoch)"
        )
    return {"loss": loss_sum / count, **outputs.compute()}


@contextmanager
def _eval_mode(model):
    """Eval mode and no graph inside; the model's previous mode is restored on the way out."""
    was_training = model.training
    model.eval()
    try:
        with ember.no_grad():
            yield
    finally:
        model.train(was_training)


def evaluate(
    model,
    data,
    loss_fn: Callable | None = None,
    *,
    metrics: Sequence[str | Callable] = ("accuracy",),
    device=None,
    batch_size: int = 256,
    verbose: int = 0,
) -> dict[str, float]:
    """{"loss": mean loss (if loss_fn is given), metric: value, ...} of `model` on `data`
    (batches or an (X, y) pair), in eval mode and without building a graph."""
    metrics = check_metrics(metrics)
    if loss_fn is None and not metrics:
        raise ValueError("evaluate: nothing to compute; pass a loss_fn or metrics")
    data = _as_batches(data, batch_size)
    outputs = EpochOutputs(metrics, loss_fn)
    loss_sum, count = 0.0, 0
    bar = ProgressBar(_length(data), desc="evaluate", verbose=verbose)
    with _eval_mode(model):
        for batch in data:
            x, y = _pair(batch, device, "evaluate")
            out = model(x)
            n = len(x)
            if loss_fn is not None:
                loss_sum += float(loss_fn(out, y).item()) * n
            count += n
            outputs.add(out, y)
            bar.update(samples=n)
    bar.close()
    if count == 0:
        raise ValueError("evaluate: the data yielded no batches")
    result = {"loss": loss_sum / count} if loss_fn is not None else {}
    result.update(outputs.compute())
    return result


def predict(model, data, *, batch_size: int = 256, device=None):
    """The model's outputs for every sample of `data`, concatenated in order, as one CPU Tensor:
    `data` is a Tensor or array of inputs, or batches of inputs or of (inputs, targets) pairs.
    Eval mode, no graph."""
    if hasattr(data, "shape"):
        data = DataLoader(TensorDataset(data), batch_size=batch_size)
    chunks = []
    with _eval_mode(model):
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if device is not None:
                x = x.to(device)
            chunks.append(to_numpy(model(x)))
    if not chunks:
        raise ValueError("predict: the data yielded no batches")
    return ember.from_numpy(np.concatenate(chunks))
