"""Classification metrics from scores, in numpy (checked against scikit-learn in tests)."""

from __future__ import annotations

import numpy as np

#: the metrics a run reports, in the order tables show them
METRICS = ["top1", "top5", "macro_f1", "mean_class_acc"]


def shown_metrics(n_classes: int | None) -> list[str]:
    """:data:`METRICS` as tables show them: without ``top5`` when there are 5 classes or
    fewer, where every label is among the top 5 (all of them with ``n_classes`` None)."""
    return [m for m in METRICS if m != "top5" or n_classes is None or n_classes > 5]


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest of ``scores`` ``(N, K)``."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def macro_f1(cm: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over **every** class of ``cm`` ``(K, K)``: a class
    with no test sample and never predicted counts 0 (scikit-learn's ``f1_score`` with
    ``labels=range(K)``, ``zero_division=0``), so a class missing from the test set can only
    lower the score, never raise it."""
    tp = np.diag(cm).astype(float)
    denom = (cm.sum(1) + cm.sum(0)).astype(float)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean()) if len(f1) else 0.0


def mean_class_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over **every** class of ``cm``; a class with no test sample
    counts 0 (as in :func:`macro_f1`)."""
    support = cm.sum(1).astype(float)
    recall = np.divide(np.diag(cm), support, out=np.zeros_like(support), where=support > 0)
    return float(recall.mean()) if len(recall) else 0.0


def classification_metrics(scores: np.ndarray, labels: np.ndarray) -> dict:
    """top1, top5, macro_f1 and mean_class_acc of ``scores`` ``(N, K)``, the confusion
    matrix (as nested lists) and ``classes_scored`` (``K``: the per-class means are over all
    of them). With 5 classes or fewer top5 is 1 by construction (the report leaves it out
    then)."""
    cm = confusion_matrix(labels, scores.argmax(1), scores.shape[1])
    return {
        "classes_scored": int(scores.shape[1]),
        "top1": top_k_accuracy(scores, labels, 1),
        "top5": top_k_accuracy(scores, labels, 5),
        "macro_f1": macro_f1(cm),
        "mean_class_acc": mean_class_accuracy(cm),
        "confusion": cm.tolist(),
    }
