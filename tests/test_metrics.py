"""ember.metrics against hand-computed values, and against scikit-learn when it is installed."""

import numpy as np
import pytest

import ember
from ember.metrics import accuracy, confusion_matrix, f1_score, precision, recall

# A 3-class example small enough to count by hand:
#   true 0 0 1 1 2 2 2
#   pred 0 1 1 1 2 0 2
TRUE = [0, 0, 1, 1, 2, 2, 2]
PRED = [0, 1, 1, 1, 2, 0, 2]
CONFUSION = [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
PRECISION = [1 / 2, 2 / 3, 2 / 2]  # diagonal / column sums
RECALL = [1 / 2, 2 / 2, 2 / 3]  # diagonal / row sums
F1 = [2 / 4, 4 / 5, 4 / 5]  # 2 TP / (2 TP + FP + FN)
SUPPORT = [2, 2, 3]


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(TRUE, PRED)
    np.testing.assert_array_equal(cm, CONFUSION)
    assert cm.dtype == np.int64
    wider = confusion_matrix(TRUE, PRED, num_classes=5)
    assert wider.shape == (5, 5) and wider[:3, :3].tolist() == CONFUSION and wider.sum() == 7


def test_binary_scores_by_hand():
    y_true, y_pred = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
    assert accuracy(y_true, y_pred) == pytest.approx(0.8)
    assert precision(y_true, y_pred) == pytest.approx(1.0)
    assert recall(y_true, y_pred) == pytest.approx(2 / 3)
    assert f1_score(y_true, y_pred) == pytest.approx(0.8)
    assert precision(y_true, y_pred, pos_label=0) == pytest.approx(2 / 3)
    assert recall(y_true, y_pred, pos_label=0) == pytest.approx(1.0)


def test_multiclass_averages_by_hand():
    np.testing.assert_allclose(precision(TRUE, PRED, average=None), PRECISION)
    np.testing.assert_allclose(recall(TRUE, PRED, average=None), RECALL)
    np.testing.assert_allclose(f1_score(TRUE, PRED, average=None), F1)
    assert precision(TRUE, PRED, average="macro") == pytest.approx(np.mean(PRECISION))
    assert recall(TRUE, PRED, average="macro") == pytest.approx(np.mean(RECALL))
    assert f1_score(TRUE, PRED, average="macro") == pytest.approx(np.mean(F1))
    assert f1_score(TRUE, PRED, average="weighted") == pytest.approx(
        np.average(F1, weights=SUPPORT)
    )
    assert precision(TRUE, PRED, average="weighted") == pytest.approx(
        np.average(PRECISION, weights=SUPPORT)
    )
    for metric in (precision, recall, f1_score):  # pooled counts: every metric is the accuracy
        assert metric(TRUE, PRED, average="micro") == pytest.approx(5 / 7)
    assert accuracy(TRUE, PRED) == pytest.approx(5 / 7)


def test_scores_and_tensors_as_predictions():
    logits = np.full((7, 3), -1.0)
    logits[np.arange(7), PRED] = 2.0
    assert accuracy(TRUE, logits) == pytest.approx(5 / 7)
    np.testing.assert_array_equal(confusion_matrix(TRUE, logits), CONFUSION)
    tensors = ember.from_numpy(np.array(TRUE)), ember.from_numpy(logits.astype(np.float32))
    assert f1_score(*tensors, average="macro") == pytest.approx(np.mean(F1))
    probabilities = np.array([0.1, 0.7, 0.4, 0.2, 0.9])
    assert accuracy([0, 1, 1, 0, 1], probabilities, threshold=0.5) == pytest.approx(0.8)
    assert recall([0, 1, 1, 0, 1], probabilities[:, None], threshold=0.5) == pytest.approx(2 / 3)
    assert accuracy([0, 1], np.array([False, True])) == 1.0


def test_unpredicted_class_counts_as_zero_division():
    # class 2 is never predicted: its precision is 0/0
    y_true, y_pred = [0, 1, 2, 2], [0, 1, 1, 1]
    assert precision(y_true, y_pred, average=None).tolist() == [1.0, 1 / 3, 0.0]
    assert precision(y_true, y_pred, average=None, zero_division=1.0)[2] == 1.0
    # with num_classes, absent classes join the macro average
    assert recall([0, 0], [0, 0], average="macro") == 1.0
    assert recall([0, 0], [0, 0], average="macro", num_classes=2) == 0.5


def test_metric_errors():
    with pytest.raises(ValueError, match="3 classes but average='binary'"):
        precision(TRUE, PRED)
    with pytest.raises(ValueError, match="non-integer values.*threshold="):
        accuracy([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="different numbers of samples: 2 vs 3"):
        accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="must be >= 0"):
        recall([0, -1], [0, 1], average="macro")
    with pytest.raises(ValueError, match="beyond num_classes=2"):
        confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="average must be one of"):
        f1_score(TRUE, PRED, average="samples")
    with pytest.raises(ValueError, match="pos_label=3 is not one of"):
        f1_score([0, 1], [1, 0], pos_label=3)
    with pytest.raises(ValueError, match="at least one sample"):
        accuracy([], [])


def test_against_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn not installed")
    rng = np.random.default_rng(0)
    for classes in (2, 5):
        y_true = rng.integers(0, classes, 200)
        y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, classes, 200))
        assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
        np.testing.assert_array_equal(
            confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred)
        )
        averages = ["binary"] if classes == 2 else []
        for average in [*averages, "micro", "macro", "weighted", None]:
            for ours, theirs in [
                (precision, skm.precision_score),
                (recall, skm.recall_score),
                (f1_score, skm.f1_score),
            ]:
                np.testing.assert_allclose(
                    ours(y_true, y_pred, average=average),
                    theirs(y_true, y_pred, average=average, zero_division=0),
                    rtol=1e-12,
                    err_msg=f"{ours.__name__} average={average} classes={classes}",
                )
