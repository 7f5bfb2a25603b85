"""``adabn``: Adaptive Batch Normalisation (target BN statistics, no gradient step)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batchnorm import reestimate_statistics


@dataclass(frozen=True)
class AdaBNHparams:
    batch_size: int = field(default=256, metadata={"help": "images per statistics batch"})

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (got {self.batch_size})")


class AdaBN(Method):
    """Revisiting Batch Normalization For Practical Domain Adaptation (Li, Wang, Shi, Liu, Hou;
    ICLR 2017 workshop; arXiv 1603.04779).

    Every BatchNorm layer's running mean and variance are replaced by the average over the whole
    target train set (clean images); no parameter changes. As in the paper, each layer's statistics
    are the exact mean and variance of its input over all target images (summed in float64 across
    batches, :func:`dabench.train.batchnorm.reestimate_statistics`). Deviation: the layers run in
    train mode in one pass, so a layer's input is normalised upstream with batch statistics of
    randomly ordered batches of ``batch_size``, not with the upstream layers' final target statistics
    (that would take one pass over the target per BN layer: 21 for ResNet-18).
    """

    id = "adabn"
    Hparams = AdaBNHparams
    paper = "Li et al., 2016, arXiv 1603.04779"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        with ctx.stage("statistics"):
            reestimate_statistics(model, target.images, ctx.generator, self.hparams.batch_size)
        ctx.end_epoch(model, 0)
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(AdaBN)
