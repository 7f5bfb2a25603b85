"""Supervised training with labels: the source model (and the target_oracle upper bound), with the best
epoch chosen on a held-out share of the *training* split, never on a test split."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dabench.models import ClassifierNet, head_parameters
from dabench.settings.recipes import SupervisedRecipe
from dabench.store.progress import note
from dabench.train.batches import augment
from dabench.train.device import to_device
from dabench.train.features import predict
from dabench.train.loop import Batch, Schedule, Session, Step, fit
from dabench.train.schedule import sgd, shot_decay

__all__ = ["SupervisedRecipe", "Supervised", "train_supervised"]


class Supervised(Step):
    """Label-smoothed cross-entropy (``labels`` (N,): one per image fit is given), and after each epoch the
    accuracy on the held-out share (``val_images``, ``val_labels``; none: the last epoch is kept); the best
    epoch's weights are kept aside."""

    def __init__(self, labels: torch.Tensor, label_smoothing: float, val_images: torch.Tensor,
                 val_labels: torch.Tensor) -> None:
        self.labels, self.label_smoothing = labels, label_smoothing
        self.val_images, self.val_labels = val_images, val_labels
        self.best: dict[str, Any] = {"best_epoch": -1, "val_accuracy": -1.0, "history": []}
        self.best_state: dict[str, torch.Tensor] | None = None

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(model(batch.images), self.labels[batch.index], label_smoothing=self.label_smoothing)

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        if len(self.val_images):
            accuracy = (predict(model, self.val_images) == self.val_labels).float().mean().item()
            note(val_accuracy=accuracy)  # the held-out share of the training split
        else:
            accuracy = float(epoch)  # no held-out set: keep the last epoch
        self.best["history"].append(accuracy)
        if accuracy > self.best["val_accuracy"]:
            self.best.update(best_epoch=epoch, val_accuracy=accuracy)
            self.best_state = copy.deepcopy(model.state_dict())

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_state = state["best"], state["best_state"]


def train_supervised(model: ClassifierNet, images: torch.Tensor, labels: torch.Tensor, recipe: SupervisedRecipe,
                     session: Session, stage: str = "train") -> dict[str, Any]:
    """Train ``model`` in place and load the epoch with the best held-out accuracy.

    images: (N, C, H, W) uint8 on the model's device; labels: (N,) int64 on the same device. Returns
    {best_epoch, val_accuracy (best; None without a held-out share), history: [val accuracy per epoch]}.
    """
    device = images.device
    order = to_device(torch.randperm(len(images), generator=session.generator), device)
    n_val = int(round(len(images) * recipe.val_fraction))
    val_index, train_index = order[:n_val], order[n_val:]
    optimizer = sgd([(model.backbone.parameters(), recipe.backbone_lr_mult), (head_parameters(model), 1.0)],
                    lr=recipe.lr, weight_decay=recipe.weight_decay)
    # the decay counts the last, dropped, partial batch of each epoch (as it always has: a change would move
    # every source model trained so far)
    decay_steps = recipe.epochs * max(1, -(-len(train_index) // recipe.batch_size))
    schedule = Schedule(recipe.epochs, recipe.batch_size, lr=recipe.lr,
                        decay=lambda step, _total: shot_decay(step / decay_steps),
                        augmentation=augment if recipe.augment else None)
    step = Supervised(labels, recipe.label_smoothing, images[val_index], labels[val_index])
    fit(model, images, optimizer, step, schedule, session, stage=stage, indices=train_index)
    if step.best_state is not None:
        model.load_state_dict(step.best_state)
    return {**step.best, "val_accuracy": step.best["val_accuracy"] if n_val else None}
