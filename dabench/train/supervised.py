"""Supervised training with labels: the source model (and the target_oracle upper bound), with the
best epoch chosen on a held-out 10% of the *training* split, never on a test split."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from dabench.models import ClassifierNet, head_parameters
from dabench.settings.recipes import SupervisedRecipe
from dabench.store.checkpoint import Checkpointer
from dabench.store.progress import epochs, note
from dabench.train.batches import augment, index_batches, to_float
from dabench.train.device import autocast, to_device, to_model_layout
from dabench.train.features import predict
from dabench.train.schedule import set_lr, sgd, shot_decay

__all__ = ["SupervisedRecipe", "train_supervised"]




def train_supervised(model: ClassifierNet, images: torch.Tensor, labels: torch.Tensor, recipe: SupervisedRecipe,
                     generator: torch.Generator, desc: str = "train",
                     checkpoint: Checkpointer | None = None, amp: bool = True) -> dict[str, Any]:
    """Train ``model`` in place and load the epoch with the best held-out accuracy.

    images: (N, C, H, W) uint8 on the model's device; labels: (N,) int64 on the same device.
    Returns {best_epoch, val_accuracy (best), history: [val accuracy per epoch]}. With ``checkpoint``,
    each epoch's state is saved and a killed run resumes after its last saved epoch, bit for bit.
    ``amp``: the run's switch for bf16 autocast and channels_last batches on CUDA (no effect on the CPU).
    """
    device = images.device
    order = to_device(torch.randperm(len(images), generator=generator), device)
    n_val = int(round(len(images) * recipe.val_fraction))
    val_index, train_index = order[:n_val], order[n_val:]
    optimizer = sgd([(model.backbone.parameters(), recipe.backbone_lr_mult),
                     (head_parameters(model), 1.0)],
                    lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = max(1, -(-len(train_index) // recipe.batch_size))
    total_steps = recipe.epochs * steps_per_epoch
    best = {"best_epoch": -1, "val_accuracy": -1.0, "history": []}
    best_state = None
    step = 0
    start_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        last_epoch, states = saved
        model.load_state_dict(states["model"])
        optimizer.load_state_dict(states["optimizer"])
        step, best, best_state = states["step"], states["best"], states["best_state"]
        start_epoch = last_epoch + 1
    for epoch in epochs(range(start_epoch, recipe.epochs), stage=desc):
        model.train()
        for batch_index in index_batches(len(train_index), recipe.batch_size, generator, drop_last=True, device=device):
            chosen = train_index[batch_index]
            batch = to_float(images[chosen])
            if recipe.augment:
                batch = augment(batch, generator)
            batch = to_model_layout(batch, device, amp)
            set_lr(optimizer, recipe.lr, shot_decay(step / total_steps))
            with autocast(device, amp):
                loss = F.cross_entropy(model(batch), labels[chosen], label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        if n_val:
            accuracy = (predict(model, images[val_index]) == labels[val_index]).float().mean().item()
        else:
            accuracy = float(epoch)  # no held-out set: keep the last epoch
        best["history"].append(accuracy)
        if n_val:
            note(val_accuracy=accuracy)  # the held-out share of the training split
        if accuracy > best["val_accuracy"]:
            best.update(best_epoch=epoch, val_accuracy=accuracy)
            best_state = copy.deepcopy(model.state_dict())
        if checkpoint is not None:
            checkpoint.save(epoch, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                            best=best, best_state=best_state)
    if best_state is not None:
        model.load_state_dict(best_state)
    if not n_val:
        best["val_accuracy"] = None
    return best
