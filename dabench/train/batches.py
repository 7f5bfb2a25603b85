"""Batches from device-resident uint8 images: index sampling, float conversion and per-sample
augmentation in one vectorised affine_grid/grid_sample call (no per-sample Python, no decoding)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from dabench.train.device import to_device


def images_to_device(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W, C) uint8 numpy -> (N, C, H, W) uint8 tensor on ``device`` (channels_last memory)."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) uint8 -> (B, 3, H, W) float in [0, 1]; grayscale is repeated to 3 channels."""
    batch = batch.float().div_(255.0)
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch


def index_batches(n: int, batch_size: int, generator: torch.Generator | None, shuffle: bool = True,
                  drop_last: bool = False, device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Index tensors covering range(n) once, shuffled by ``generator`` when ``shuffle``."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = to_device(order, device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def augment(batch: torch.Tensor, generator: torch.Generator, flip: bool = True,
            scale: tuple[float, float] = (0.8, 1.0), max_rotation_deg: float = 10.0,
            max_shift: float = 0.05) -> torch.Tensor:
    """Per-sample random flip, zoom (random-resized-crop style), rotation and shift.

    batch: (B, 3, H, W) float. The random parameters are drawn on the CPU generator (B values each,
    deterministic for a seed) and applied on the batch's device in one grid_sample; the (B, 2, 3)
    matrix goes there without a host-device sync (:func:`to_device`).
    """
    size = batch.shape[0]
    draw = lambda: torch.rand(size, generator=generator)  # noqa: E731
    zoom = scale[0] + (scale[1] - scale[0]) * draw()
    angle = torch.deg2rad((2 * draw() - 1) * max_rotation_deg)
    sign = torch.where(draw() < 0.5, -1.0, 1.0) if flip else torch.ones(size)
    shift_x, shift_y = (2 * draw() - 1) * max_shift * 2, (2 * draw() - 1) * max_shift * 2
    cos, sin = torch.cos(angle) * zoom.sqrt(), torch.sin(angle) * zoom.sqrt()
    theta = torch.stack([torch.stack([cos * sign, -sin, shift_x], 1),
                         torch.stack([sin * sign, cos, shift_y], 1)], 1)
    theta = to_device(theta.to(batch.dtype), batch.device)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def augment_views(batch: torch.Tensor, generator: torch.Generator, size: int,
                  scale: tuple[float, float] = (0.2, 1.0), jitter: float = 0.4, jitter_p: float = 0.8,
                  grayscale_p: float = 0.2, flip: bool = True) -> torch.Tensor:
    """Self-supervised views: per-sample random-resized crop to ``size`` px, flip, colour jitter
    (brightness, contrast, saturation) and random grayscale; one grid_sample for the geometry.

    batch: (B, 3, H, W) float in [0, 1] -> (B, 3, size, size). ``scale`` bounds the crop's share of
    the image area (SwAV's small multi-crops use e.g. (0.05, 0.4)); aspect ratio in [3/4, 4/3].
    Parameters are drawn on the CPU generator, so a seed fixes every view, and reach the batch's device
    without a host-device sync (:func:`to_device`).
    """
    count = batch.shape[0]
    draw = lambda: torch.rand(count, generator=generator)  # noqa: E731
    area = scale[0] + (scale[1] - scale[0]) * draw()
    log_ratio = (2 * draw() - 1) * float(np.log(4 / 3))
    width = (area * torch.exp(log_ratio)).sqrt().clamp(max=1.0)
    height = (area / torch.exp(log_ratio)).sqrt().clamp(max=1.0)
    centre_x, centre_y = (2 * draw() - 1) * (1 - width), (2 * draw() - 1) * (1 - height)
    sign = torch.where(draw() < 0.5, -1.0, 1.0) if flip else torch.ones(count)
    zeros = torch.zeros(count)
    theta = torch.stack([torch.stack([width * sign, zeros, centre_x], 1),
                         torch.stack([zeros, height, centre_y], 1)], 1)
    theta = to_device(theta.to(batch.dtype), batch.device)
    grid = F.affine_grid(theta, [count, batch.shape[1], size, size], align_corners=False)
    views = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # colour jitter: factors in [1 - jitter, 1 + jitter], applied to a random share jitter_p of the views
    factors = 1 + jitter * (2 * torch.rand(count, 3, generator=generator) - 1)
    applied = (draw() < jitter_p).float()[:, None]
    factors = to_device((1 + applied * (factors - 1)).to(batch.dtype), batch.device)
    brightness, contrast, saturation = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
    # one copy of the luma weights, not a blocking one per use (new_tensor would sync on CUDA)
    luma = to_device(torch.tensor([0.299, 0.587, 0.114], dtype=views.dtype), views.device).view(1, 3, 1, 1)
    views = views * brightness
    grey = (views * luma).sum(1, keepdim=True)
    views = (views - grey.mean((2, 3), keepdim=True)) * contrast + grey.mean((2, 3), keepdim=True)
    grey = (views * luma).sum(1, keepdim=True)
    views = (views - grey) * saturation + grey
    to_grey = to_device(draw() < grayscale_p, batch.device).view(-1, 1, 1, 1)
    grey = (views * luma).sum(1, keepdim=True)
    views = torch.where(to_grey, grey.expand_as(views), views)
    return views.clamp_(0.0, 1.0)


