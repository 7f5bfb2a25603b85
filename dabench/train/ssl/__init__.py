"""Self-supervised pretraining on target images (SwAV or SimCLR), cached as a backbone artifact that
any method can start from with ``--set init=ssl`` (DESIGN.md section 7, CluP's step 1)."""

from __future__ import annotations

from typing import Any

import torch

from dabench.errors import DabenchError
from dabench.settings.recipes import METHODS, RUN_SEED, SSLRecipe, check_ssl_seed, small_crop_size, ssl_seed

__all__ = ["METHODS", "RUN_SEED", "SSLRecipe", "check_backbone", "check_ssl_seed", "small_crop_size", "ssl_seed"]



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
