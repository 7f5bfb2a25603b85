"""The rest of official SwAV's colour distortion, on top of ``augment_views``: hue jitter and random
Gaussian blur, per sample and vectorised; parameters drawn on the CPU generator, never a host-device sync."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dabench.train.device import to_device

HUE_P = 0.8  # the share of views jittered: augment_views' jitter_p (official RandomApply(ColorJitter, p=0.8))


def shift_hue(views: torch.Tensor, generator: torch.Generator, strength: float, p: float = HUE_P) -> torch.Tensor:
    """views (B, 3, H, W) in [0, 1] -> the same with a random share ``p`` rotated on the colour wheel by a
    shift drawn uniformly in [-strength, strength] turns (torchvision's adjust_hue: HSV, h + shift mod 1).

    Grey pixels (max = min channel) have no hue and stay as they are; the other views are returned
    unchanged, bit for bit. Deviation: official SwAV jitters brightness, contrast, saturation and hue
    together under one coin (p 0.8), in a random order, before the grayscale; ``augment_views`` does the
    first three under its own coin, so hue comes after it with a coin of its own (both on 64% of the
    views, not 80%; a view made grey stays grey either way).
    """
    count = views.shape[0]
    shifts = strength * (2 * torch.rand(count, generator=generator) - 1)
    applied = torch.rand(count, generator=generator) < p
    shifts = to_device(shifts.to(views.dtype), views.device).view(-1, 1, 1, 1)
    applied = to_device(applied, views.device).view(-1, 1, 1, 1)
    top = views.amax(1, keepdim=True)
    chroma = top - views.amin(1, keepdim=True)
    red, green, blue = views[:, 0:1], views[:, 1:2], views[:, 2:3]
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    sector = torch.where(top == red, (green - blue) / safe,
                         torch.where(top == green, 2 + (blue - red) / safe, 4 + (red - green) / safe))
    hue = torch.remainder(sector / 6 + shifts, 1.0) * 6  # in sixths of a turn
    # HSV -> RGB, each channel n in (5, 3, 1): v - chroma * clamp(min(k, 4 - k), 0, 1), k = (n + hue) mod 6
    channels = [top - chroma * torch.clamp(torch.minimum(k, 4 - k), 0, 1)
                for k in (torch.remainder(n + hue, 6.0) for n in (5, 3, 1))]
    return torch.where(applied, torch.cat(channels, 1), views)


def blur_radius(side: int, sigma_max: float) -> int:
    """Taps either side of the centre: 3 sigma_max, within the view (reflection padding needs radius < side).

    Official SwAV uses a fixed 23-tap kernel (cv2.GaussianBlur, ~10% of its 224 px views), which never cuts
    a sigma <= 2 Gaussian short; 3 sigma keeps all but 0.3% of its mass at any view size, so a 48 px view
    gets the official sigma's blur rather than a near-box 5-tap filter.
    """
    return max(0, min(math.ceil(3 * sigma_max), side - 1))


def gaussian_blur(views: torch.Tensor, generator: torch.Generator, p: float,
                  sigma: tuple[float, float] = (0.1, 2.0)) -> torch.Tensor:
    """views (B, C, H, W) float -> the same with a random share ``p`` blurred by a Gaussian whose sigma (in
    pixels) is drawn uniformly in ``sigma``, one per view (official SwAV: p 0.5, sigma in [0.1, 2.0]).

    Separable: one grouped convolution per axis with B * C per-sample kernels, reflected borders (cv2's
    default, BORDER_REFLECT_101). The views not drawn are returned unchanged, bit for bit.
    """
    count, channels, height, width = views.shape
    applied = torch.rand(count, generator=generator) < p
    sigmas = sigma[0] + (sigma[1] - sigma[0]) * torch.rand(count, generator=generator)
    radius = blur_radius(min(height, width), sigma[1])
    if radius == 0:
        return views
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernels = torch.exp(-offsets.square() / (2 * sigmas.double()[:, None].square()))
    kernels = (kernels / kernels.sum(1, keepdim=True)).to(views.dtype).repeat_interleave(channels, 0)
    kernels = to_device(kernels, views.device)  # (B * C, 2 radius + 1)
    applied = to_device(applied, views.device).view(-1, 1, 1, 1)
    planes = F.pad(views.reshape(1, count * channels, height, width), (radius, radius, radius, radius), mode="reflect")
    planes = F.conv2d(planes, kernels.view(count * channels, 1, 1, -1), groups=count * channels)
    planes = F.conv2d(planes, kernels.view(count * channels, 1, -1, 1), groups=count * channels)
    return torch.where(applied, planes.view(count, channels, height, width), views)
