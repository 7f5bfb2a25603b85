"""``confident_entmin``: entropy minimisation restricted to confident target samples."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batches import augment
from dabench.train.loop import Batch, Schedule, Step


@dataclass(frozen=True)
class ConfidentEntMinHparams:
    threshold: float = field(default=0.6, metadata={
        "help": "only samples whose max softmax probability exceeds this contribute to the loss, in [0, 1)"})
    epochs: int = field(default=5, metadata={"help": "passes over the target train images"})
    batch_size: int = field(default=64, metadata={"help": "batch size"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})

    def __post_init__(self) -> None:
        if not 0 <= self.threshold < 1:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


class ConfidentEntMin(Method[ConfidentEntMinHparams]):
    """Entropy minimisation with a confidence threshold (in the spirit of Tent, Wang et al., ICLR 2021,
    arXiv 2006.10726, and EATA's reliable-sample filter, Niu et al., ICML 2022, arXiv 2204.02610).

    Each step: predictions on an augmented batch; samples whose max probability (on the same view,
    without gradient) is at most ``threshold`` are dropped; the loss is the mean entropy of the rest (zero
    when none is left: Adam's moments still move the parameters a little on such a batch).
    Trained: every BatchNorm affine parameter and the whole bottleneck (Linear + BN); the backbone's
    convolutions and the classifier stay frozen, so the source decision boundaries are kept.
    """

    id = "confident_entmin"
    Hparams = ConfidentEntMinHparams
    paper = "example plugin; Tent (arXiv 2006.10726) + EATA's filter (arXiv 2204.02610)"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        optimizer = torch.optim.Adam(_trainable(model), lr=hp.lr)
        step = ConfidentEntropy(hp.threshold, ctx)
        ctx.fit(model, target.images, optimizer, step, Schedule(hp.epochs, hp.batch_size, augmentation=augment),
                stage="confident_entmin")
        return model


class ConfidentEntropy(Step):
    """The mean entropy of the batch's confident samples (max probability above ``threshold``, on the same
    view, without gradient); a batch with none gives a zero loss. The kept share is counted on the device and
    read once per epoch, so a step never waits for the GPU."""

    def __init__(self, threshold: float, ctx: AdaptContext) -> None:
        self.threshold, self.ctx = threshold, ctx
        self.kept = torch.zeros((), dtype=torch.long, device=ctx.device)
        self.seen = 0

    def loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        logits = model(batch.images).float()
        probs = logits.softmax(1)
        confident = (probs.detach().max(1).values > self.threshold).float()
        self.kept += confident.sum().long()
        self.seen += len(batch.index)
        entropy = -(probs * logits.log_softmax(1)).sum(1)
        return (entropy * confident).sum() / confident.sum().clamp(min=1.0)

    def after_epoch(self, model: torch.nn.Module, epoch: int) -> None:
        kept = int(self.kept)
        self.ctx.log(f"epoch {epoch}: {kept}/{self.seen} samples above threshold {self.threshold}")
        self.ctx.record(f"kept_share_epoch_{epoch}", kept / max(self.seen, 1))
        self.kept.zero_()
        self.seen = 0


def _trainable(model: ClassifierNet) -> list[torch.nn.Parameter]:
    """BN affine parameters anywhere plus the bottleneck; everything else is frozen."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    chosen: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.affine:
            chosen.update({id(p): p for p in (module.weight, module.bias)})
    chosen.update({id(p): p for p in model.bottleneck.parameters()})
    for parameter in chosen.values():
        parameter.requires_grad_(True)
    return list(chosen.values())
