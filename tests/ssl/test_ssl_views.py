"""Official SwAV's hue jitter and Gaussian blur on top of augment_views, and make_views' use of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dabench.train.batches import to_float
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl.pretrain import make_views
from dabench.train.ssl.views import blur_radius, gaussian_blur, shift_hue


def _views(count: int = 8, size: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _roughness(views: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels (total variation per pixel)."""
    return float((views[..., 1:, :] - views[..., :-1, :]).abs().mean() + (views[..., 1:] - views[..., :-1]).abs().mean())


def test_blur_leaves_a_constant_image_as_it_is() -> None:
    constant = torch.full((4, 3, 24, 24), 0.3)
    blurred = gaussian_blur(constant, torch.Generator().manual_seed(0), p=1.0)
    assert torch.allclose(blurred, constant, atol=1e-6)


def test_blur_with_p_zero_is_the_identity_and_undrawn_views_are_untouched() -> None:
    views = _views(64)
    assert torch.equal(gaussian_blur(views, torch.Generator().manual_seed(0), p=0.0), views)
    blurred = gaussian_blur(views, torch.Generator().manual_seed(0), p=0.5)
    unchanged = (blurred == views).flatten(1).all(1)
    assert 16 < int(unchanged.sum()) < 48  # about half drawn; the rest bit for bit the input
    assert (blurred[~unchanged] - views[~unchanged]).abs().amax() > 0.05


def test_blur_same_seed_same_output() -> None:
    views = _views()
    first = gaussian_blur(views, torch.Generator().manual_seed(3), p=0.5)
    assert torch.equal(first, gaussian_blur(views, torch.Generator().manual_seed(3), p=0.5))
    assert not torch.equal(first, gaussian_blur(views, torch.Generator().manual_seed(4), p=0.5))


def test_a_larger_sigma_gives_a_smoother_view() -> None:
    views = _views()
    roughness = [_roughness(gaussian_blur(views, torch.Generator().manual_seed(0), 1.0, (s, s)))
                 for s in (0.1, 0.5, 1.0, 2.0)]
    assert roughness == sorted(roughness, reverse=True) and roughness[-1] < 0.5 * roughness[0]
    assert roughness[0] == pytest.approx(_roughness(views), rel=1e-4)  # sigma 0.1: next to nothing


def test_blur_matches_official_swavs_cv2_kernel() -> None:
    cv2 = pytest.importorskip("cv2")
    views = _views(1, 48)
    for sigma in (0.5, 2.0):
        ours = gaussian_blur(views, torch.Generator(), 1.0, (sigma, sigma))[0].permute(1, 2, 0).numpy()
        official = cv2.GaussianBlur(views[0].permute(1, 2, 0).numpy(), (23, 23), sigma, borderType=cv2.BORDER_REFLECT_101)
        assert np.abs(ours - official).max() < 1e-3  # 3 sigma taps instead of 23: < 0.3% of the mass left out


def test_blur_radius_is_three_sigma_within_the_view() -> None:
    assert blur_radius(48, 2.0) == 6 and blur_radius(224, 2.0) == 6 and blur_radius(21, 1.0) == 3
    assert blur_radius(4, 2.0) == 3 and blur_radius(1, 2.0) == 0
    assert gaussian_blur(_views(2, 1), torch.Generator(), 1.0).shape == (2, 3, 1, 1)


def test_hue_shift_matches_torchvision_per_view() -> None:
    functional = pytest.importorskip("torchvision.transforms.functional")
    views = _views(6, 12)
    shifted = shift_hue(views, torch.Generator().manual_seed(1), 0.5, p=1.0)
    shifts = 0.5 * (2 * torch.rand(6, generator=torch.Generator().manual_seed(1)) - 1)  # the draws, in order
    expected = torch.stack([functional.adjust_hue(view, float(shift)) for view, shift in zip(views, shifts)])
    assert torch.allclose(shifted, expected, atol=1e-5)


def test_hue_leaves_grey_views_and_undrawn_ones_alone() -> None:
    grey = _views(4)[:, :1].expand(-1, 3, -1, -1)
    assert torch.equal(shift_hue(grey, torch.Generator().manual_seed(0), 0.5, p=1.0), grey)
    views = _views(64)
    assert torch.equal(shift_hue(views, torch.Generator().manual_seed(0), 0.2, p=0.0), views)
    shifted = shift_hue(views, torch.Generator().manual_seed(0), 0.2, p=0.5)
    assert 16 < int((shifted == views).flatten(1).all(1).sum()) < 48


def test_make_views_adds_hue_and_blur_only_when_asked() -> None:
    images = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images = to_float(images)  # make_views takes the float batch the loop gives
    plain = make_views(images, SSLRecipe(), torch.Generator().manual_seed(0))
    official = SSLRecipe(color_jitter=0.8, hue=0.2, blur_p=0.5)
    distorted = make_views(images, official, torch.Generator().manual_seed(0))
    assert [v.shape for v in distorted] == [v.shape for v in plain] == [(4, 3, 24, 24)] * 2 + [(4, 3, 10, 10)] * 4
    assert not any(torch.equal(a, b) for a, b in zip(plain, distorted))
    again = make_views(images, official, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(distorted, again))
    assert all(float(v.min()) >= 0 and float(v.max()) <= 1 for v in distorted)


def test_bad_view_settings_are_refused() -> None:
    for bad in ({"blur_p": 1.5}, {"hue": 0.6}, {"color_jitter": -0.1}, {"blur_sigma_min": 0.0},
                {"blur_sigma_min": 3.0, "blur_sigma_max": 2.0}):
        with pytest.raises(ValueError, match="0 <= blur_p <= 1"):
            SSLRecipe(**bad)
