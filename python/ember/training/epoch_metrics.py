"""Metrics over a whole epoch, computed from the model's outputs with ember.metrics.

Named metrics: "accuracy", "precision", "recall", "f1". On a model with K > 1 outputs (class
scores) precision, recall and f1 are macro-averaged over the classes; on a one-output model
(binary classification, targets 0/1) they score class 1, its output thresholded at 0 (logits)
unless the loss is BCELoss or MSELoss (probabilities: 0.5). Any callable
`fn(y_true, outputs) -> float` on NumPy arrays works too; it is logged under its __name__.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember import metrics as metric_fns
from ember.data._convert import to_numpy

NAMED_METRICS = ("accuracy", "precision", "recall", "f1")
_AVERAGED = {
    "precision": metric_fns.precision,
    "recall": metric_fns.recall,
    "f1": metric_fns.f1_score,
}


def metric_name(metric: str | Callable) -> str:
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def check_metrics(metrics: Sequence[str | Callable]) -> list[str | Callable]:
    if isinstance(metrics, str):
        metrics = [metrics]
    for m in metrics:
        if not callable(m) and m not in NAMED_METRICS:
            raise ValueError(
                f"unknown metric {m!r}; expected one of {NAMED_METRICS} or a "
                "callable fn(y_true, outputs) -> float"
            )
    return list(metrics)


def threshold_for(loss_fn) -> float:
    return 0.5 if type(loss_fn).__name__ in ("BCELoss", "MSELoss") else 0.0


def compute_metric(
    metric: str | Callable, y_true: np.ndarray, outputs: np.ndarray, threshold: float
) -> float:
    """One metric of the model's `outputs` against the targets (see the module docstring)."""
    if callable(metric):
        return float(metric(y_true, outputs))
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    binary = outputs.ndim == 1
    kwargs: dict[str, Any] = {}
    if binary:
        y_true = y_true.astype(np.int64)  # BCE targets are floats 0.0 / 1.0
        kwargs["threshold"] = threshold
    if metric == "accuracy":
        return float(metric_fns.accuracy(y_true, outputs, **kwargs))
    average = "binary" if binary else "macro"
    return float(_AVERAGED[metric](y_true, outputs, average=average, **kwargs))


class EpochOutputs:
    """Collects the outputs and targets of an epoch's batches (as NumPy copies, so no Tensor or
    graph outlives its batch) and computes the metrics over all of them at the end."""

    def __init__(self, metrics: Sequence[str | Callable], loss_fn) -> None:
        self.metrics = metrics
        self.threshold = threshold_for(loss_fn)
        self._outputs: list[np.ndarray] = []
        self._targets: list[np.ndarray] = []

    def add(self, outputs, targets) -> None:
        if self.metrics:
            # Host copies: the tensors may live on a device, and may be reused after the batch.
            self._outputs.append(np.array(to_numpy(outputs), copy=True))
            self._targets.append(np.array(to_numpy(targets), copy=True))

    def compute(self) -> dict[str, float]:
        if not self.metrics or not self._outputs:
            return {}
        outputs = np.concatenate(self._outputs)
        targets = np.concatenate(self._targets)
        return {
            metric_name(m): compute_metric(m, targets, outputs, self.threshold)
            for m in self.metrics
        }
