"""Classification metrics in NumPy: accuracy, precision, recall, f1_score, confusion_matrix.

Inputs may be Tensors or arrays. `y_true` holds integer class labels 0..K-1. `y_pred` holds either
labels (N,), or class scores (N, K) (logits or probabilities: the argmax is the prediction), or,
for binary tasks, one score per sample (N,) together with `threshold=` (0.5 for probabilities,
0.0 for logits; the prediction is 1 where score > threshold).

precision, recall and f1_score follow scikit-learn: average='binary' (the default) scores class
`pos_label`; None returns one score per class; 'micro' pools the counts of all classes; 'macro'
is the unweighted mean over classes; 'weighted' the mean weighted by each class's true count.
Classes are those present in y_true or y_pred, or 0..num_classes-1 when num_classes is given.
A ratio with a zero denominator counts as `zero_division` (default 0.0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.data._convert import to_numpy

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _as_labels(name: str, values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"{name}: expected integer class labels, got dtype {values.dtype}")
    if values.size and not np.array_equal(values, np.round(values)):
        raise ValueError(
            f"{name}: holds non-integer values; for scores pass shape (N, K), or (N,) with "
            f"threshold= (0.5 for probabilities, 0.0 for logits)"
        )
    labels = values.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name}: class labels must be >= 0, got {labels.min()}")
    return labels


def _true_labels(y_true: Any) -> np.ndarray:
    values = to_numpy(y_true)
    if values.ndim != 1:
        raise ValueError(f"y_true: expected labels of shape (N,), got {values.shape}")
    return _as_labels("y_true", values)


def _predicted_labels(y_pred: Any, threshold: float | None) -> np.ndarray:
    scores = to_numpy(y_pred)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim == 2:
        if threshold is not None:
            raise ValueError("threshold applies to one score per sample, not to (N, K) scores")
        return scores.argmax(axis=1).astype(np.int64)
    if scores.ndim != 1:
        raise ValueError(f"y_pred: expected labels (N,) or scores (N, K), got {scores.shape}")
    if threshold is not None:
        return (scores > threshold).astype(np.int64)
    return _as_labels("y_pred", scores)


def _paired(y_true: Any, y_pred: Any, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _true_labels(y_true), _predicted_labels(y_pred, threshold)
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred hold different numbers of samples: {true.shape[0]} vs "
            f"{pred.shape[0]}"
        )
    if true.size == 0:
        raise ValueError("metrics need at least one sample")
    return true, pred


def accuracy(y_true: Any, y_pred: Any, threshold: float | None = None) -> float:
    """Fraction of samples whose predicted class equals the true one."""
    true, pred = _paired(y_true, y_pred, threshold)
    return float(np.mean(true == pred))


def _counts(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(true * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def confusion_matrix(
    y_true: Any, y_pred: Any, num_classes: int | None = None, threshold: float | None = None
) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j, an int64 (K, K) array.

    K is num_classes, else the number of score columns of y_pred, else 1 + the largest label."""
    true, pred = _paired(y_true, y_pred, threshold)
    scores = to_numpy(y_pred)
    if num_classes is None:
        columns = scores.shape[1] if scores.ndim == 2 and scores.shape[1] > 1 else 0
        num_classes = max(columns, int(max(true.max(), pred.max())) + 1)
    elif max(true.max(), pred.max()) >= num_classes:
        raise ValueError(
            f"labels go up to {max(true.max(), pred.max())}, beyond num_classes={num_classes}"
        )
    return _counts(true, pred, num_classes).astype(np.int64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, zero_division: float) -> np.ndarray:
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, zero_division)


def _score(
    kind: str,
    y_true: Any,
    y_pred: Any,
    average: str | None,
    pos_label: int,
    num_classes: int | None,
    threshold: float | None,
    zero_division: float,
) -> float | np.ndarray:
    if average not in _AVERAGES:
        raise ValueError(f"{kind}: average must be one of {_AVERAGES}, got {average!r}")
    true, pred = _paired(y_true, y_pred, threshold)
    if num_classes is None:
        labels = np.union1d(true, pred)
    else:
        if max(true.max(), pred.max()) >= num_classes:
            raise ValueError(f"{kind}: labels go beyond num_classes={num_classes}")
        labels = np.arange(num_classes)
    if average == "binary":
        if (
            isinstance(pos_label, bool)
            or not isinstance(pos_label, (int, np.integer))
            or pos_label < 0
        ):
            raise ValueError(f"{kind}: pos_label must be a class label >= 0, got {pos_label!r}")
        present = np.union1d(true, pred)
        if len(present) > 2:
            raise ValueError(
                f"{kind}: the targets have {len(present)} classes but average='binary'; "
                f"choose average='macro', 'micro', 'weighted' or None"
            )
        if len(present) == 2 and pos_label not in present:
            raise ValueError(f"{kind}: pos_label={pos_label} is not one of the labels {present}")
        labels = np.array([pos_label])
    size = int(max(true.max(), pred.max(), labels.max())) + 1
    counts = _counts(true, pred, size)
    hits = np.diag(counts)[labels].astype(np.float64)
    predicted = counts.sum(axis=0)[labels].astype(np.float64)
    actual = counts.sum(axis=1)[labels].astype(np.float64)
    numerator, denominator = {
        "precision": (hits, predicted),
        "recall": (hits, actual),
        "f1_score": (2 * hits, predicted + actual),
    }[kind]
    if average == "micro":
        return float(_ratio(numerator.sum(), denominator.sum(), zero_division))
    per_class = _ratio(numerator, denominator, zero_division)
    if average is None:
        return per_class
    if average == "weighted":
        if actual.sum() == 0:
            return float(zero_division)
        return float(np.average(per_class, weights=actual))
    return float(per_class.mean())


def precision(
    y_true: Any,
    y_pred: Any,
    average: str | None = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
    threshold: float | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """Of the samples predicted as a class, the fraction truly of it: TP / (TP + FP)."""
    return _score(
        "precision", y_true, y_pred, average, pos_label, num_classes, threshold, zero_division
    )


def recall(
    y_true: Any,
    y_pred: Any,
    average: str | None = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
    threshold: float | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """Of the samples truly of a class, the fraction predicted as it: TP / (TP + FN)."""
    return _score(
        "recall", y_true, y_pred, average, pos_label, num_classes, threshold, zero_division
    )


def f1_score(
    y_true: Any,
    y_pred: Any,
    average: str | None = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
    threshold: float | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN), per class, then averaged
    (macro F1 averages the per-class F1s, as scikit-learn)."""
    return _score(
        "f1_score", y_true, y_pred, average, pos_label, num_classes, threshold, zero_division
    )


__all__ = ["accuracy", "confusion_matrix", "f1_score", "precision", "recall"]
