"""The pretraining loop: multi-crop views of device-resident uint8 target images, SwAV (optionally with
its queue) or SimCLR loss, SGD or LARS with linear warm-up then cosine decay. Trains a backbone in place,
checkpointing each epoch when given a Checkpointer so that a killed pretraining resumes where it stopped."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dabench.models import INPUT_MEAN, INPUT_STD
from dabench.store.checkpoint import Checkpointer
from dabench.store.progress import progress
from dabench.train.batches import augment_views, index_batches, to_float
from dabench.train.device import autocast
from dabench.train.ssl import SSLRecipe, small_crop_size
from dabench.train.ssl.lars import LARS
from dabench.train.ssl.simclr import nt_xent
from dabench.train.ssl.swav import ProjectionHead, ProjectionQueue, Prototypes, swapped_prediction_loss, swav_codes
from dabench.train.ssl.views import gaussian_blur, shift_hue


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress_ = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress_))


def make_views(images: torch.Tensor, recipe: SSLRecipe, generator: torch.Generator) -> list[torch.Tensor]:
    """images (B, C, H, W) uint8 -> the large views, then (SwAV only) the small ones, each (B, 3, s, s).

    Each view: random-resized crop, flip, colour jitter and grayscale (``augment_views``), then, when the
    recipe asks, hue jitter and Gaussian blur (official SwAV's order: jitter, grayscale, blur).
    """
    batch = to_float(images)
    size = batch.shape[-1]
    crops = [(size, (recipe.large_scale_min, 1.0))] * recipe.large_crops
    if recipe.method == "swav":
        crops += [(small_crop_size(recipe, size), (recipe.small_scale_min, recipe.small_scale_max))] * recipe.small_crops
    views = []
    for view_size, scale in crops:
        view = augment_views(batch, generator, view_size, scale=scale, jitter=recipe.color_jitter)
        if recipe.hue > 0:
            view = shift_hue(view, generator, recipe.hue)
        if recipe.blur_p > 0:
            view = gaussian_blur(view, generator, recipe.blur_p, (recipe.blur_sigma_min, recipe.blur_sigma_max))
        views.append(view)
    return views


def make_optimizer(modules: nn.Module, recipe: SSLRecipe, lr: float) -> torch.optim.Optimizer:
    """SGD (momentum 0.9), or SGD under LARS: ``lars`` leaves 1-d parameters alone, ``larc`` (official SwAV) not."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(modules.parameters(), lr=lr, momentum=0.9, weight_decay=recipe.weight_decay)
    return LARS(modules.parameters(), lr=lr, momentum=0.9, weight_decay=recipe.weight_decay,
                exclude_1d=recipe.optimizer == "lars")


class SSLTrainer:
    """One pretraining's networks (the backbone, a projection head, SwAV's prototypes), optimiser and SwAV
    queue; calling it trains them on one batch. ``pretrain`` loops it over epochs; benchmarks time one call."""

    def __init__(self, backbone: nn.Module, feature_dim: int, recipe: SSLRecipe, device: torch.device,
                 amp: bool = True) -> None:
        self.backbone, self.recipe, self.device, self.amp = backbone, recipe, device, amp
        self.head = ProjectionHead(feature_dim, recipe.hidden_dim, recipe.projection_dim).to(device)
        self.prototypes = (Prototypes(recipe.projection_dim, recipe.prototypes).to(device)
                           if recipe.method == "swav" else None)
        self.mean = torch.tensor(INPUT_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(INPUT_STD, device=device).view(1, 3, 1, 1)
        self.modules = nn.ModuleList([backbone, self.head] + ([self.prototypes] if self.prototypes is not None else []))
        self.base_lr = recipe.lr * recipe.batch_size / 256
        self.optimizer = make_optimizer(self.modules, recipe, self.base_lr)
        self.queue: ProjectionQueue | None = None

    def start_queue(self) -> None:
        """An empty SwAV queue, once (official SwAV starts it at epoch_queue_starts); no-op without one."""
        if self.queue is None and self.prototypes is not None and self.recipe.queue_length:
            self.queue = ProjectionQueue(self.recipe.large_crops, self.recipe.queue_length,
                                         self.recipe.projection_dim, self.device)

    def __call__(self, images: torch.Tensor, generator: torch.Generator, lr: float,
                 freeze_prototypes: bool = False) -> torch.Tensor:
        """images (B, C, H, W) uint8 -> the batch's loss (detached), after one optimiser step at ``lr``."""
        recipe = self.recipe
        views = make_views(images, recipe, generator)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, self.amp):
            # views of one size go through the network together (SwAV's multi-crop forward)
            projections = []
            for size_group in _by_size(views):
                stacked = torch.cat(size_group).contiguous(memory_format=torch.channels_last)
                projected = self.head(self.backbone((stacked - self.mean) / self.std).float())
                projections += list(projected.chunk(len(size_group)))
            if self.prototypes is not None:
                scores = [self.prototypes(p) for p in projections]
                codes = [swav_codes(s, self.prototypes, self.queue, crop, recipe.epsilon, recipe.sinkhorn_iterations)
                         for crop, s in enumerate(scores[:recipe.large_crops])]
                loss = swapped_prediction_loss(scores, codes, recipe.temperature)
                if self.queue is not None:  # after the codes: a batch is not its own queue
                    self.queue.push([p.detach() for p in projections[:recipe.large_crops]])
            else:
                loss = nt_xent(projections[0], projections[1], recipe.temperature)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.prototypes is not None and freeze_prototypes:
            self.prototypes.weight.grad = None  # SwAV: prototypes stay fixed at first for stability
        self.optimizer.step()
        if self.prototypes is not None:
            self.prototypes.normalise()
        return loss.detach()

    def state_dict(self) -> dict[str, Any]:
        return {"modules": self.modules.state_dict(), "optimizer": self.optimizer.state_dict(),
                "queue": self.queue.state_dict() if self.queue is not None else None}

    def load_state_dict(self, states: dict[str, Any]) -> None:
        self.modules.load_state_dict(states["modules"])
        self.optimizer.load_state_dict(states["optimizer"])
        if states.get("queue") is not None:
            self.queue = ProjectionQueue.from_state(states["queue"], self.device)


def pretrain(backbone: nn.Module, feature_dim: int, images: torch.Tensor, recipe: SSLRecipe,
             generator: torch.Generator, amp: bool = True, desc: str = "ssl",
             checkpoint: Checkpointer | None = None) -> dict[str, Any]:
    """Train ``backbone`` in place on ``images`` (N, C, H, W) uint8 on its device; returns the loss
    history, the step count and the epoch it resumed after (None for a fresh start).

    With ``checkpoint``, every epoch saves the backbone, projection head and prototypes, the optimiser
    (momentum buffers), the SwAV queue, the step counter (the lr schedule is a function of it, so it is
    the scheduler's whole state), the loss history and every RNG state; a later call resumes after the
    last saved epoch and ends on the weights an uninterrupted call ends on (bit for bit on the CPU).
    """
    device = images.device
    trainer = SSLTrainer(backbone, feature_dim, recipe, device, amp)
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
        trainer.load_state_dict(states)
        step, history = states["step"], list(states["history"])
        start_epoch = last_epoch + 1
    trainer.modules.train()
    for epoch in progress(range(start_epoch, recipe.epochs), desc=desc):
        if epoch >= recipe.queue_start_epoch:
            trainer.start_queue()
        losses = []
        for index in index_batches(len(images), batch_size, generator, drop_last=True, device=device):
            lr = trainer.base_lr * _lr_factor(step, warmup_steps, total_steps)
            losses.append(trainer(images[index], generator, lr, freeze_prototypes=step < freeze_steps))
            step += 1
        history.append(round(float(torch.stack(losses).mean()), 4) if losses else float("nan"))
        if checkpoint is not None:
            checkpoint.save(epoch, **trainer.state_dict(), step=step, history=history)
    return {"loss_history": history, "steps": step,
            "resumed_after_epoch": saved[0] if saved is not None else None}


def _by_size(views: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict[int, list[torch.Tensor]] = {}
    for view in views:
        groups.setdefault(view.shape[-1], []).append(view)
    return list(groups.values())
