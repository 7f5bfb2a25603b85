"""Accuracy, macro-F1, per-class accuracy and the confusion matrix from predictions."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(predictions: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, Any]:
    """predictions, labels: (N,) ints in [0, K). Confusion rows are true classes, columns predicted."""
    k = len(class_names)
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    support = confusion.sum(1)
    correct = np.diag(confusion)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    present = np.flatnonzero(support > 0)
    macro_f1 = 0.0
    if len(present):
        # scikit-learn's macro-F1 over the classes present in the labels: the number papers report
        from sklearn.metrics import f1_score
        macro_f1 = float(f1_score(labels, predictions, labels=present, average="macro", zero_division=0))
    return {
        "accuracy": float(correct.sum() / max(len(labels), 1)),
        "macro_f1": macro_f1,
        "per_class": {name: (None if np.isnan(recall[i]) else float(recall[i])) for i, name in enumerate(class_names)},
        "confusion": confusion.tolist(),
    }
