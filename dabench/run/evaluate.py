"""The evaluator of one run: any model scored on the target test split (labels the method never sees),
the per-epoch history (target test, for analysis only, and the label-free validators), pseudo-label quality."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dabench.data.dataset import Split
from dabench.models import ClassifierNet
from dabench.store import progress, results
from dabench.train.batches import images_to_device
from dabench.train.features import predict
from dabench.train.metrics import classification_metrics
from dabench.validators import Validator, fixed_subsample, score_model


class Evaluator:
    """Scores models on ``test`` and, label-free, on a fixed subsample of the images a method adapts on
    (``adapt``); ``history`` holds one entry per epoch the method reports (``on_epoch_end``)."""

    def __init__(self, test: Split, adapt: Split, classes: tuple[str, ...], seed: int,
                 validators: dict[str, Validator], batch_size: int, device: torch.device) -> None:
        self.test_images = images_to_device(test.images, device)
        self.test_labels = test.labels
        self.classes = classes
        self.validators = validators
        self.batch_size = batch_size
        self.history: list[dict[str, Any]] = []
        # label-free validators score each epoch on a fixed subsample of the images the method adapts on
        validation_indices = fixed_subsample(len(adapt), seed).numpy()
        self.validation_images = images_to_device(adapt.images[validation_indices], device)

    def evaluate(self, model: ClassifierNet) -> dict[str, Any]:
        """``classification_metrics`` of ``model`` on the target test split."""
        predictions = predict(model, self.test_images, self.batch_size).cpu().numpy()
        return classification_metrics(predictions, self.test_labels, self.classes)

    def validate(self, model: ClassifierNet) -> dict[str, float]:
        """Every validator's score of ``model`` on the validation subsample (no labels)."""
        return score_model(model, self.validation_images, self.validators, self.batch_size)

    def on_epoch_end(self, model: ClassifierNet, epoch: int) -> None:
        """The runner's ``ctx.end_epoch``: one history entry, and the epoch's label-free scores in the log."""
        metrics = self.evaluate(model)
        scores = self.validate(model)
        self.history.append({"epoch": epoch, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                             "validators": scores})
        progress.note(**scores)  # label-free scores only: the log never shows target-test accuracy

    def closed_history(self, adapted: ClassifierNet, final: dict[str, Any]) -> list[dict[str, Any]]:
        """The history closed (in place) by the model adapt returned, when it changed after the last epoch;
        ``final``: that model's :meth:`evaluate`."""
        return results.close_history(self.history, {"accuracy": final["accuracy"], "macro_f1": final["macro_f1"],
                                                     "validators": self.validate(adapted)})


def pseudo_label_quality(pseudo_labels: list[dict[str, Any]], labels: np.ndarray) -> list[dict[str, Any]]:
    """Accuracy of each pseudo-label set a method recorded (``ctx.pseudo_labels``), scored against ``labels``."""
    quality = []
    for entry in pseudo_labels:
        indices, predicted = entry["indices"].numpy(), entry["labels"].numpy()
        quality.append({"stage": entry["stage"], "kept": int(len(indices)),
                        "accuracy": float(np.mean(labels[indices] == predicted)) if len(indices) else None})
    return quality
