"""The network every method adapts: backbone -> 256-d bottleneck (Linear + BN) -> weight-normalised
linear classifier (SHOT's architecture, DESIGN.md section 7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from dabench.errors import DabenchError
from dabench.settings.config import NORMALIZATIONS

BOTTLENECK_DIM = 256
INPUT_MEAN, INPUT_STD = NORMALIZATIONS["dabench"]  # the default; run setting ``normalization``


@dataclass(frozen=True)
class Backbone:
    """A registered feature extractor: ``build(weights)`` returns a module (B,3,H,W) -> (B, feature_dim).

    weights: an optional local file of pretrained weights (dabench never downloads any).
    default_image_size: input size in px; None means the pair's native size (the smaller of the two
    datasets' ``native_size``).
    min_image_size, max_image_size: the input sizes in px the backbone accepts, inclusive; None means no
    limit on that side (checked at plan time by :func:`check_image_size`).
    packaged_weights: for a backbone whose ``build(None)`` loads pretrained weights from an installed
    package, a function that finds and checks them (DabenchError naming the package if they are missing
    or wrong) and returns what identifies them (a dict with their sha256); a run plans it into its config.
    """

    id: str
    build: Callable[[Path | None], nn.Module]
    feature_dim: int
    default_image_size: int | None
    description: str = ""
    min_image_size: int | None = None
    max_image_size: int | None = None
    packaged_weights: Callable[[], dict[str, Any]] | None = None


def check_image_size(backbone: Backbone, size: int) -> None:
    """Refuse an input size outside the backbone's range, before anything is prepared or trained."""
    low, high = backbone.min_image_size, backbone.max_image_size
    if (low is None or size >= low) and (high is None or size <= high):
        return
    allowed = f"{low}..{high} px" if low is not None and high is not None else (
        f">= {low} px" if low is not None else f"<= {high} px")
    raise DabenchError(f"backbone '{backbone.id}' does not take image_size={size}: it accepts {allowed}; "
                       f"use --set image_size=N with N in that range, or another --backbone")


class ClassifierNet(nn.Module):
    """Images in [0, 1], shape (B, 3, H, W) -> logits (B, num_classes); ``embed`` gives the bottleneck.
    The input normalisation (``normalization``, a key of NORMALIZATIONS) is held in buffers, so a saved
    model carries its own."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int,
                 normalization: str = "dabench") -> None:
        super().__init__()
        mean, std = NORMALIZATIONS[normalization]
        self.register_buffer("input_mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("input_std", torch.tensor(std).view(1, 3, 1, 1))
        self.backbone = backbone
        self.bottleneck = nn.Sequential(nn.Linear(feature_dim, BOTTLENECK_DIM), nn.BatchNorm1d(BOTTLENECK_DIM))
        self.classifier = weight_norm(nn.Linear(BOTTLENECK_DIM, num_classes))
        self.num_classes = num_classes

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 256) bottleneck features."""
        return self.bottleneck(self.backbone((images - self.input_mean) / self.input_std))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(images))


def build_model(backbone: Backbone, num_classes: int, weights: Path | None = None,
                normalization: str = "dabench") -> ClassifierNet:
    """A fresh network in channels_last memory format (the batches arrive channels_last too)."""
    model = ClassifierNet(backbone.build(weights), backbone.feature_dim, num_classes, normalization)
    return model.to(memory_format=torch.channels_last)


def head_parameters(model: ClassifierNet) -> list[nn.Parameter]:
    """The bottleneck's and classifier's parameters (the optimiser group that takes the base lr)."""
    return list(model.bottleneck.parameters()) + list(model.classifier.parameters())
