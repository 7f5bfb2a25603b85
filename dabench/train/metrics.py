"""Accuracy, macro-F1, per-class accuracy and the confusion matrix from predictions."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(predictions: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, Any]:
    """predictions, labels: (N,) ints in [0, K). Confusion rows are true classes, columns predicted."""
    k = len(class_names)
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    support = confusion.sum(1)
    predicted = confusion.sum(0)
    correct = np.diag(confusion)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, correct / np.maximum(predicted, 1), 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    present = support > 0
    return {
        "accuracy": float(correct.sum() / max(len(labels), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {name: (None if np.isnan(recall[i]) else float(recall[i])) for i, name in enumerate(class_names)},
        "confusion": confusion.tolist(),
    }
