"""``resnet18``: torchvision's ResNet-18 (the CluP paper's backbone), 112 px by default.

Pretrained weights are never downloaded; pass a local ``.pt``/``.pth`` state dict with
``--set backbone_weights=PATH`` (torchvision's ImageNet file works as is).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18

import dabench
from dabench.errors import DabenchError
from dabench.models import Backbone


def build(weights: Path | None = None) -> nn.Module:
    net = resnet18(weights=None)
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as exc:
            raise DabenchError(f"cannot read backbone weights {weights}: {exc}") from exc
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if [k for k in missing if not k.startswith("fc.")] or unexpected:
            raise DabenchError(f"{weights} is not a ResNet-18 state dict (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]})")
    net.fc = nn.Identity()
    return net


@dabench.hookimpl
def register_backbones(register) -> None:
    register(Backbone("resnet18", build, feature_dim=512, default_image_size=112,
                      description="torchvision ResNet-18, random init unless backbone_weights names a local file"))
