"""Self-supervised pretraining on target images (SwAV or SimCLR), cached as a backbone artifact that
any method can start from with ``--set init=ssl`` (DESIGN.md section 7, CluP's step 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dabench.errors import DabenchError

METHODS = ("swav", "simclr")


@dataclass(frozen=True)
class SSLRecipe:
    """How the target backbone is pretrained; a run key (``--set ssl.epochs=50``), part of the cache key."""

    method: str = field(default="swav", metadata={"help": "swav (the CluP paper's) or simclr"})
    epochs: int = field(default=200, metadata={"help": "passes over the target train images (paper: 1000)"})
    batch_size: int = field(default=256, metadata={"help": "images per step"})
    lr: float = field(default=0.6, metadata={"help": "SGD lr at batch 256 (scaled linearly with batch_size)"})
    weight_decay: float = field(default=1e-6, metadata={"help": "SGD weight decay"})
    warmup_epochs: int = field(default=10, metadata={"help": "linear warm-up epochs before the cosine decay"})
    temperature: float = field(default=0.1, metadata={"help": "softmax temperature of the swapped prediction / NT-Xent"})
    hidden_dim: int = field(default=2048, metadata={"help": "projection MLP hidden width"})
    projection_dim: int = field(default=128, metadata={"help": "projection output width"})
    prototypes: int = field(default=5000, metadata={"help": "SwAV prototypes (paper: 5000)"})
    epsilon: float = field(default=0.05, metadata={"help": "SwAV Sinkhorn entropy regularisation"})
    sinkhorn_iterations: int = field(default=3, metadata={"help": "SwAV Sinkhorn-Knopp iterations"})
    freeze_prototypes_epochs: int = field(default=1, metadata={"help": "SwAV keeps prototypes fixed this long"})
    large_crops: int = field(default=2, metadata={"help": "full-size views per image"})
    small_crops: int = field(default=4, metadata={"help": "SwAV multi-crop small views per image (0: none)"})
    small_crop_fraction: float = field(default=0.43, metadata={"help": "small view side / image side (SwAV: 96/224)"})
    large_scale_min: float = field(default=0.14, metadata={"help": "smallest area share of a large crop"})
    small_scale_max: float = field(default=0.14, metadata={"help": "largest area share of a small crop"})
    small_scale_min: float = field(default=0.05, metadata={"help": "smallest area share of a small crop"})

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"ssl.method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if min(self.epochs, self.batch_size, self.projection_dim, self.hidden_dim, self.prototypes,
               self.sinkhorn_iterations) < 1 or self.large_crops < 2 or self.small_crops < 0:
            raise ValueError("ssl: epochs, batch_size, dims, prototypes and sinkhorn_iterations must be >= 1, "
                             "large_crops >= 2 and small_crops >= 0")
        if self.lr <= 0 or self.temperature <= 0 or self.epsilon <= 0 or self.weight_decay < 0:
            raise ValueError("ssl: lr, temperature and epsilon must be > 0 and weight_decay >= 0")
        if not (0 < self.small_scale_min <= self.small_scale_max <= 1 and 0 < self.large_scale_min <= 1
                and 0 < self.small_crop_fraction <= 1):
            raise ValueError("ssl: crop scales must satisfy 0 < small_scale_min <= small_scale_max <= 1, "
                             "0 < large_scale_min <= 1 and 0 < small_crop_fraction <= 1")


def small_crop_size(recipe: SSLRecipe, image_size: int) -> int:
    return max(1, round(image_size * recipe.small_crop_fraction))


def check_backbone(backbone: Any, recipe: SSLRecipe, image_size: int) -> None:
    """Refuse, before any work, a backbone that cannot be pretrained here.

    A backbone plugin opts out with a ``supports_ssl = False`` attribute (e.g. a frozen or
    fixed-input-size extractor); otherwise one dry forward pass at every view size must succeed
    (small_cnn's four poolings need at least 16 px, so SwAV's small crops must be that large).
    """
    if not getattr(backbone, "supports_ssl", True):
        raise DabenchError(f"backbone '{backbone.id}' does not support self-supervised pretraining "
                           "(init=ssl); pick another with --backbone (e.g. small_cnn or resnet18) or use init=source")
    sizes = [image_size]
    if recipe.method == "swav" and recipe.small_crops:
        sizes.append(small_crop_size(recipe, image_size))
    network = backbone.build(None).eval()
    for size in sizes:
        try:
            with torch.no_grad():
                network(torch.zeros(1, 3, size, size))
        except RuntimeError as exc:
            raise DabenchError(
                f"backbone '{backbone.id}' cannot take {size} px views for ssl (image_size {image_size}, "
                f"ssl.small_crop_fraction {recipe.small_crop_fraction}): {str(exc).splitlines()[0]}; raise "
                "ssl.small_crop_fraction or image_size, or set ssl.small_crops=0") from None
