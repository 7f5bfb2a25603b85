"""Conformance of dataset and validator plugins, and a writer of tiny folder-layout datasets."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dabench.data import dataset as dataset_api
from dabench.data.synth import generate_faces
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.testing.common import (
    DATASET_ID,
    EXTRA_CLASSES,
    METHOD_ID,
    RESOLUTION,
    ConformanceError,
    _require,
)


# --------------------------------------------------------------------------------------------- datasets
def check_dataset(dataset: Any, data_root: Path | None = None, options: dict[str, Any] | None = None) -> dict[str, int]:
    """id, classes, splits, options and the missing-folder message; then, for a generated dataset or
    when ``data_root`` holds ``<id>/``, two builds at 16 px: valid, equal splits. Returns split sizes."""
    name = type(dataset).__name__
    _require(isinstance(dataset, dataset_api.Dataset), f"{name} must be an instance of a dabench.data.Dataset subclass")
    _require(bool(DATASET_ID.match(dataset.id)), f"{name}.id {dataset.id!r} must be lower case (letters, digits, _ or -)")
    classes = tuple(dataset.classes)
    _require(len(set(classes)) == len(classes), f"{name}.classes has duplicates: {classes}")
    unknown = [c for c in classes if c not in CANONICAL_CLASSES and c not in EXTRA_CLASSES]
    _require(not unknown, f"{name}.classes {unknown} are not canonical ids ({', '.join(CANONICAL_CLASSES)}; "
                          f"extras: {', '.join(EXTRA_CLASSES)}); map the dataset's own names onto them")
    _require(sum(c in CANONICAL_CLASSES for c in classes) >= 2, f"{name} needs at least 2 canonical classes")
    _require({"train", "test"} <= set(dataset.splits), f"{name}.splits {dataset.splits} must include train and test")
    _require(bool(dataset.description.strip()), f"{name}.description is empty; `dabench list datasets` shows it")
    extra = [f for f in dataclasses.fields(dataset.Options) if f.name not in ("resolution", "rgb")]
    for f in extra:
        _require(bool(str(f.metadata.get("help", "")).strip()), f"{name}.Options.{f.name} has no help metadata")
    if not dataset.generated:
        _require(bool(dataset.layout.strip()), f"{name}.layout is empty; users see it when the folder is missing")
        with tempfile.TemporaryDirectory() as empty:
            try:
                dataset.locate(Path(empty))
            except DabenchError as exc:
                _require(dataset.layout.strip() in str(exc), f"{name}: the missing-folder error does not show the layout")
            else:
                raise ConformanceError(f"{name}.locate() found a dataset in an empty folder")
        if data_root is None:
            return {}
    opts = dataset.options({**(options or {}), "resolution": RESOLUTION})
    folder = dataset.locate(Path(data_root)) if not dataset.generated else None
    first, second = dataset.build(folder, opts), dataset.build(folder, opts)
    _require(set(dataset.splits) <= set(first), f"{name}.build returned splits {sorted(first)}, expected {dataset.splits}")
    sizes = {}
    for split_name, split in first.items():
        _require(isinstance(split, dataset_api.Split), f"{name}.build()[{split_name!r}] must be a dabench.data.Split")
        _require(tuple(split.images.shape[1:3]) == (RESOLUTION, RESOLUTION),
                 f"{name}: split {split_name} images are {split.images.shape[1:3]}, expected the requested "
                 f"resolution ({RESOLUTION}, {RESOLUTION})")
        _require(len(split) > 0, f"{name}: split {split_name} is empty")
        _require(int(split.labels.min()) >= 0 and int(split.labels.max()) < len(classes),
                 f"{name}: split {split_name} has labels outside [0, {len(classes)})")
        _require(np.array_equal(split.images, second[split_name].images)
                 and np.array_equal(split.labels, second[split_name].labels),
                 f"{name}: two builds of split {split_name} differ; building must be deterministic")
        sizes[split_name] = len(split)
    return sizes


def write_image_folder(root: Path, per_class: int = 4, splits: tuple[str, ...] = ("train", "test"),
                       classes: Mapping[str, str] | Sequence[str] = CANONICAL_CLASSES, size: int = 32,
                       seed: int = 0) -> Path:
    """Generated faces as ``root/<split>/<folder>/<n>.png`` (the simple folder layout), for dataset tests.
    ``classes`` maps each folder name to the canonical class drawn in it (``{"angry": "anger", "happy":
    "happiness"}``, as FER2013 names its folders), or lists canonical names used as folder names."""
    from PIL import Image

    folders = class_folders(classes)
    copies = max(Counter(folders.values()).values())  # two folders of one class get different faces
    for offset, split in enumerate(splits):
        # 'lab' faces are exactly class-balanced, so every class gets ``per_class * copies`` images
        images, labels = generate_faces(per_class * copies * len(CANONICAL_CLASSES), "lab", size, seed * 1000 + offset)
        taken: Counter[str] = Counter()
        for folder_name, class_name in folders.items():
            folder = root / split / folder_name
            folder.mkdir(parents=True, exist_ok=True)
            first = taken[class_name] * per_class
            taken[class_name] += 1
            picked = np.flatnonzero(labels == CANONICAL_CLASSES.index(class_name))[first:first + per_class]
            for number, index in enumerate(picked):
                Image.fromarray(images[index, :, :, 0]).save(folder / f"{number:04d}.png")
    return root


def class_folders(classes: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """``write_image_folder``'s ``classes`` as {folder name: canonical class}, each checked: one
    DabenchError naming what is wrong, the valid classes and the mapping form."""
    if isinstance(classes, str) or not isinstance(classes, (Mapping, Sequence)):
        raise DabenchError(f"write_image_folder: classes must be a mapping of folder names to canonical classes "
                           f"or a sequence of canonical classes, got {classes!r}")
    folders = dict(classes) if isinstance(classes, Mapping) else {name: name for name in classes}
    if not folders:
        raise DabenchError("write_image_folder: classes is empty; give at least one folder")
    for folder_name, class_name in folders.items():
        if class_name not in CANONICAL_CLASSES:
            given = f"folder {folder_name!r} -> {class_name!r}" if isinstance(classes, Mapping) else repr(class_name)
            raise DabenchError(
                f"write_image_folder: {given} is not a canonical class; the generated faces are drawn in "
                f"{', '.join(CANONICAL_CLASSES)} (extras such as contempt cannot be drawn). For a dataset whose "
                f"folders have their own names, map each folder to its class: classes={{'angry': 'anger', "
                f"'happy': 'happiness', ...}}")
        if not isinstance(folder_name, str) or folder_name in ("", ".", "..") or "/" in folder_name \
                or "\\" in folder_name:
            raise DabenchError(f"write_image_folder: folder name {folder_name!r} (for {class_name}) is not one "
                               f"folder's name; give a name without slashes")
    return folders


# ------------------------------------------------------------------------------------------- validators
def check_validator(validator: Any) -> float:
    """id, direction, and a score on random predictions that is finite, deterministic and does not
    depend on the order of the samples. Returns that score."""
    from dabench.validators import Validator

    _require(isinstance(validator, Validator), f"{validator!r} must be a dabench.validators.Validator")
    _require(bool(METHOD_ID.match(validator.id)), f"validator id {validator.id!r} must be lower_snake")
    generator = torch.Generator().manual_seed(0)
    features, logits = torch.randn(300, 256, generator=generator), 3 * torch.randn(300, 7, generator=generator)
    score = validator.score(features, logits)
    _require(isinstance(score, float) and math.isfinite(score), f"validator {validator.id} must return a finite float")
    order = torch.randperm(300, generator=generator)
    shuffled = validator.score(features[order], logits[order])
    _require(math.isclose(score, validator.score(features, logits), rel_tol=1e-6), f"validator {validator.id} is not deterministic")
    _require(math.isclose(score, shuffled, rel_tol=1e-4, abs_tol=1e-5),
             f"validator {validator.id} depends on the order of the samples ({score} vs {shuffled})")
    return score


