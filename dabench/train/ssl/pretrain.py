"""Pretraining through the one loop: multi-crop views of device-resident uint8 target images, SwAV (optionally with
its queue) or SimCLR loss, SGD or LARS with linear warm-up then cosine decay. Trains a backbone in place,
checkpointing each epoch when given a Checkpointer so that a killed pretraining resumes where it stopped."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dabench.settings.config import NORMALIZATIONS
from dabench.store.checkpoint import Checkpointer
from dabench.train.batches import augment_views, to_float
from dabench.train.device import autocast
from dabench.train.loop import Batch, Schedule, Session, Step, fit
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


def make_views(batch: torch.Tensor, recipe: SSLRecipe, generator: torch.Generator) -> list[torch.Tensor]:
    """batch (B, 3, H, W) float in [0, 1] -> the large views, then (SwAV only) the small ones, each (B, 3, s, s).

    Each view: random-resized crop, flip, colour jitter and grayscale (``augment_views``), then, when the
    recipe asks, hue jitter and Gaussian blur (official SwAV's order: jitter, grayscale, blur).
    """
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


class SSLStep(Step):
    """One pretraining's networks (the backbone, a projection head, SwAV's prototypes), optimiser and SwAV queue,
    as a :class:`~dabench.train.loop.Step`: the loss of a batch's multi-crop views. ``modules`` is what
    :func:`~dabench.train.loop.fit` trains; ``pretrain`` runs it, benchmarks time :meth:`train_one`."""

    def __init__(self, backbone: nn.Module, feature_dim: int, recipe: SSLRecipe, device: torch.device,
                 generator: torch.Generator, steps_per_epoch: int = 1, normalization: str = "dabench") -> None:
        self.backbone, self.recipe, self.device, self.generator = backbone, recipe, device, generator
        mean, std = NORMALIZATIONS[normalization]
        self.head = ProjectionHead(feature_dim, recipe.hidden_dim, recipe.projection_dim).to(device)
        self.prototypes = (Prototypes(recipe.projection_dim, recipe.prototypes).to(device)
                           if recipe.method == "swav" else None)
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.modules = nn.ModuleList([backbone, self.head] + ([self.prototypes] if self.prototypes is not None else []))
        self.base_lr = recipe.lr * recipe.batch_size / 256
        self.optimizer = make_optimizer(self.modules, recipe, self.base_lr)
        self.queue: ProjectionQueue | None = None
        self.freeze_steps = recipe.freeze_prototypes_epochs * steps_per_epoch

    def before_epoch(self, epoch: int) -> None:
        """An empty SwAV queue, once, from ``queue_start_epoch`` on (official SwAV's epoch_queue_starts)."""
        if (epoch >= self.recipe.queue_start_epoch and self.queue is None and self.prototypes is not None
                and self.recipe.queue_length):
            self.queue = ProjectionQueue(self.recipe.large_crops, self.recipe.queue_length,
                                         self.recipe.projection_dim, self.device)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        recipe = self.recipe
        if self.prototypes is not None:  # SwAV: the prototypes stay fixed at first, for stability
            self.prototypes.weight.requires_grad_(batch.step >= self.freeze_steps)
        views = make_views(batch.images, recipe, self.generator)
        projections = []
        for size_group in _by_size(views):  # views of one size go through the network together (multi-crop)
            stacked = torch.cat(size_group).contiguous(memory_format=torch.channels_last)
            projected = self.head(self.backbone((stacked - self.mean) / self.std).float())
            projections += list(projected.chunk(len(size_group)))
        if self.prototypes is None:
            return nt_xent(projections[0], projections[1], recipe.temperature)
        scores = [self.prototypes(p) for p in projections]
        codes = [swav_codes(s, self.prototypes, self.queue, crop, recipe.epsilon, recipe.sinkhorn_iterations)
                 for crop, s in enumerate(scores[:recipe.large_crops])]
        if self.queue is not None:  # after the codes: a batch is not its own queue
            self.queue.push([p.detach() for p in projections[:recipe.large_crops]])
        return swapped_prediction_loss(scores, codes, recipe.temperature)

    def after_step(self, batch: Batch) -> None:
        if self.prototypes is not None:
            self.prototypes.normalise()

    def state_dict(self) -> dict[str, Any]:
        return {"queue": self.queue.state_dict() if self.queue is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("queue") is not None:
            self.queue = ProjectionQueue.from_state(state["queue"], self.device)

    def train_one(self, images: torch.Tensor, step: int = 0, amp: bool = True) -> torch.Tensor:
        """One optimiser step on ``images`` (B, C, H, W) uint8 at the schedule's base lr (benchmarks, tests);
        the loss, detached. :func:`pretrain` trains through the loop instead."""
        self.modules.train()
        batch = Batch(torch.arange(len(images)), to_float(images), 0.0, step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr
        with autocast(self.device, amp):
            loss = self.loss(self.modules, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.after_step(batch)
        return loss.detach()


def pretrain(backbone: nn.Module, feature_dim: int, images: torch.Tensor, recipe: SSLRecipe,
             generator: torch.Generator, amp: bool = True, desc: str = "ssl",
             checkpoint: Checkpointer | None = None, normalization: str = "dabench") -> dict[str, Any]:
    """Train ``backbone`` in place on ``images`` (N, C, H, W) uint8 on its device; returns the loss history,
    the step count and the epoch it resumed after (None for a fresh start).

    Through :func:`~dabench.train.loop.fit`: with ``checkpoint``, every epoch saves the backbone, projection
    head and prototypes, the optimiser (momentum buffers), the SwAV queue, the step counter (the lr schedule
    is a function of it) and every RNG state; a later call resumes after the last saved epoch and ends on the
    weights an uninterrupted call ends on (bit for bit on the CPU). Each epoch writes a progress line (``ssl
    swav <target> epoch 3/200 loss ...``) to the run's log.txt and progress.json.
    """
    device = images.device
    batch_size = min(recipe.batch_size, len(images))
    steps_per_epoch = len(images) // batch_size  # drop_last: Sinkhorn wants full batches
    total_steps = recipe.epochs * steps_per_epoch
    warmup_steps = min(recipe.warmup_epochs * steps_per_epoch, total_steps // 2)
    step = SSLStep(backbone, feature_dim, recipe, device, generator, steps_per_epoch, normalization)
    schedule = Schedule(recipe.epochs, recipe.batch_size, lr=step.base_lr,
                        decay=lambda at, total: _lr_factor(at, warmup_steps, total))
    session = Session(generator, device, amp, checkpoint=checkpoint)
    history = fit(step.modules, images, step.optimizer, step, schedule, session, stage=desc)
    return {"loss_history": [round(loss, 4) for loss in history], "steps": total_steps,
            "resumed_after_epoch": session.resumed_from}


def _by_size(views: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict[int, list[torch.Tensor]] = {}
    for view in views:
        groups.setdefault(view.shape[-1], []).append(view)
    return list(groups.values())
