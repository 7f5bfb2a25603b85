"""``dabench new-plugin NAME``: write a pip-installable plugin package (a method, a folder-layout dataset
and a test that runs dabench.testing's conformance checks) that passes its own tests as generated."""

from __future__ import annotations

import re
from pathlib import Path

from dabench.errors import DabenchError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dabench-{dist}"
version = "0.1.0"
description = "dabench plugin: the {name} method and the {name}_faces dataset"
requires-python = ">=3.11"
dependencies = ["dabench"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

[project.entry-points.dabench]
{name} = "dabench_{name}"

[tool.setuptools.packages.find]
include = ["dabench_{name}*"]
'''

INIT = '''"""dabench-{dist}: registers the {name} method and the {name}_faces dataset with dabench."""

from __future__ import annotations

import dabench
from dabench_{name}.dataset import {camel}Faces
from dabench_{name}.method import {camel}

__all__ = ["{camel}", "{camel}Faces"]


@dabench.hookimpl
def register_methods(register) -> None:
    register({camel})


@dabench.hookimpl
def register_datasets(register) -> None:
    register({camel}Faces())
'''

METHOD = '''"""``{name}``: entropy minimisation on the BatchNorm affine parameters (a starting point; replace
the loss with your method's)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.train.batches import augment, index_batches, to_float
from dabench.train.device import autocast


@dataclass(frozen=True)
class {camel}Hparams:
    epochs: int = field(default=5, metadata={{"help": "passes over the target train images"}})
    batch_size: int = field(default=64, metadata={{"help": "batch size"}})
    lr: float = field(default=1e-3, metadata={{"help": "Adam learning rate"}})

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")


class {camel}(Method):
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
        model.train()
        for epoch in ctx.progress(range(hp.epochs), desc="{name}"):
            # draw every random number from ctx.generator: the run is then deterministic for a seed
            for batch in index_batches(len(target), hp.batch_size, ctx.generator, device=ctx.device):
                images = augment(to_float(target.images[batch]), ctx.generator)
                with autocast(ctx.device, ctx.amp):
                    logits = model(images).float()
                entropy = -(logits.softmax(1) * logits.log_softmax(1)).sum(1).mean()
                optimizer.zero_grad(set_to_none=True)
                entropy.backward()
                optimizer.step()
            ctx.end_epoch(model, epoch)  # lets dabench record per-epoch history and validator scores
        return model
'''

DATASET = '''"""``{name}_faces``: a FER dataset in the folder layout ``<split>/<class>/*.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dabench.data import DataOptions, Dataset, Split
from dabench.data.images import CropSpec, ImageItem, decode_items, list_images, subfolders
from dabench.labels import CANONICAL_CLASSES


class {camel}Faces(Dataset):
    id = "{name}_faces"
    classes = CANONICAL_CLASSES
    description = "FER images in <split>/<class>/*.png folders (canonical class names)"
    layout = "train/<class>/*.png and test/<class>/*.png, <class> in: " + " ".join(CANONICAL_CLASSES)
    native_size = 48
    default_backbone = "small_cnn"

    def source_signature(self, folder: Path) -> list[tuple[str, int]]:
        return [(f"{{s.name}}/{{c.name}}", len(list_images(c))) for s in subfolders(folder) for c in subfolders(s)]

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        assert folder is not None
        splits = {{}}
        for split in self.splits:
            if not (folder / split).is_dir():
                raise self.missing(folder, f"split folder '{{split}}/' not found")
            items = [ImageItem(f"{{split}}/{{c.name}}/{{p.name}}", split, self.classes.index(c.name), p)
                     for c in subfolders(folder / split) if c.name in self.classes for p in list_images(c)]
            images, _ = decode_items(items, options.resolution, "RGB" if options.rgb else "L", CropSpec("none"))
            splits[split] = Split(images, np.array([item.label for item in items], dtype=np.int64))
        return splits
'''

TEST = '''"""dabench's conformance checks for this plugin (run: pytest tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import dabench_{name}
from dabench.testing import check_dataset, check_method, check_plugin, write_image_folder
from dabench_{name} import {camel}, {camel}Faces

ROOT = Path(__file__).resolve().parents[1]


def test_entry_point_declared() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["dabench"] == {{"{name}": "dabench_{name}"}}


def test_method_conforms() -> None:
    report = check_method({camel})  # registration, tiny CPU runs, output shape, determinism, no labels
    assert report.epochs_reported == [0]


def test_dataset_conforms(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "{name}_faces", per_class=2)
    assert check_dataset({camel}Faces(), tmp_path) == {{"train": 14, "test": 14}}


def test_plugin_registers_everything(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "{name}_faces", per_class=1)
    registry = check_plugin(dabench_{name}, data_roots={{"{name}_faces": tmp_path}})
    assert list(registry.methods) == ["{name}"] and list(registry.datasets) == ["{name}_faces"]


def test_listed_by_dabench_plugins() -> None:
    """Installed (pip install -e .), the entry point loads: `dabench plugins` lists it as ok."""
    try:
        metadata.distribution("dabench-{dist}")
    except metadata.PackageNotFoundError:
        pytest.skip("dabench-{dist} is not installed; run `pip install -e .` to check its entry point")
    env = {{**os.environ, "DABENCH_LOAD_PLUGINS": "{name}"}}  # this plugin alone beside the built-ins
    out = subprocess.run([sys.executable, "-m", "dabench", "plugins"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    row = next((line for line in out.stdout.splitlines() if line.split()[:1] == ["{name}"]), "")
    assert " ok " in row and "method {name}" in row and "dataset {name}_faces" in row, out.stdout + out.stderr
'''

README = '''# dabench-{dist}

    pip install -e .          # then: dabench plugins  (lists "{name}")
    dabench run --method {name} --pair synth-lab:synth-wild
    pytest tests              # dabench.testing conformance checks
'''


def new_plugin(name: str, parent: Path) -> Path:
    """Write ``parent/dabench-<name>/``; returns that folder. ``name`` is the plugin and method id."""
    if not NAME.match(name):
        raise DabenchError(f"plugin name '{name}' must be lower_snake (letters, digits, _; e.g. 'my_method'): "
                           "it becomes the method id and the module dabench_<name>")
    taken = _taken(name)
    if taken:
        raise DabenchError(f"plugin name '{name}' is taken: {taken}; choose another name, e.g. 'my_{name}'")
    dist = name.replace("_", "-")
    root = parent / f"dabench-{dist}"
    if root.exists():
        raise DabenchError(f"{root} already exists; choose another name or --dir, or remove it")
    values = {"name": name, "dist": dist, "camel": "".join(part.title() for part in name.split("_"))}
    files = {"pyproject.toml": PYPROJECT, "README.md": README, f"dabench_{name}/__init__.py": INIT,
             f"dabench_{name}/method.py": METHOD, f"dabench_{name}/dataset.py": DATASET,
             "tests/test_plugin.py": TEST}
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return root


def _taken(name: str) -> str | None:
    """Why ``name`` cannot be a new plugin's name (the skeleton uses it as entry point, method id and
    ``<name>_faces`` dataset id), or None. Entry points count whether DABENCH_LOAD_PLUGINS loads them or not."""
    from dabench.plugins import installed_entry_points
    from dabench.registry import build_registry, default_host, get_registry

    owners = installed_entry_points()
    if name in owners:
        return f"it is already an entry-point name in group 'dabench' (of {owners[name]})"
    try:
        registry = get_registry()
    except DabenchError:  # two other plugins clash on some id: that must not hide a clash with this name
        registry = build_registry(default_host(), collect_conflicts=True)
    method_id = registry.aliases.get(name, name)
    if method_id in registry.methods:
        alias = f"an alias of method '{method_id}'" if method_id != name else f"the id of method '{name}'"
        return f"it is already {alias} (plugin '{registry.provider('methods', method_id)}')"
    if f"{name}_faces" in registry.datasets:
        return (f"the dataset id '{name}_faces' it would register is already taken "
                f"(plugin '{registry.provider('datasets', f'{name}_faces')}')")
    return None
