"""The one training loop. :func:`fit` owns everything around a batch's loss: resume, shuffled batches of
device-resident uint8 images (drop_last), float conversion, per-sample augmentation, memory layout, autocast,
the lr schedule, the optimiser step, the per-epoch hook (history, validators, the progress line,
progress.json) and the checkpoint. What differs between uses is a :class:`Step`: the loss of a batch and a
few optional hooks. Source training, target_oracle, every method, the init=ssl distillation and SwAV/SimCLR
pretraining all train through it (docs/architecture.md)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dabench.errors import DabenchError
from dabench.store.checkpoint import Checkpointer
from dabench.store.progress import epochs as epoch_lines
from dabench.store.progress import note
from dabench.train.batches import index_batches, to_float
from dabench.train.device import autocast, to_model_layout
from dabench.train.schedule import set_lr

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Decay = Callable[[int, int], float]  # (step, total steps) -> lr factor


def constant(step: int, total: int) -> float:
    return 1.0


class Diverged(DabenchError):
    """The loss went NaN or inf: training cannot go on, and what it made must not be scored."""

    def __init__(self, stage: str, epoch: int, epochs: int, loss: float, weights_finite: bool = True) -> None:
        self.stage, self.epoch, self.loss = stage, epoch, loss
        what = (f"the mean loss is {loss} (a step's loss was NaN or inf)" if not math.isfinite(loss)
                else f"the model's weights hold NaN or inf after the epoch (mean loss {loss:.4g})")
        super().__init__(f"{stage} epoch {epoch + 1}/{epochs}: {what}, so the training diverged; the run ends here "
                         "as failed and no report ranks it. Lower the learning rate (--set lr=...) or check the "
                         "loss for a log of 0 or a division by 0")


def _finite(model: nn.Module) -> torch.Tensor:
    """A 0-dim bool on the model's device: every float parameter and buffer is finite (no host read)."""
    flags = [torch.isfinite(t).all() for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return torch.stack(flags).all() if flags else torch.tensor(True)


@dataclass(frozen=True, eq=False)
class Batch:
    """index (B,) positions in the images :func:`fit` was given (into ``images``, also when training on
    ``indices``); images (B, 3, H, W) float, augmented if the schedule asks, in the model's memory layout;
    progress = step / total steps in [0, 1); step counts from 0."""

    index: torch.Tensor
    images: torch.Tensor
    progress: float
    step: int


class Step:
    """What one use of :func:`fit` adds to the loop. Override :meth:`loss`; the hooks are optional.

    A step is written so that it could be captured whole later (CUDA graphs, a compiled step): static shapes,
    no host read of a device value inside :meth:`loss` or :meth:`after_step`.
    """

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The scalar loss of ``batch``; runs under autocast. The loop does zero_grad, backward and step."""
        raise NotImplementedError

    def before_epoch(self, epoch: int) -> None:
        """Before each epoch's batches (SHOT's relabelling, SwAV's queue start); timed as ``pseudo_labels``."""

    def after_step(self, batch: Batch) -> None:
        """After each optimiser step (SwAV's prototype normalisation)."""

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        """After each epoch, before the checkpoint (source training's held-out validation)."""

    def state_dict(self) -> dict[str, Any]:
        """What the step keeps across epochs, saved in each checkpoint (banks, pseudo-labels, best state)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` on resume."""


class LossStep(Step):
    """A step from a loss function ``(model, batch) -> loss``, an optional ``before_epoch(epoch)`` and the named
    ``state`` tensors the closures keep across epochs: saved in each checkpoint and restored *in place*, since
    the closures hold references to these very objects."""

    def __init__(self, loss: Callable[[nn.Module, Batch], torch.Tensor],
                 before_epoch: Callable[[int], None] | None = None,
                 state: dict[str, torch.Tensor] | None = None) -> None:
        self._loss, self.state = loss, dict(state or {})
        if before_epoch is not None:
            self.before_epoch = before_epoch  # type: ignore[method-assign]

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self._loss(model, batch)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_in_place(self.state, state)


@dataclass(frozen=True)
class Schedule:
    """How long and how fast: ``epochs`` passes in batches of ``batch_size`` (capped at the image count; the
    last incomplete batch is dropped, since a BatchNorm layer cannot train on one image). With ``lr``, each
    step sets every group's lr to ``lr * its lr_mult * decay(step, total_steps)``; None leaves the optimiser's
    lr alone. ``augmentation(batch, generator)`` is applied per sample to every float batch."""

    epochs: int
    batch_size: int
    lr: float | None = None
    decay: Decay = constant
    augmentation: Augmentation | None = None


@dataclass(eq=False)
class Session:
    """Where a fit runs: the generator every draw comes from, the device and amp switch, the checkpoint file
    (None: not resumable), the hook told at the end of each epoch (the runner's evaluator) and a timer for the
    loop's stages (``pseudo_labels``, ``train``; None: untimed)."""

    generator: torch.Generator
    device: torch.device
    amp: bool = True
    checkpoint: Checkpointer | None = None
    on_epoch_end: Callable[[nn.Module, int], None] | None = None
    timer: Callable[[str], contextlib.AbstractContextManager] | None = None
    log: Callable[[str], None] | None = None
    resumed_from: int | None = field(default=None, init=False)

    def timed(self, stage: str) -> contextlib.AbstractContextManager:
        return self.timer(stage) if self.timer is not None else contextlib.nullcontext()


def fit(model: nn.Module, images: torch.Tensor, optimizer: torch.optim.Optimizer, step: Step, schedule: Schedule,
        session: Session, stage: str = "train", indices: torch.Tensor | None = None) -> list[float]:
    """Train ``model`` in place on ``images`` (N, C, H, W) uint8 on the device; returns each epoch's mean loss.

    With ``session.checkpoint``, the end of every epoch is saved (model, optimiser, step counter, losses, the
    step's state, every RNG state) and a later call resumes after the last saved epoch, ending bit for bit
    where an uninterrupted call ends (CPU). Everything the step reads besides its state must be rebuilt
    identically before the call (it is: a method's setup runs again on a restart). ``stage`` names the
    progress line of each epoch (``shot epoch 3/15 loss ...``) in the run's log.txt and progress.json.
    ``indices`` (M,) on the images' device: train on ``images[indices]`` only, without copying them (source
    training's share of the split that is not held out).

    A step never waits for the GPU: random draws reach the device asynchronously, the loss is summed on the
    device, and the host reads it once per epoch. A sum that is NaN or inf then (some step's loss was), or
    weights that are (the last step broke them), raise :class:`Diverged` before the epoch is checkpointed or
    scored: the run fails, and no report ranks it.
    """
    count = len(images) if indices is None else len(indices)
    batch_size = min(schedule.batch_size, count)
    steps_per_epoch = count // batch_size
    total_steps = schedule.epochs * steps_per_epoch
    start, step_count, losses = _resume(session, model, optimizer, step)
    relabels = getattr(step.before_epoch, "__func__", None) is not Step.before_epoch  # only timed where it does work
    for epoch in epoch_lines(range(start, schedule.epochs), stage=stage):
        if relabels:
            with session.timed("pseudo_labels"):
                step.before_epoch(epoch)
        with session.timed("train"):
            model.train()
            loss_sum = torch.zeros((), device=images.device)
            for index in index_batches(count, batch_size, session.generator, drop_last=True, device=images.device):
                if indices is not None:
                    index = indices[index]
                batch = _batch(images, index, schedule, session, step_count / total_steps, step_count)
                if schedule.lr is not None:
                    set_lr(optimizer, schedule.lr, schedule.decay(step_count, total_steps))
                with autocast(session.device, session.amp):
                    loss = step.loss(model, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step.after_step(batch)
                loss_sum += loss.detach().float()
                step_count += 1
            # one host-device sync per epoch reads the loss and whether the weights are still finite: a NaN or
            # inf step makes the epoch's sum so, and a last step that broke the weights shows there
            loss_total, weights_finite = torch.stack([loss_sum, _finite(model).to(loss_sum)]).tolist()
            losses.append(loss_total / steps_per_epoch)
            if not math.isfinite(losses[-1]) or not weights_finite:
                raise Diverged(stage, epoch, schedule.epochs, losses[-1], weights_finite=bool(weights_finite))
            note(loss=losses[-1])
        step.after_epoch(model, epoch)
        if session.on_epoch_end is not None:
            session.on_epoch_end(model, epoch)
        if session.checkpoint is not None:
            session.checkpoint.save(epoch, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step_count,
                                    epoch_losses=list(losses), step_state=step.state_dict())
    return losses


def _batch(images: torch.Tensor, index: torch.Tensor, schedule: Schedule, session: Session, progress: float,
           step: int) -> Batch:
    floats = to_float(images[index])
    if schedule.augmentation is not None:
        floats = schedule.augmentation(floats, session.generator)
    return Batch(index, to_model_layout(floats, session.device, session.amp), progress, step)


def _resume(session: Session, model: nn.Module, optimizer: torch.optim.Optimizer,
            step: Step) -> tuple[int, int, list[float]]:
    """``(first epoch to run, step counter, losses so far)``: ``(0, 0, [])`` on a fresh start, else the position
    after the last checkpointed epoch, with the model, optimiser, step state and RNG states loaded."""
    saved = session.checkpoint.load() if session.checkpoint is not None else None
    if saved is None:
        return 0, 0, []
    last_epoch, states = saved
    model.load_state_dict(states["model"])
    optimizer.load_state_dict(states["optimizer"])
    step.load_state_dict(states["step_state"])
    session.resumed_from = last_epoch
    if session.log is not None:
        session.log(f"resumed from the checkpoint of epoch {last_epoch}")
    return last_epoch + 1, states["step"], list(states["epoch_losses"])


def restore_in_place(state: dict[str, torch.Tensor], saved: dict[str, torch.Tensor]) -> None:
    """Copy each saved tensor into the caller's own. A name or shape that does not match is an error, not a
    broadcast: it means the checkpoint belongs to different code, and resuming would be wrong."""
    if set(saved) != set(state):
        raise RuntimeError(f"checkpoint state {sorted(saved)} does not match this loop's {sorted(state)}")
    for name, tensor in state.items():
        if saved[name].shape != tensor.shape:
            raise RuntimeError(f"checkpoint state {name!r} has shape {tuple(saved[name].shape)}, "
                               f"expected {tuple(tensor.shape)}")
        tensor.copy_(saved[name])


def by_progress(factor: Callable[[float], float]) -> Decay:
    """A :data:`Decay` from a factor of training progress p = step / total (SHOT's, cosine)."""
    return lambda step, total: factor(step / total)

