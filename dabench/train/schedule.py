"""SHOT's optimiser recipe: SGD (momentum 0.9, Nesterov) with lr * (1 + 10 p)^-0.75 and a smaller lr
for the backbone than for the head."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def sgd(groups: Iterable[tuple[Iterable[nn.Parameter], float]], lr: float, weight_decay: float,
        momentum: float = 0.9, nesterov: bool = True) -> torch.optim.SGD:
    """SGD over groups of (parameters, lr multiplier); a group with multiplier 0 or no trainable parameter is left out."""
    param_groups = []
    for params, mult in groups:
        params = [p for p in params if p.requires_grad]
        if mult > 0 and params:
            param_groups.append({"params": params, "lr": lr * mult, "lr_mult": mult})
    return torch.optim.SGD(param_groups, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov)


def shot_decay(progress: float, gamma: float = 10.0, power: float = 0.75) -> float:
    """The factor (1 + gamma p)^-power for training progress p in [0, 1]."""
    return (1.0 + gamma * progress) ** (-power)


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, factor: float) -> None:
    """Set each group's lr to base_lr * its lr multiplier (1 if it has none) * factor, e.g. shot_decay(p)."""
    for group in optimizer.param_groups:
        group["lr"] = base_lr * group.get("lr_mult", 1.0) * factor
