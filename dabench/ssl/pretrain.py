"""The pretraining loop: multi-crop views of device-resident uint8 target images, SwAV or SimCLR
loss, SGD with linear warm-up then cosine decay. Trains a backbone in place, checkpointing each epoch
when given a Checkpointer so that a killed pretraining resumes where it stopped."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dabench.checkpoint import Checkpointer
from dabench.models import INPUT_MEAN, INPUT_STD
from dabench.progress import progress
from dabench.ssl import SSLRecipe, small_crop_size
from dabench.ssl.simclr import nt_xent
from dabench.ssl.swav import ProjectionHead, Prototypes, sinkhorn, swapped_prediction_loss
from dabench.train.batches import augment_views, index_batches, to_float
from dabench.train.device import autocast


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress_ = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress_))


def make_views(images: torch.Tensor, recipe: SSLRecipe, generator: torch.Generator) -> list[torch.Tensor]:
    """images (B, C, H, W) uint8 -> the large views, then (SwAV only) the small ones, each (B, 3, s, s)."""
    batch = to_float(images)
    size = batch.shape[-1]
    views = [augment_views(batch, generator, size, scale=(recipe.large_scale_min, 1.0))
             for _ in range(recipe.large_crops)]
    if recipe.method == "swav":
        views += [augment_views(batch, generator, small_crop_size(recipe, size),
                                scale=(recipe.small_scale_min, recipe.small_scale_max))
                  for _ in range(recipe.small_crops)]
    return views


def pretrain(backbone: nn.Module, feature_dim: int, images: torch.Tensor, recipe: SSLRecipe,
             generator: torch.Generator, amp: bool = True, desc: str = "ssl",
             checkpoint: Checkpointer | None = None) -> dict[str, Any]:
    """Train ``backbone`` in place on ``images`` (N, C, H, W) uint8 on its device; returns the loss
    history, the step count and the epoch it resumed after (None for a fresh start).

    With ``checkpoint``, every epoch saves the backbone, projection head and prototypes, the optimiser
    (momentum buffers), the step counter (the lr schedule is a function of it, so it is the scheduler's
    whole state), the loss history and every RNG state; a later call resumes after the last saved epoch
    and ends on the weights an uninterrupted call ends on (bit for bit on the CPU).
    """
    device = images.device
    head = ProjectionHead(feature_dim, recipe.hidden_dim, recipe.projection_dim).to(device)
    prototypes = Prototypes(recipe.projection_dim, recipe.prototypes).to(device) if recipe.method == "swav" else None
    mean = torch.tensor(INPUT_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(INPUT_STD, device=device).view(1, 3, 1, 1)
    modules = nn.ModuleList([backbone, head] + ([prototypes] if prototypes is not None else []))
    lr = recipe.lr * recipe.batch_size / 256
    optimizer = torch.optim.SGD(modules.parameters(), lr=lr, momentum=0.9, weight_decay=recipe.weight_decay)
    batch_size = min(recipe.batch_size, len(images))
    steps_per_epoch = len(images) // batch_size  # drop_last: Sinkhorn wants full batches
    total_steps = recipe.epochs * steps_per_epoch
    warmup_steps = min(recipe.warmup_epochs * steps_per_epoch, total_steps // 2)
    freeze_steps = recipe.freeze_prototypes_epochs * steps_per_epoch
    history: list[float] = []
    step = 0
    start_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        last_epoch, states = saved
        modules.load_state_dict(states["modules"])
        optimizer.load_state_dict(states["optimizer"])
        step, history = states["step"], list(states["history"])
        start_epoch = last_epoch + 1
    modules.train()
    for epoch in progress(range(start_epoch, recipe.epochs), desc=desc):
        losses = []
        for index in index_batches(len(images), batch_size, generator, drop_last=True, device=device):
            views = make_views(images[index], recipe, generator)
            for group in optimizer.param_groups:
                group["lr"] = lr * _lr_factor(step, warmup_steps, total_steps)
            with autocast(device, amp):
                # views of one size go through the network together (SwAV's multi-crop forward)
                projections = []
                for size_group in _by_size(views):
                    stacked = torch.cat(size_group).contiguous(memory_format=torch.channels_last)
                    projected = head(backbone((stacked - mean) / std).float())
                    projections += list(projected.chunk(len(size_group)))
                if prototypes is not None:
                    scores = [prototypes(p) for p in projections]
                    codes = [sinkhorn(s.detach().float(), recipe.epsilon, recipe.sinkhorn_iterations)
                             for s in scores[:recipe.large_crops]]
                    loss = swapped_prediction_loss(scores, codes, recipe.temperature)
                else:
                    loss = nt_xent(projections[0], projections[1], recipe.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if prototypes is not None and step < freeze_steps:
                prototypes.weight.grad = None  # SwAV: prototypes stay fixed at first for stability
            optimizer.step()
            if prototypes is not None:
                prototypes.normalise()
            losses.append(loss.detach())
            step += 1
        history.append(round(float(torch.stack(losses).mean()), 4) if losses else float("nan"))
        if checkpoint is not None:
            checkpoint.save(epoch, modules=modules.state_dict(), optimizer=optimizer.state_dict(), step=step,
                            history=history)
    return {"loss_history": history, "steps": step,
            "resumed_after_epoch": saved[0] if saved is not None else None}


def _by_size(views: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict[int, list[torch.Tensor]] = {}
    for view in views:
        groups.setdefault(view.shape[-1], []).append(view)
    return list(groups.values())
