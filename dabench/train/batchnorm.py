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
def reestimate_statistics(model: nn.Module, images: torch.Tensor, generator: torch.Generator,
                          batch_size: int = 256) -> None:
    """Set every BN layer's running mean/var to the moments of its input over all of ``images``.

    images (N, C, H, W) uint8, clean (not augmented). The model runs in train mode (each layer
    normalises with its batch's statistics, as AdaBN's forward does) over the images in a random
    order drawn from ``generator``; hooks sum each layer's input and squared input per channel in
    float64, so a layer's statistics are its input's exact mean and unbiased variance over the set.
    Averaging per-batch statistics instead (torch's cumulative running average) loses the spread
    *between* batches: on a class-sorted target (folder datasets are read class by class) it
    underestimated a variance by a factor of 1000. The random order keeps each batch a mix of the
    set, so the layers after the first see what they would see in a shuffled batch. Only BN buffers
    change; the model is left in eval mode.
    """
    layers = batchnorm_layers(model)
    moments: dict[_BatchNorm, list] = {layer: [0, 0.0, 0.0] for layer in layers}

    def accumulate(layer: _BatchNorm, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].double()
        dims = [d for d in range(x.dim()) if d != 1]  # every dim but the channels'
        entry = moments[layer]
        entry[0] += x.numel() // x.shape[1]
        entry[1] = entry[1] + x.sum(dims)
        entry[2] = entry[2] + x.pow(2).sum(dims)

    hooks = [layer.register_forward_pre_hook(accumulate) for layer in layers]
    try:
        model.train()
        order = torch.randperm(len(images), generator=generator).to(images.device)
        for start, stop in _covering_chunks(len(images), batch_size):
            model(to_float(images[order[start:stop]]))
    finally:
        for hook in hooks:
            hook.remove()
    for layer, (count, total, total_sq) in moments.items():
        if count < 2 or layer.running_mean is None:
            continue
        mean = total / count
        variance = (total_sq / count - mean.pow(2)).clamp_min(0.0) * count / (count - 1)
        layer.running_mean.copy_(mean)
        layer.running_var.copy_(variance)
    model.eval()
