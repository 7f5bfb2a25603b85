"""``tent``: test-time entropy minimisation of the BatchNorm affine parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batchnorm import batchnorm_layers, reestimate_statistics
from dabench.train.loop import Batch, LossStep, Schedule
from dabench.train.losses import entropy


@dataclass(frozen=True)
class TentHparams:
    epochs: int = field(default=1, metadata={"help": "passes over the target train images"})
    batch_size: int = field(default=128, metadata={"help": "batch size (BN uses this batch's statistics)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    final_statistics: bool = field(default=True, metadata={
        "help": "after adapting, set BN running statistics to the target train set's (for eval-mode scoring)"})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0:
            raise ValueError(f"epochs must be >= 1, batch_size >= 2 and lr > 0 "
                             f"(got {self.epochs}, {self.batch_size}, {self.lr})")


class Tent(Method[TentHparams]):
    """Tent: Fully Test-Time Adaptation by Entropy Minimization (Wang, Shelhamer, Liu, Olshausen,
    Darrell; ICLR 2021; arXiv 2006.10726).

    Only the BatchNorm affine parameters (weight, bias) are optimised, by Adam (lr 1e-3, Tent's CIFAR
    setting) on the mean prediction entropy; BN layers run in train mode and normalise with each
    batch's statistics, as Tent does. Deviations:

    - offline, not online: one pass (``epochs``) over the target *train* images, then the returned
      model is scored on target test in eval mode. Tent discards the running statistics and predicts
      with batch statistics; an eval-mode model needs running statistics, so they are re-estimated on
      the target train set at the end (``final_statistics``; as in adabn);
    - the bottleneck's BatchNorm1d is adapted too (Tent's code looks for BatchNorm2d only because its
      networks have no other BN layer);
    - images are not augmented (Tent adapts on the test stream as it comes); the last incomplete
      batch of an epoch is dropped.
    """

    id = "tent"
    Hparams = TentHparams
    paper = "Wang et al., ICLR 2021, arXiv 2006.10726"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        model.requires_grad_(False)
        affine = []
        for layer in batchnorm_layers(model):
            for param in (layer.weight, layer.bias):
                if param is not None:
                    param.requires_grad_(True)
                    affine.append(param)
        optimizer = torch.optim.Adam(affine, lr=hp.lr, betas=(0.9, 0.999), weight_decay=0.0)

        def batch_loss(net: ClassifierNet, batch: Batch) -> torch.Tensor:
            return entropy(net(batch.images).float().softmax(1)).mean()

        losses = ctx.fit(model, target.images, optimizer, LossStep(batch_loss), Schedule(hp.epochs, hp.batch_size),
                         stage="tent")
        ctx.record("epoch_loss", losses)
        if hp.final_statistics:
            with ctx.stage("statistics"):
                reestimate_statistics(model, target.images, ctx.generator)
        model.requires_grad_(True)
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(Tent)
