"""Training a network on fixed soft targets (one probability row per image): cluster_pl's training on
its kept subset, and the distillation that starts a method from the target-SSL backbone (init=ssl).
Shuffled batches of device-resident uint8 images, per-sample augmentation, optional mixup."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dabench.methods import AdaptContext
from dabench.models import ClassifierNet
from dabench.store.progress import note
from dabench.train.batches import augment, index_batches, to_float
from dabench.train.device import autocast, to_model_layout
from dabench.train.mixup import mix, soft_cross_entropy
from dabench.train.schedule import set_lr
from dabench.train.self_training import resume_epochs, save_epoch

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def cosine_decay(progress: float) -> float:
    """The factor 0.5 (1 + cos(pi p)) for training progress p in [0, 1]: 1 at the start, 0 at the end."""
    return 0.5 * (1 + math.cos(math.pi * progress))


def train_soft_targets(network: ClassifierNet, images: torch.Tensor, targets: torch.Tensor, ctx: AdaptContext,
                       optimizer: torch.optim.Optimizer, *, epochs: int, batch_size: int, base_lr: float,
                       decay: Callable[[float], float], mixup_alpha: float = 0.0,
                       augmentation: Augmentation | None = augment, method_epochs: bool = True,
                       desc: str = "train") -> list[float]:
    """Minimise the soft cross-entropy of ``network`` to ``targets``; returns each epoch's mean loss.

    images (M, C, H, W) uint8 on the device; targets (M, K) probabilities on the same device (one-hot
    for hard labels; with soft rows the loss is KL plus a constant). Each step sets the lr to
    ``base_lr * lr_mult * decay(step / total)``. ``augmentation`` (batch, generator) -> batch, applied per
    sample to every float batch (None: clean batches). ``method_epochs``: these are the method's own epochs,
    so each one is reported to the runner (``ctx.end_epoch``) and checkpointed; False for a preparatory
    stage (the init=ssl distillation), which a restarted run simply repeats (same seed, same draws).
    """
    batch_size = min(batch_size, len(images))
    steps_per_epoch = len(images) // batch_size  # drop_last: a BN layer cannot train on a 1-image batch
    total = epochs * steps_per_epoch
    start, step, epoch_losses = resume_epochs(ctx, network, optimizer) if method_epochs else (0, 0, [])
    for epoch in ctx.progress(range(start, epochs), desc=desc):
        network.train()
        loss_sum = torch.zeros((), device=images.device)
        for index in index_batches(len(images), batch_size, ctx.generator, drop_last=True, device=images.device):
            batch = to_float(images[index])
            if augmentation is not None:
                batch = augmentation(batch, ctx.generator)
            batch, batch_targets = mix(batch, targets[index], mixup_alpha, ctx.generator)
            batch = to_model_layout(batch, ctx.device, ctx.amp)
            set_lr(optimizer, base_lr, decay(step / total))
            with autocast(ctx.device, ctx.amp):
                loss = soft_cross_entropy(network(batch), batch_targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
        epoch_losses.append(loss_sum.item() / steps_per_epoch)  # one host-device sync per epoch
        note(loss=epoch_losses[-1])
        if method_epochs:
            ctx.end_epoch(network, epoch)
            save_epoch(ctx, epoch, network, optimizer, step, epoch_losses)
    return epoch_losses
