"""The files ``dabench new-plugin`` writes, as ``str.format`` templates (doubled braces are literal):
the package's pyproject, README and ``__init__``, one module per kind, and its tests."""

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dabench-{dist}"
version = "0.1.0"
description = "dabench plugin: the {name} {kind}"
requires-python = ">=3.11"
dependencies = ["dabench"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

[project.entry-points.dabench]
{name} = "dabench_{name}"

[tool.setuptools.packages.find]
include = ["dabench_{name}*"]
'''

INIT = '''"""dabench-{dist}: registers the {name} {kind} with dabench."""

from __future__ import annotations

import dabench
from dabench_{name}.{kind} import {export}

__all__ = ["{export}"]


@dabench.hookimpl
def register_{kind}s(register) -> None:
    register({registered})
'''

METHOD = '''"""``{name}``: entropy minimisation on the BatchNorm affine parameters (a starting point; replace
the loss with your method's)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batches import augment
from dabench.train.loop import Batch, LossStep, Schedule


@dataclass(frozen=True)
class {camel}Hparams:
    epochs: int = field(default=5, metadata={{"help": "passes over the target train images"}})
    batch_size: int = field(default=64, metadata={{"help": "batch size"}})
    lr: float = field(default=1e-3, metadata={{"help": "Adam learning rate"}})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


class {camel}(Method[{camel}Hparams]):
    """Paper title (arXiv id) goes here, then every deviation from the paper and why."""

    id = "{name}"
    Hparams = {camel}Hparams

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        hp = self.hparams
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        trained = [p for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                   for p in (m.weight, m.bias)]
        for parameter in trained:
            parameter.requires_grad_(True)
        optimizer = torch.optim.Adam(trained, lr=hp.lr)

        def entropy(net: torch.nn.Module, batch: Batch) -> torch.Tensor:
            logits = net(batch.images).float()
            return -(logits.softmax(1) * logits.log_softmax(1)).sum(1).mean()

        # ctx.fit owns the loop: shuffled batches (random draws from ctx.generator, so a seed fixes the run),
        # augmentation, autocast, the per-epoch history and validators, the progress line and the checkpoint
        # a killed run resumes from; the method gives the loss of a batch
        ctx.fit(model, target.images, optimizer, LossStep(entropy),
                Schedule(hp.epochs, hp.batch_size, augmentation=augment), stage="{name}")
        return model
'''

DATASET = '''"""``{name}``: a FER dataset in the folder layout ``<split>/<class>/*.png``."""

from __future__ import annotations

from pathlib import Path

from dabench.data import FaceOptions, FolderDataset, ImageItem
from dabench.data.images import list_images, subfolders
from dabench.labels import CANONICAL_CLASSES


class {camel}(FolderDataset):
    id = "{name}"
    classes = CANONICAL_CLASSES
    description = "FER images in <split>/<class>/*.png folders (canonical class names)"
    layout = "train/<class>/*.png and test/<class>/*.png, <class> in: " + " ".join(CANONICAL_CLASSES)
    official_split = "the train/ and test/ folders"
    mode = "L"  # decode as grayscale; "RGB" for colour
    native_size = 48
    default_backbone = "small_cnn"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        """Every labelled image with its split (the base decodes, crops, resizes and splits them, and
        `dabench data check {name}` reads each one); a wrong layout is ``self.missing(folder, what)``."""
        items = []
        for split in self.splits:
            if not (folder / split).is_dir():
                raise self.missing(folder, f"split folder '{{split}}/' not found")
            for class_dir in subfolders(folder / split):
                if class_dir.name not in self.classes:
                    raise self.missing(folder, f"class folder {{split}}/{{class_dir.name}}/ is not one of "
                                               + " ".join(self.classes))
                items += [ImageItem(f"{{split}}/{{class_dir.name}}/{{path.name}}", split,
                                    self.classes.index(class_dir.name), path) for path in list_images(class_dir)]
        return items
'''

BACKBONE = '''"""``{name}``: a two-block CNN backbone (a starting point; replace the layers with yours)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dabench.models import Backbone

FEATURE_DIM = 64


def build(weights: Path | None = None) -> nn.Module:
    """A module (B, 3, H, W) -> (B, FEATURE_DIM), for any H, W >= 2 (dabench normalises the images);
    ``weights``: an optional local state_dict file (dabench never downloads any)."""
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, FEATURE_DIM, 3, padding=1, bias=False), nn.BatchNorm2d(FEATURE_DIM), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    if weights is not None:
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net


# default_image_size=None: images at the pair's native size (the smaller of the two datasets')
BACKBONE = Backbone("{name}", build, feature_dim=FEATURE_DIM, default_image_size=None,
                    description="two conv blocks (32-64), BN, global average pool")
'''

VALIDATOR = '''"""``{name}``: mean top softmax probability on unlabelled target train images; higher is better
(a starting point; replace the score with your criterion)."""

from __future__ import annotations

import torch

from dabench.validators import Validator


def mean_confidence(features: torch.Tensor, logits: torch.Tensor) -> float:
    """Mean over samples of max softmax(logits); features (N, 256) bottleneck, logits (N, K)."""
    return float(logits.float().softmax(1).max(1).values.mean())


VALIDATOR = Validator("{name}", mean_confidence, higher_is_better=True,
                      description="mean top softmax probability (higher is better)")
'''

MODULES = {"method": METHOD, "dataset": DATASET, "backbone": BACKBONE, "validator": VALIDATOR}
EXPORTS = {"method": ("{camel}", "{camel}"), "dataset": ("{camel}", "{camel}()"),
           "backbone": ("BACKBONE", "BACKBONE"), "validator": ("VALIDATOR", "VALIDATOR")}
USAGE = {
    "method": "dabench run --method {name} --pair synth-lab:synth-wild",
    "dataset": "dabench data prepare {name}   # reads $DABENCH_DATA/{name}/{{train,test}}/<class>/*.png",
    "backbone": "dabench run --method shot --pair synth-lab:synth-wild --backbone {name}",
    "validator": "dabench report leaderboard --selection {name}",
}

README = '''# dabench-{dist}

    pip install -e '.[test]'  # then: dabench plugins  (lists "{name}")
    {usage}
    pytest tests              # dabench.testing conformance checks
'''
