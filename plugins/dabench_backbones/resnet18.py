"""``resnet18``: torchvision's ResNet-18 (the CluP paper's backbone), 112 px by default; ``resnet18_stem1``:
the same with the CluP reference's small-face stem (7x7 conv at stride 1, no max-pool), 48 px by default.

Pretrained weights are never downloaded; pass a local file with ``--set backbone_weights=PATH``: torchvision's
ImageNet state dict, a checkpoint dict (``state_dict``/``model``), DataParallel's ``module.`` keys, the MS-Celeb
``resnet18_msceleb.pth`` of FER papers (docs/pretrained-weights.md).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import resnet18

import dabench
from dabench.models import Backbone
from dabench.store.progress import log_line
from dabench.weights import load_into


def build(weights: Path | None = None) -> nn.Module:
    return _load(resnet18(weights=None), weights)


def build_stem1(weights: Path | None = None) -> nn.Module:
    """The CluP reference's stem for small faces: overall stride 8 instead of 32. conv1 keeps its
    (64, 3, 7, 7) shape, so a ResNet-18 state dict (ImageNet's too) loads as is."""
    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=1, padding=3, bias=False)
    net.maxpool = nn.Identity()
    return _load(net, weights)


def _load(net: nn.Module, weights: Path | None) -> nn.Module:
    if weights is not None:  # any layout dabench.weights reads; the file's classifier head is dropped
        load_into(net, weights, "ResNet-18", head=("fc.",), log=log_line)
    net.fc = nn.Identity()
    return net


@dabench.hookimpl
def register_backbones(register) -> None:
    register(Backbone("resnet18", build, feature_dim=512, default_image_size=112,
                      description="torchvision ResNet-18, random init unless backbone_weights names a local file"))
    # Default 48 px: at overall stride 8 the last stage sees 6x6, about what resnet18 sees at 224 px (7x7),
    # and 48 px is FER2013's and CK+48's native size. Min 16 px: the last stage keeps at least 2x2 (16 / 8);
    # no real face set dabench reads is under 48 px (the synthetic ones are 32), so smaller is a mistake.
    # Max 160 px: the largest size whose forward+backward at batch 32 (cluster_pl's batch) fits in 4 GiB
    # over the model, the README's host-RSS target for a CPU run. Measured (torch 2.14 CPU, 1 thread, fp32,
    # ClassifierNet, fresh process, peak RSS minus RSS before the step): 48 px 0.45 GiB, 112 px 1.88 GiB,
    # 160 px 3.67 GiB, 224 px 7.01 GiB; it grows with size^2 because layer1 runs at full resolution.
    register(Backbone("resnet18_stem1", build_stem1, feature_dim=512, default_image_size=48,
                      description="ResNet-18 with the CluP reference's stem for small faces (7x7 conv stride 1, "
                                  "no max-pool); 16-160 px",
                      min_image_size=16, max_image_size=160))
