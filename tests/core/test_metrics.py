"""Evaluation metrics against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from dabench.train.metrics import classification_metrics


def test_metrics_match_hand_computation() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    predictions = np.array([0, 0, 1, 1, 2, 2])
    metrics = classification_metrics(predictions, labels, ("a", "b", "c"))
    # confusion: a -> [2, 1, 0], b -> [0, 1, 1], c -> [0, 0, 1]; 4 of 6 correct
    assert metrics["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class"] == pytest.approx({"a": 2 / 3, "b": 1 / 2, "c": 1.0})
    # F1: a p=1 r=2/3 -> 0.8; b p=1/2 r=1/2 -> 0.5; c p=1/2 r=1 -> 2/3
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_absent_class_has_no_recall_and_is_left_out_of_macro_f1() -> None:
    metrics = classification_metrics(np.array([0, 1]), np.array([0, 1]), ("a", "b", "c"))
    assert metrics["per_class"]["c"] is None
    assert metrics["macro_f1"] == pytest.approx(1.0)
