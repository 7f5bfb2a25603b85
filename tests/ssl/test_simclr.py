"""SimCLR's NT-Xent on cases worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from dabench.train.ssl.simclr import nt_xent


def test_nt_xent_two_orthogonal_images() -> None:
    # views: a=e1, b=e2 (first), a'=e1, b'=e2 (second). For anchor a: partner a' has cosine 1, the
    # two others (b, b') cosine 0, so the loss is -log(e^{1/T} / (e^{1/T} + 2)) = log(1 + 2 e^{-1/T});
    # by symmetry all four anchors give the same value.
    first = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    second = torch.tensor([[2.0, 0.0], [0.0, 0.5]])  # scale does not matter: views are normalised
    assert nt_xent(first, second, temperature=0.5).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_nt_xent_single_image_has_only_its_partner() -> None:
    assert nt_xent(torch.tensor([[1.0, 2.0]]), torch.tensor([[-3.0, 1.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_nt_xent_prefers_matching_views() -> None:
    generator = torch.Generator().manual_seed(0)
    views = torch.randn(8, 16, generator=generator)
    matched = nt_xent(views, views + 0.01 * torch.randn(8, 16, generator=generator))
    shuffled = nt_xent(views, views[torch.randperm(8, generator=generator)])
    assert matched < shuffled
