"""Mixup: mixed targets, the loss identity, determinism, and alpha 0."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dabench.train.mixup import mix, soft_cross_entropy


def test_mix_is_a_convex_combination_with_one_weight() -> None:
    batch = torch.arange(4.0).view(4, 1)
    targets = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    mixed, mixed_targets = mix(batch, targets, 0.2, torch.Generator().manual_seed(3))
    again, _ = mix(batch, targets, 0.2, torch.Generator().manual_seed(3))
    assert torch.equal(mixed, again)
    assert torch.allclose(mixed_targets.sum(1), torch.ones(4))
    lam = mixed_targets.max().item()
    assert 0.5 <= lam <= 1.0 or mixed_targets.max().item() == pytest.approx(1.0)


def test_soft_cross_entropy_equals_the_mixup_loss() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    a, b, lam = torch.tensor([0, 2]), torch.tensor([1, 1]), 0.3
    targets = lam * F.one_hot(a, 3).float() + (1 - lam) * F.one_hot(b, 3).float()
    expected = lam * F.cross_entropy(logits, a) + (1 - lam) * F.cross_entropy(logits, b)
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)


def test_alpha_zero_is_no_mixup() -> None:
    batch, targets = torch.randn(3, 2), torch.eye(3)
    mixed, mixed_targets = mix(batch, targets, 0.0, torch.Generator())
    assert mixed is batch and mixed_targets is targets
