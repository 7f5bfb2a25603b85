"""The epoch/batch loop shared by the SFUDA methods (SHOT, NRC, AaD, Tent): shuffled batches of
device-resident target images, per-sample augmentation, SHOT's lr decay, one epoch hook, and a
checkpoint after every epoch so that a killed run resumes where it stopped (docs/checkpoints.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dabench.methods import AdaptContext
from dabench.models import ClassifierNet
from dabench.store.progress import note
from dabench.train.batches import augment, index_batches, to_float
from dabench.train.device import autocast, to_model_layout
from dabench.train.schedule import set_lr, shot_decay


@dataclass(frozen=True)
class LoopHparams:
    """Optimisation settings every self-training method shares (SHOT's target recipe)."""

    epochs: int = field(default=15, metadata={"help": "passes over the target train images"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=0.01, metadata={"help": "base learning rate (bottleneck/classifier)"})
    backbone_lr_mult: float = field(default=0.1, metadata={"help": "backbone lr multiplier"})
    weight_decay: float = field(default=1e-3, metadata={"help": "SGD weight decay"})
    augment: bool = field(default=True, metadata={"help": "random flip/zoom/rotation on training batches"})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2 (got {self.epochs}, {self.batch_size})")
        if self.lr <= 0 or self.backbone_lr_mult < 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0; backbone_lr_mult and weight_decay must be >= 0")

    def loop_args(self) -> dict:
        """The keyword arguments of :func:`train_epochs` these settings fix."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "augment_batches": self.augment,
                "decay_from_lr": self.lr}


@dataclass(frozen=True, eq=False)
class Batch:
    """index (B,) target-train indices; images (B, 3, H, W) float, augmented if asked, channels_last on CUDA
    with amp (:func:`~dabench.train.device.to_model_layout`); progress p in [0, 1)."""

    index: torch.Tensor
    images: torch.Tensor
    progress: float


def train_epochs(model: ClassifierNet, images: torch.Tensor, ctx: AdaptContext, optimizer: torch.optim.Optimizer,
                 batch_loss: Callable[[ClassifierNet, Batch], torch.Tensor], *, epochs: int, batch_size: int,
                 augment_batches: bool, decay_from_lr: float | None = None,
                 before_epoch: Callable[[int], None] | None = None, desc: str = "adapt",
                 state: dict[str, torch.Tensor] | None = None) -> list[float]:
    """Train ``model`` in place for ``epochs``; returns the mean loss of each epoch.

    images (N, C, H, W) uint8 on the device. ``decay_from_lr``: apply SHOT's lr * (1 + 10 p)^-0.75 to
    that base lr (None keeps the optimiser's lr). ``before_epoch(epoch)`` runs under the
    ``pseudo_labels`` stage (e.g. SHOT's labelling pass); batches under ``train``.

    After each epoch the model, optimiser, step counter, losses and ``state`` are checkpointed through
    ``ctx``; a run restarted after a crash continues after its last saved epoch and ends bit for bit
    where an uninterrupted one would (CPU). ``state`` names the tensors the method's closures keep
    across epochs (memory banks, pseudo-labels): they are saved, and restored *in place*, because the
    closures hold references to these very objects. Everything else the loss reads must be rebuilt
    identically before this call (it is: the method's setup runs again on a restart).

    A step never waits for the GPU: random draws reach the device asynchronously, the loss is summed on
    the device, and the host reads it once per epoch.
    """
    n = len(images)
    batch_size = min(batch_size, n)
    steps_per_epoch = n // batch_size  # drop_last: a BN layer cannot train on a 1-image batch
    total_steps = epochs * steps_per_epoch
    state = state or {}
    start, step, epoch_losses = resume_epochs(ctx, model, optimizer, state)
    for epoch in ctx.progress(range(start, epochs), desc=desc):
        if before_epoch is not None:
            with ctx.stage("pseudo_labels"):
                before_epoch(epoch)
        with ctx.stage("train"):
            model.train()
            loss_sum = torch.zeros((), device=images.device)
            for index in index_batches(n, batch_size, ctx.generator, drop_last=True, device=images.device):
                batch = to_float(images[index])
                if augment_batches:
                    batch = augment(batch, ctx.generator)
                batch = to_model_layout(batch, ctx.device, ctx.amp)
                if decay_from_lr is not None:
                    set_lr(optimizer, decay_from_lr, shot_decay(step / total_steps))
                with autocast(ctx.device, ctx.amp):
                    loss = batch_loss(model, Batch(index, batch, step / total_steps))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach().float()
                step += 1
            epoch_losses.append(loss_sum.item() / steps_per_epoch)  # one sync per epoch
            note(loss=epoch_losses[-1])
        ctx.end_epoch(model, epoch)
        save_epoch(ctx, epoch, model, optimizer, step, epoch_losses, state)
    return epoch_losses


def save_epoch(ctx: AdaptContext, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
               epoch_losses: list[float] | None = None, state: dict[str, torch.Tensor] | None = None) -> None:
    """Checkpoint the end of ``epoch``: what the next epoch starts from (the RNG states and the
    context's records are added by ``ctx``). A no-op outside a run. Shared with loops that are not
    :func:`train_epochs` (cluster_pl's) so that every method resumes the same way."""
    ctx.save_checkpoint(epoch, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                        epoch_losses=list(epoch_losses or []), state=dict(state or {}))


def resume_epochs(ctx: AdaptContext, model: nn.Module, optimizer: torch.optim.Optimizer,
                  state: dict[str, torch.Tensor] | None = None) -> tuple[int, int, list[float]]:
    """``(first epoch to run, step counter, losses so far)``: ``(0, 0, [])`` on a fresh start, else the
    position after the last checkpointed epoch, with the model, optimiser, ``state`` tensors and RNG
    states loaded. Call it after the setup's random draws, right before the first epoch."""
    saved = ctx.load_checkpoint()
    if saved is None:
        return 0, 0, []
    last_epoch, states = saved
    model.load_state_dict(states["model"])
    optimizer.load_state_dict(states["optimizer"])
    restore_in_place(state or {}, states["state"])
    return last_epoch + 1, states["step"], list(states["epoch_losses"])


def restore_in_place(state: dict[str, torch.Tensor], saved: dict[str, torch.Tensor]) -> None:
    """Copy each saved tensor into the caller's own. A name or shape that does not match is an error,
    not a broadcast: it means the checkpoint belongs to different code, and resuming would be wrong."""
    if set(saved) != set(state):
        raise RuntimeError(f"checkpoint state {sorted(saved)} does not match this loop's {sorted(state)}")
    for name, tensor in state.items():
        if saved[name].shape != tensor.shape:
            raise RuntimeError(f"checkpoint state {name!r} has shape {tuple(saved[name].shape)}, "
                               f"expected {tuple(tensor.shape)}")
        tensor.copy_(saved[name])
