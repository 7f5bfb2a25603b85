"""The networks a run builds besides the source model: a fresh one for each init (``ctx.initial_model``),
and the distilled start of a method that adapts what it is handed under init=ssl or scratch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from dabench.errors import DabenchError
from dabench.host.registry import Registry
from dabench.methods import AdaptContext, TargetImages
from dabench.models import ClassifierNet, build_model
from dabench.run.plan import RunPlan
from dabench.run.start import normalization_of
from dabench.settings import config as cfg
from dabench.train.distil import DistilRecipe, distil_source
from dabench.train.features import predict
from dabench.train.ssl import SSLRecipe, ssl_seed
from dabench.train.ssl.artifact import SSLSpec, ssl_model, ssl_target_key

__all__ = ["distilled_start", "initial_model", "ssl_target_key"]


def initial_model(init: str, source_model: ClassifierNet, registry: Registry, plan: RunPlan, device: torch.device,
                  target_images: torch.Tensor, target_key: dict[str, Any]) -> ClassifierNet:
    """'source': a copy of the source model; 'scratch': a freshly initialised network of the same shape;
    'ssl': the backbone pretrained on the target images (cached artifact) under a fresh bottleneck and classifier."""
    config = plan.config
    if init == "ssl":
        recipe = cfg.build_dataclass(SSLRecipe, config["ssl"], "ssl recipe")
        spec = SSLSpec(plan.pair.target, target_key, config["backbone"], config["image_size"], recipe,
                       ssl_seed(recipe, plan.seed), config["backbone_weights"],
                       config.get("backbone_weights_sha256"), normalization_of(config))
        return ssl_model(spec, registry, source_model.num_classes, target_images, config["amp"])[0]
    if init == "source":
        return copy.deepcopy(source_model)
    if init == "scratch":
        weights = Path(config["backbone_weights"]) if config["backbone_weights"] else None
        return build_model(registry.backbone(config["backbone"]), source_model.num_classes, weights,
                           normalization_of(config)).to(device)
    raise DabenchError(f"unknown init '{init}'; valid inits: {', '.join(cfg.INITS)}")


def distilled_start(config: dict[str, Any], source_model: ClassifierNet, target: TargetImages,
                    ctx: AdaptContext) -> ClassifierNet:
    """The network a method that adapts what it is handed starts from under init=ssl (or scratch): that
    init's network, taught the source model's predictions on the target train images (no labels)."""
    with ctx.stage("initial_model"):
        student = ctx.initial_model(config["init"])
    with ctx.stage("distil"):
        losses = distil_source(student, source_model, target.images, DistilRecipe(**config["distil"]), ctx)
        agreement = (predict(student, target.images) == predict(source_model, target.images)).float().mean().item()
    ctx.record("distil_epoch_loss", losses)
    ctx.record("distil_agreement", agreement)  # share of target train images on which student and source agree
    ctx.log(f"init={config['init']}: distilled the source model's predictions for {len(losses)} epochs; "
            f"agreement with the source model on target train {agreement:.1%}")
    return student
