"""``shot``: Source Hypothesis Transfer (information maximisation + self-supervised pseudo-labels)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.features import extract
from dabench.train.loop import Batch, LossStep
from dabench.train.losses import information_maximization
from dabench.train.pseudo_labels import centroid_pseudo_labels
from dabench.train.schedule import sgd
from dabench.train.self_training import LoopHparams


@dataclass(frozen=True)
class ShotHparams(LoopHparams):
    cls_par: float = field(default=0.3, metadata={"help": "weight of the pseudo-label cross-entropy (0: SHOT-IM)"})
    ent_par: float = field(default=1.0, metadata={"help": "weight of the information-maximisation loss"})
    eps: float = field(default=1e-5, metadata={"help": "epsilon inside the entropy logarithms"})
    label_rounds: int = field(default=1, metadata={"help": "hard-centroid rounds after the soft centroids"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cls_par < 0 or self.ent_par < 0:
            raise ValueError(f"cls_par and ent_par must be >= 0 (got {self.cls_par}, {self.ent_par})")
        if self.eps <= 0 or self.label_rounds < 0:
            raise ValueError("eps must be > 0 and label_rounds >= 0")


class Shot(Method[ShotHparams]):
    """Do We Really Need to Access the Source Data? Source Hypothesis Transfer for Unsupervised Domain
    Adaptation (Liang, Hu, Feng; ICML 2020; arXiv 2002.08546).

    The classifier is frozen; backbone (lr x0.1) and bottleneck (x1) minimise ent_par * (mean entropy -
    entropy of the mean prediction) + cls_par * CE(pseudo-labels). Pseudo-labels are recomputed before
    each epoch on clean images: softmax-weighted centroids, then one hard-centroid round, cosine distance
    on 1-appended L2-normalised features. Deviations from the reference code:

    - an empty class in the hard round is skipped (the reference divides 0 by 1e-8 and scipy's argmin
      then picks the NaN column for every sample);
    - batches come from device-resident images with dabench's per-sample flip/zoom/rotation instead of
      torchvision's RandomResizedCrop on PIL images (same role, no decoding in the loop);
    - the last incomplete batch of an epoch is dropped (a 1-image batch would break BatchNorm);
    - the model returned is the last epoch's, as in the paper (no selection on target test).
    """

    id = "shot"
    Hparams = ShotHparams
    paper = "Liang et al., ICML 2020, arXiv 2002.08546"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        images = target.images
        model.classifier.requires_grad_(False)
        optimizer = sgd([(model.backbone.parameters(), hp.backbone_lr_mult), (model.bottleneck.parameters(), 1.0)],
                        lr=hp.lr, weight_decay=hp.weight_decay)
        pseudo_labels = torch.zeros(len(images), dtype=torch.long, device=images.device)

        def relabel(epoch: int) -> None:
            if hp.cls_par == 0:
                return  # SHOT-IM needs no labels
            features, logits = extract(model, images)
            pseudo_labels.copy_(centroid_pseudo_labels(features, logits.softmax(1), rounds=hp.label_rounds))
            ctx.record_pseudo_labels(torch.arange(len(images)), pseudo_labels, stage=f"epoch{epoch}")

        def batch_loss(net: ClassifierNet, batch: Batch) -> torch.Tensor:
            logits = net(batch.images).float()
            loss = hp.ent_par * information_maximization(logits.softmax(1), hp.eps)
            if hp.cls_par > 0:
                loss = loss + hp.cls_par * F.cross_entropy(logits, pseudo_labels[batch.index])
            return loss

        step = LossStep(batch_loss, before_epoch=relabel, state={"pseudo_labels": pseudo_labels})
        losses = ctx.fit(model, images, optimizer, step, hp.schedule(), stage="shot")
        ctx.record("epoch_loss", losses)
        model.classifier.requires_grad_(True)
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(Shot)
