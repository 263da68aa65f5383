"""Float64 NumPy references for the losses, written from their definitions (PyTorch's
torch.nn.functional semantics). `reduction` is "mean", "sum" or "none"; backward functions take
`dout` of the forward's shape and return the gradient with respect to the first argument."""

import numpy as np


def _reduce(per_element, reduction, divisor=None):
    if reduction == "none":
        return per_element
    total = per_element.sum()
    if reduction == "sum":
        return np.array(total)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 -> NaN, as PyTorch
        return np.array(total / (per_element.size if divisor is None else divisor))


def _upstream(dout, reduction, shape, divisor=None):
    """The upstream gradient of each element's loss."""
    if reduction == "none":
        return dout
    if reduction == "sum":
        return np.full(shape, float(dout))
    n = int(np.prod(shape)) if divisor is None else divisor
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.full(shape, float(dout) / n)


def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _class_weights(weight, num_classes):
    return np.ones(num_classes) if weight is None else np.asarray(weight, dtype=np.float64)


def cross_entropy(
    logits, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0
):
    """Row i with class t: (1 - eps) * w_t * (-log p_it) + eps/C * sum_c w_c * (-log p_ic);
    ignored rows count 0; the mean divides by the summed weight w_t of the rows kept."""
    n, c = logits.shape
    w = _class_weights(weight, c)
    logp = _log_softmax(logits)
    keep = target != ignore_index
    t = np.where(keep, target, 0)
    rows = np.arange(n)
    per_row = (1 - label_smoothing) * w[t] * -logp[rows, t]
    if label_smoothing > 0:
        per_row = per_row + label_smoothing / c * -(logp * w).sum(axis=1)
    per_row = np.where(keep, per_row, 0.0)
    return _reduce(per_row, reduction, divisor=np.sum(w[t] * keep))


def cross_entropy_backward(
    dout, logits, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0
):
    """d/dx_ij of the row loss: (1 - eps) w_t (p_ij - [j = t]) + eps/C (sum(w) p_ij - w_j)."""
    n, c = logits.shape
    w = _class_weights(weight, c)
    p = np.exp(_log_softmax(logits))
    keep = target != ignore_index
    t = np.where(keep, target, 0)
    onehot = np.eye(c)[t]
    eps = label_smoothing
    grad = (1 - eps) * w[t][:, None] * (p - onehot) + eps / c * (w.sum() * p - w)
    g = _upstream(dout, reduction, (n,), divisor=np.sum(w[t] * keep))
    return np.where(keep[:, None], g[:, None] * grad, 0.0)


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def bce_with_logits(x, target, reduction="mean", pos_weight=None):
    """-(pos_weight * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))); pos_weight broadcasts
    over the last axis."""
    pw = 1.0 if pos_weight is None else pos_weight
    per = -(pw * target * _log_sigmoid(x) + (1 - target) * _log_sigmoid(-x))
    return _reduce(per, reduction)


def bce_with_logits_backward(dout, x, target, reduction="mean", pos_weight=None):
    """d/dx: -pos_weight * t * (1 - sigmoid(x)) + (1 - t) * sigmoid(x)."""
    pw = 1.0 if pos_weight is None else pos_weight
    s, s_neg = np.exp(_log_sigmoid(x)), np.exp(_log_sigmoid(-x))
    return _upstream(dout, reduction, x.shape) * (-pw * target * s_neg + (1 - target) * s)


def bce(p, target, reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)), each log clamped below at -100 (PyTorch)."""
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_q = np.maximum(np.log(1.0 - p), -100.0)
    return _reduce(-(target * log_p + (1 - target) * log_q), reduction)


def bce_backward(dout, p, target, reduction="mean"):
    """-t/p + (1 - t)/(1 - p) = (p - t) / (p (1 - p)), the denominator clamped below at 1e-12
    (PyTorch's backward)."""
    return _upstream(dout, reduction, p.shape) * (p - target) / np.maximum(p * (1 - p), 1e-12)


def mse(x, target, reduction="mean"):
    return _reduce((x - target) ** 2, reduction)


def mse_backward(dout, x, target, reduction="mean"):
    return _upstream(dout, reduction, x.shape) * 2 * (x - target)
