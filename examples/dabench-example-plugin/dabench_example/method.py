"""``confident_entmin``: entropy minimisation restricted to confident target samples."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batches import augment, index_batches, to_float
from dabench.train.device import autocast


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


class ConfidentEntMin(Method):
    """Entropy minimisation with a confidence threshold (in the spirit of Tent, Wang et al., ICLR 2021,
    arXiv 2006.10726, and EATA's reliable-sample filter, Niu et al., ICML 2022, arXiv 2204.02610).

    Each step: predictions on an augmented batch; samples whose max probability (on the same view,
    without gradient) is at most ``threshold`` are dropped; the loss is the mean entropy of the rest.
    Trained: every BatchNorm affine parameter and the whole bottleneck (Linear + BN); the backbone's
    convolutions and the classifier stay frozen, so the source decision boundaries are kept.
    """

    id = "confident_entmin"
    Hparams = ConfidentEntMinHparams
    paper = "example plugin; Tent (arXiv 2006.10726) + EATA's filter (arXiv 2204.02610)"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        trained = _trainable(model)
        optimizer = torch.optim.Adam(trained, lr=hp.lr)
        model.train()
        for epoch in ctx.progress(range(hp.epochs), desc="confident_entmin"):
            kept = total = 0
            for batch in index_batches(len(target), hp.batch_size, ctx.generator, shuffle=True, drop_last=True,
                                       device=ctx.device):
                images = augment(to_float(target.images[batch]), ctx.generator)
                with autocast(ctx.device, ctx.amp):
                    logits = model(images).float()
                probs = logits.softmax(1)
                confident = probs.detach().max(1).values > hp.threshold
                kept, total = kept + int(confident.sum()), total + len(batch)
                if not confident.any():
                    continue  # nothing reliable in this batch: no update
                entropy = -(probs[confident] * logits[confident].log_softmax(1)).sum(1).mean()
                optimizer.zero_grad(set_to_none=True)
                entropy.backward()
                optimizer.step()
            ctx.log(f"epoch {epoch}: {kept}/{total} samples above threshold {hp.threshold}")
            ctx.record(f"kept_share_epoch_{epoch}", kept / max(total, 1))
            ctx.end_epoch(model, epoch)
        return model


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
