"""BatchNorm helpers for Tent and AdaBN: find the BN layers, re-estimate their target statistics."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from dabench.train.batches import to_float


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    """Every BatchNorm layer (1d and 2d: the bottleneck's BatchNorm1d counts too)."""
    return [module for module in model.modules() if isinstance(module, _BatchNorm)]


def _covering_chunks(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) pairs covering range(n) in order; a 1-image tail joins the previous chunk
    (BatchNorm in train mode cannot estimate a variance from one image)."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        bounds.pop(-2)
    return list(zip(bounds[:-1], bounds[1:]))


@torch.no_grad()
def reestimate_statistics(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> None:
    """Replace every BN layer's running mean/var with the cumulative average over ``images``.

    images (N, C, H, W) uint8, clean (not augmented). Only BN buffers change; the model is left in
    eval mode with each layer's momentum restored.
    """
    layers = batchnorm_layers(model)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # None: a cumulative moving average, i.e. the mean over all batches
    model.train()
    for start, stop in _covering_chunks(len(images), batch_size):
        model(to_float(images[start:stop]))
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.eval()
