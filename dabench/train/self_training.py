"""SHOT's target recipe, shared by the self-training methods (SHOT, NRC, AaD): the hyperparameters and
the :class:`~dabench.train.loop.Schedule` they make (lr * (1 + 10 p)^-0.75, per-sample augmentation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dabench.models import ClassifierNet, head_parameters
from dabench.train.batches import augment
from dabench.train.loop import Schedule, by_progress
from dabench.train.schedule import sgd, shot_decay


@dataclass(frozen=True)
class LoopHparams:
    """Optimisation settings every self-training method shares (SHOT's target recipe)."""

    epochs: int = field(default=15, metadata={"help": "passes over the target train images"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=0.01, metadata={"help": "base learning rate (bottleneck/classifier)"})
    backbone_lr_mult: float = field(default=0.1, metadata={"help": "backbone lr multiplier"})
    weight_decay: float = field(default=1e-3, metadata={"help": "SGD weight decay"})
    augment: bool = field(default=True, metadata={"help": "random flip/zoom/rotation on training batches"})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2 (got {self.epochs}, {self.batch_size})")
        if self.lr <= 0 or self.backbone_lr_mult < 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0; backbone_lr_mult and weight_decay must be >= 0")

    def whole_network_sgd(self, model: ClassifierNet) -> torch.optim.SGD:
        """SHOT's SGD over the backbone (lr x ``backbone_lr_mult``) and the bottleneck + classifier (x1), as NRC
        and AaD train them."""
        return sgd([(model.backbone.parameters(), self.backbone_lr_mult), (head_parameters(model), 1.0)],
                   lr=self.lr, weight_decay=self.weight_decay)

    def schedule(self) -> Schedule:
        """The loop's schedule these settings fix: SHOT's decay of ``lr``, augmentation if asked."""
        return Schedule(self.epochs, self.batch_size, lr=self.lr, decay=by_progress(shot_decay),
                        augmentation=augment if self.augment else None)