# The CluP reference's training transform: RandomHorizontalFlip(), RandomAffine(degrees=35,
# translate=(0.15, 0.15)), ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5).
REFERENCE_DEGREES = 35.0
REFERENCE_TRANSLATE = 0.15
REFERENCE_JITTER = 0.5
REFERENCE_LUMA = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights


def augment_reference(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The CluP reference's training augmentation, drawn independently for every sample.

    batch: (B, 3, H, W) float in [0, 1] -> (B, 3, H, W) float in [0, 1]. Per sample: horizontal flip
    (p 0.5); then a rotation uniform in [-35, 35] degrees about the image centre and a shift of
    round(uniform(-0.15, 0.15) * side) whole pixels in x and y (torchvision's RandomAffine draw), nearest
    sampling (its default interpolation) and zeros outside the image (its fill=0); then brightness,
    contrast and saturation factors each uniform in [0.5, 1.5] (ColorJitter), applied as torchvision's
    tensor ops, each clamped to [0, 1]. Parameters are drawn on the CPU generator (a seed fixes them all)
    and reach the batch's device without a host-device sync (:func:`to_device`).

    Deviation: the jitter runs in a fixed order (brightness, contrast, saturation); torchvision draws a
    random order per image. The ops are torchvision's float tensor ops, not PIL's uint8 ones.
    """
    count, height, width = batch.shape[0], batch.shape[2], batch.shape[3]
    draw = lambda: torch.rand(count, generator=generator)  # noqa: E731
    flip = draw() < 0.5
    angle_deg = (2 * draw() - 1) * REFERENCE_DEGREES
    shift_x = torch.round((2 * draw() - 1) * REFERENCE_TRANSLATE * width)
    shift_y = torch.round((2 * draw() - 1) * REFERENCE_TRANSLATE * height)
    factors = 1 + REFERENCE_JITTER * (2 * torch.rand(count, 3, generator=generator) - 1)
    return _reference_transform(batch, flip, angle_deg, torch.stack([shift_x, shift_y], 1), factors)


def _reference_transform(batch: torch.Tensor, flip: torch.Tensor, angle_deg: torch.Tensor, shift_px: torch.Tensor,
                         factors: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    """:func:`augment_reference` with explicit per-sample parameters, all CPU tensors.

    batch (B, 3, H, W) float in [0, 1]; flip (B,) bool; angle_deg (B,) counter-clockwise as displayed
    (torchvision's ``affine`` counts clockwise: the draw is symmetric, so the distribution is the same);
    shift_px (B, 2) in pixels, +x right, +y down; factors (B, 3) brightness, contrast, saturation.
    """
    count, channels, height, width = batch.shape
    theta = _reference_theta(flip, angle_deg, shift_px, height, width)
    theta = to_device(theta.to(batch.dtype), batch.device)
    grid = F.affine_grid(theta, [count, channels, height, width], align_corners=False)
    images = F.grid_sample(batch, grid, mode=mode, padding_mode="zeros", align_corners=False)
    factors = to_device(factors.to(batch.dtype), batch.device)
    brightness, contrast, saturation = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
    luma = to_device(torch.tensor(REFERENCE_LUMA, dtype=images.dtype), images.device).view(1, 3, 1, 1)
    images = (images * brightness).clamp_(0.0, 1.0)
    mean = (images * luma).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    images = ((images - mean) * contrast + mean).clamp_(0.0, 1.0)
    grey = (images * luma).sum(1, keepdim=True)
    return ((images - grey) * saturation + grey).clamp_(0.0, 1.0)


def _reference_theta(flip: torch.Tensor, angle_deg: torch.Tensor, shift_px: torch.Tensor, height: int,
                     width: int) -> torch.Tensor:
    """(B, 2, 3) affine_grid matrices: output -> input coordinates of "flip, then rotate and shift".

    In centred pixel coordinates the forward map is out = R (S in) + t (S flips x), so in = S R^-1 (out - t);
    affine_grid's coordinates are pixels scaled by 2/W and 2/H, hence the aspect factors, which keep the
    rotation rigid on non-square images.
    """
    angle = torch.deg2rad(angle_deg.double())
    cos, sin = torch.cos(angle), torch.sin(angle)
    sign = torch.where(flip, -1.0, 1.0).double()
    shift_x, shift_y = shift_px[:, 0].double(), shift_px[:, 1].double()
    theta = torch.stack([
        torch.stack([sign * cos, -sign * sin * height / width, -2 / width * sign * (cos * shift_x - sin * shift_y)], 1),
        torch.stack([sin * width / height, cos, -2 / height * (sin * shift_x + cos * shift_y)], 1)], 1)
    return theta
