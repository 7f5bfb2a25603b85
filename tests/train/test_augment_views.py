"""The SSL view augmentation draws its parameters per sample, is seeded, and keeps [0, 1]."""

from __future__ import annotations

import torch

from dabench.train.batches import augment, augment_views


def test_views_are_per_sample_seeded_and_sized() -> None:
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    batch = image.repeat(6, 1, 1, 1)
    views = augment_views(batch, torch.Generator().manual_seed(1), size=16)
    assert views.shape == (6, 3, 16, 16)
    assert views.min() >= 0 and views.max() <= 1
    # identical inputs, different views: each sample drew its own crop and colours
    assert len({round(v.sum().item(), 4) for v in views}) == 6
    assert torch.equal(views, augment_views(batch, torch.Generator().manual_seed(1), size=16))


def test_augment_is_unchanged() -> None:
    batch = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = augment(batch, torch.Generator().manual_seed(0), flip=False, scale=(1.0, 1.0), max_rotation_deg=0.0,
                  max_shift=0.0)
    assert torch.allclose(out, batch, atol=1e-5)
