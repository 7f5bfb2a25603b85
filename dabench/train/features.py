"""One batched no-grad pass over a whole image set: bottleneck features and logits."""

from __future__ import annotations

import torch

from dabench.models import ClassifierNet
from dabench.train.batches import to_float


@torch.inference_mode()
def extract(model: ClassifierNet, images: torch.Tensor, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """images: (N, C, H, W) uint8 on the model's device -> features (N, 256) float32, logits (N, K).

    Runs in eval mode (BN uses running statistics) and restores every submodule's own mode after: a
    method that keeps some layers in eval mode while training (frozen BatchNorm) finds them so again.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    features, logits = [], []
    try:
        for start in range(0, len(images), batch_size):
            batch = to_float(images[start:start + batch_size])
            with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=batch.device.type == "cuda"):
                embedded = model.embed(batch)
                scores = model.classifier(embedded)
            features.append(embedded.float())
            logits.append(scores.float())
    finally:
        for module, training in modes:
            module.training = training
    return torch.cat(features), torch.cat(logits)


def predict(model: ClassifierNet, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """(N,) predicted class indices."""
    return extract(model, images, batch_size)[1].argmax(1)
