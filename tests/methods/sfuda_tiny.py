"""A tiny model, images and context for method unit tests (no runner, no source training)."""

from __future__ import annotations

import torch

from dabench.methods import AdaptContext, TargetImages
from dabench.models import Backbone, ClassifierNet, build_model
from dabench_backbones.small_cnn import WIDTHS, build

CLASSES = ("a", "b", "c")


def tiny_model(seed: int = 0) -> ClassifierNet:
    torch.manual_seed(seed)
    return build_model(Backbone("small_cnn", build, WIDTHS[-1], None), len(CLASSES))


def tiny_target(n: int = 40, seed: int = 0) -> TargetImages:
    generator = torch.Generator().manual_seed(seed)
    return TargetImages(torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=generator))


def tiny_context(seed: int = 0) -> AdaptContext:
    return AdaptContext(device=torch.device("cpu"), seed=seed, generator=torch.Generator().manual_seed(seed),
                        class_names=CLASSES)
