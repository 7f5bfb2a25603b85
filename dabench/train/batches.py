"""Batches from device-resident uint8 images: index sampling, float conversion and per-sample
augmentation in one vectorised affine_grid/grid_sample call (no per-sample Python, no decoding)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F


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
    order = order.to(device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def augment(batch: torch.Tensor, generator: torch.Generator, flip: bool = True,
            scale: tuple[float, float] = (0.8, 1.0), max_rotation_deg: float = 10.0,
            max_shift: float = 0.05) -> torch.Tensor:
    """Per-sample random flip, zoom (random-resized-crop style), rotation and shift.

    batch: (B, 3, H, W) float. The random parameters are drawn on the CPU generator (B values each,
    deterministic for a seed) and applied on the batch's device in one grid_sample.
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
    theta = theta.to(device=batch.device, dtype=batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
