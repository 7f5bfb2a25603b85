"""Mixup (Zhang et al., ICLR 2018): convex combinations of batch pairs and of their targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dabench.train.device import to_device


def mix(batch: torch.Tensor, targets: torch.Tensor, alpha: float,
        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """batch (B, ...) float, targets (B, C) probabilities -> mixed batch and mixed targets.

    One weight lam ~ Beta(alpha, alpha) per batch and a random pairing (a permutation), both drawn on
    the CPU generator so a seed fixes them (the pairing reaches the batch's device without a host-device
    sync); alpha <= 0 returns the inputs unchanged.
    """
    if alpha <= 0:
        return batch, targets
    gamma = torch._standard_gamma(torch.tensor([alpha, alpha], dtype=torch.float64), generator=generator)
    lam = float(gamma[0] / gamma.sum())
    partner = to_device(torch.randperm(len(batch), generator=generator), batch.device)
    return lam * batch + (1 - lam) * batch[partner], lam * targets + (1 - lam) * targets[partner]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_c targets_c log softmax(logits)_c; logits and targets (B, C).

    With one-hot targets mixed by :func:`mix` this equals lam CE(y_a) + (1 - lam) CE(y_b), mixup's loss;
    with soft targets it is KL(targets || softmax) plus the targets' (constant) entropy.
    """
    return -(targets * F.log_softmax(logits.float(), 1)).sum(1).mean()
