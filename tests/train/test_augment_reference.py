"""The CluP reference's training augmentation: per sample, seeded, in [0, 1], and equal to torchvision's
RandomAffine / ColorJitter ops for the same parameters."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from dabench.train.batches import _reference_transform, augment_reference, to_float


def _image(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _explicit(batch: torch.Tensor, flip: bool = False, angle: float = 0.0, shift: tuple[float, float] = (0.0, 0.0),
              factors: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    count = batch.shape[0]
    return _reference_transform(batch, torch.full((count,), flip), torch.full((count,), angle),
                                torch.tensor([shift]).repeat(count, 1), torch.tensor([factors]).repeat(count, 1))


def test_same_seed_same_output_and_range() -> None:
    batch = _image(16, 3, 24, 24)
    out = augment_reference(batch, torch.Generator().manual_seed(3))
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert torch.equal(out, augment_reference(batch, torch.Generator().manual_seed(3)))
    assert not torch.equal(out, augment_reference(batch, torch.Generator().manual_seed(4)))
    assert out.min() >= 0 and out.max() <= 1


def test_every_sample_draws_its_own_parameters() -> None:
    batch = _image(1, 3, 32, 32).repeat(64, 1, 1, 1)
    out = augment_reference(batch, torch.Generator().manual_seed(0))
    assert len({round(v.sum().item(), 4) for v in out}) == 64


def test_identity_parameters_give_back_the_input() -> None:
    batch = _image(3, 3, 9, 12)
    assert torch.allclose(_explicit(batch), batch, atol=1e-6)  # the blends' (x - m) * 1 + m rounds


def test_brightness_half_halves_a_constant_image() -> None:
    batch = torch.full((2, 3, 6, 6), 0.8)
    assert torch.allclose(_explicit(batch, factors=(0.5, 1.0, 1.0)), torch.full_like(batch, 0.4))
    # brightness 1.5 of 0.8 is 1.2: clamped to 1
    assert torch.equal(_explicit(batch, factors=(1.5, 1.0, 1.0)), torch.ones_like(batch))


def test_contrast_blends_with_the_grey_mean() -> None:
    batch = torch.zeros(1, 3, 2, 2)
    batch[0, :, 0, 0] = 1.0  # one white pixel of four: grey mean 0.25 x 0.9999 (torchvision's luma sum)
    mean = 0.25 * (0.2989 + 0.587 + 0.114)
    out = _explicit(batch, factors=(1.0, 0.0, 1.0))
    assert torch.allclose(out, torch.full_like(batch, mean), atol=1e-6)
    out = _explicit(batch, factors=(1.0, 0.5, 1.0))  # half-way between each pixel and the mean
    expected = torch.full_like(batch, mean / 2)
    expected[0, :, 0, 0] = (1 + mean) / 2
    assert torch.allclose(out, expected, atol=1e-6)


def test_saturation_zero_gives_grayscale() -> None:
    batch = torch.zeros(1, 3, 1, 2)
    batch[0, 0, 0, 0] = 1.0  # a red pixel and a black one
    grey = _explicit(batch, factors=(1.0, 1.0, 0.0))
    assert torch.allclose(grey, torch.tensor([0.2989, 0.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2), atol=1e-6)


def test_rotation_shift_and_flip_by_hand() -> None:
    batch = torch.arange(2 * 3 * 7 * 7, dtype=torch.float32).view(2, 3, 7, 7) / (2 * 3 * 7 * 7)  # no symmetry
    # 90 degrees counter-clockwise is torch.rot90 (the whole square maps onto itself, borders included)
    assert torch.allclose(_explicit(batch, angle=90.0), torch.rot90(batch, 1, (2, 3)), atol=1e-6)
    assert torch.allclose(_explicit(batch, angle=-90.0), torch.rot90(batch, -1, (2, 3)), atol=1e-6)
    # the flip comes first, then the rotation
    assert torch.allclose(_explicit(batch, flip=True, angle=90.0), torch.rot90(batch.flip(3), 1, (2, 3)), atol=1e-6)
    assert torch.allclose(_explicit(batch, flip=True), batch.flip(3), atol=1e-6)
    # whole-pixel shifts: content moves right / down, zeros come in
    wide = _image(1, 3, 5, 8)
    moved = _explicit(wide, shift=(2.0, -1.0))
    assert torch.allclose(moved[..., :4, 2:], wide[..., 1:, :-2], atol=1e-6)
    assert moved[..., :, :2].abs().sum() == 0 and moved[..., 4, :].abs().sum() == 0


@pytest.mark.parametrize("flip,angle,shift,factors", [
    (False, 20.0, (2.0, -1.0), (0.7, 1.3, 0.6)),
    (True, -33.0, (0.0, 3.0), (1.4, 0.5, 1.5)),
    (True, 7.3, (-2.0, 0.0), (0.5, 1.0, 1.2)),
])
def test_matches_torchvision_for_the_same_parameters(flip: bool, angle: float, shift: tuple[float, float],
                                                     factors: tuple[float, float, float]) -> None:
    """torchvision's RandomAffine (nearest, fill 0) then ColorJitter's ops in our fixed order; a non-square
    image, so the rotation is checked rigid. torchvision's affine counts the angle clockwise."""
    image = _image(1, 3, 10, 14)
    expected = TF.hflip(image) if flip else image
    expected = TF.affine(expected, angle=-angle, translate=[int(shift[0]), int(shift[1])], scale=1.0, shear=[0.0, 0.0],
                         interpolation=InterpolationMode.NEAREST, fill=0)
    expected = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(expected, factors[0]), factors[1]),
                                    factors[2])
    assert torch.allclose(_explicit(image, flip, angle, shift, factors), expected, atol=1e-6)


def test_draws_are_in_the_reference_ranges() -> None:
    """A shift beyond 0.15 of the side or a rotation beyond 35 degrees would move a marked pixel further."""
    size = 41
    batch = torch.zeros(256, 3, size, size)
    batch[:, :, size // 2, size // 2] = 1.0  # one white pixel at the centre, where the rotation cannot move it
    out = augment_reference(batch, torch.Generator().manual_seed(0))
    bright = out.sum(1).flatten(1).argmax(1)
    row, col = bright // size - size // 2, bright % size - size // 2
    limit = round(0.15 * size)
    assert row.abs().max() <= limit and col.abs().max() <= limit
    assert row.abs().max() >= limit - 1 and col.abs().max() >= limit - 1  # the whole range is used


def test_grayscale_expanded_to_three_channels() -> None:
    grey = (_image(8, 1, 20, 20) * 255).to(torch.uint8)
    batch = to_float(grey)  # an expanded (stride 0) view
    out = augment_reference(batch, torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 20, 20) and out.min() >= 0 and out.max() <= 1
    # grey in, grey out: saturation has nothing to change and the geometry is per image, not per channel
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-6) and torch.allclose(out[:, 1], out[:, 2], atol=1e-6)
    assert torch.equal(out, augment_reference(batch.contiguous(), torch.Generator().manual_seed(0)))
