"""Training a network on fixed soft targets (one probability row per image), as a
:class:`~dabench.train.loop.Step`: cluster_pl's training on its kept subset, and the distillation that starts a
method from the target-SSL backbone (init=ssl). Optional mixup of images and targets."""

from __future__ import annotations

import math

import torch
from torch import nn

from dabench.train.loop import Batch, Step
from dabench.train.mixup import mix, soft_cross_entropy


def cosine_decay(progress: float) -> float:
    """The factor 0.5 (1 + cos(pi p)) for training progress p in [0, 1]: 1 at the start, 0 at the end."""
    return 0.5 * (1 + math.cos(math.pi * progress))


class SoftTargets(Step):
    """The soft cross-entropy of the network to ``targets`` (M, K) probabilities on the images' device, one row
    per image fit is given (one-hot for hard labels; with soft rows the loss is KL plus a constant); batches
    and their targets are mixed (mixup, Beta(alpha, alpha), drawn from ``generator``) when ``mixup_alpha`` > 0."""

    def __init__(self, targets: torch.Tensor, generator: torch.Generator, mixup_alpha: float = 0.0) -> None:
        self.targets, self.generator, self.mixup_alpha = targets, generator, mixup_alpha

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        images, targets = mix(batch.images, self.targets[batch.index], self.mixup_alpha, self.generator)
        return soft_cross_entropy(model(images), targets)
