import numpy as np
import pytest
from sklearn import metrics as sk

from harfuse.train.metrics import classification_metrics, top_k_accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = 7
    labels = rng.integers(0, k, 60)
    scores = rng.standard_normal((60, k)) + 2.0 * np.eye(k)[labels] * rng.random((60, 1))
    m = classification_metrics(scores, labels)
    preds = scores.argmax(1)
    assert m["top1"] == pytest.approx(sk.accuracy_score(labels, preds))
    assert m["top5"] == pytest.approx(sk.top_k_accuracy_score(labels, scores, k=5, labels=range(k)))
    assert m["macro_f1"] == pytest.approx(sk.f1_score(labels, preds, average="macro"))
    assert m["mean_class_acc"] == pytest.approx(sk.balanced_accuracy_score(labels, preds))
    assert m["confusion"] == sk.confusion_matrix(labels, preds, labels=range(k)).tolist()


def test_top_k_with_fewer_classes_than_k():
    scores = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert top_k_accuracy(scores, np.array([0, 0]), 5) == 1.0
    assert top_k_accuracy(scores, np.array([0, 0]), 1) == 0.5


def test_a_class_without_test_samples_counts_zero():
    # walking (class 2) has no test sample: perfect on the others is not a perfect score
    scores = np.eye(3)[[0, 0, 1, 1]]
    labels = np.array([0, 0, 1, 1])
    m = classification_metrics(scores, labels)
    preds = scores.argmax(1)
    assert m["top1"] == 1.0
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx(
        sk.f1_score(labels, preds, average="macro", labels=range(3), zero_division=0)
    )
    assert m["mean_class_acc"] == pytest.approx(2 / 3)
    assert m["classes_scored"] == 3
    # predicting the absent class never helps either
    wrong = np.eye(3)[[2, 0, 1, 1]]
    assert classification_metrics(wrong, labels)["macro_f1"] < m["macro_f1"]
