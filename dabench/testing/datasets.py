"""Conformance of dataset and validator plugins, and a writer of tiny folder-layout datasets."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tempfile
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dabench.data import dataset as dataset_api
from dabench.data.folder import FolderDataset
from dabench.data.synth import generate_faces
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.testing.common import (
    DATASET_ID,
    EXTRA_CLASSES,
    METHOD_ID,
    RESOLUTION,
    ConformanceError,
    ConformanceWarning,
    _require,
)


# --------------------------------------------------------------------------------------------- datasets
def check_dataset(dataset: Any, data_root: Path | None = None, options: dict[str, Any] | None = None) -> dict[str, int]:
    """id, classes, splits, options, the missing-folder message and a split rule (warned without one); then, for a
    generated dataset or when ``data_root`` holds ``<id>/``, two builds at 16 px: valid, equal splits, the
    declared splits only, more than one class, no split holding another's images. Returns split sizes."""
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
        if dataset.split_hash() is None:
            warnings.warn(no_split_rule_message(dataset), ConformanceWarning, stacklevel=2)
        if data_root is None:
            return {}
    opts = dataset.options({**(options or {}), "resolution": RESOLUTION})
    folder = dataset.locate(Path(data_root)) if not dataset.generated else None
    try:
        first, second = dataset.build(folder, opts), dataset.build(folder, opts)
    except DabenchError as exc:  # e.g. FolderDataset.build refusing items of an unknown split
        raise ConformanceError(f"{name}.build failed on {folder}: {exc}") from None
    _require(set(dataset.splits) <= set(first), f"{name}.build returned splits {sorted(first)}, expected {dataset.splits}")
    undeclared = sorted(set(first) - set(dataset.splits), key=str)
    _require(not undeclared,
             f"{name}.build returned split(s) {', '.join(map(repr, undeclared))} that are not in {name}.splits "
             f"{dataset.splits}: the runner never reads them, so their images are dropped without a word. Put their "
             f"images in one of {', '.join(dataset.splits)} (a validation set usually joins train), or declare the "
             f"split in splits")
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
    _check_labels_vary(name, first, classes)
    _check_splits_disjoint(name, first)
    return sizes


def no_split_rule_message(dataset: Any) -> str:
    """The warning for a folder dataset whose ``split_hash()`` is None, with what to set instead."""
    name = type(dataset).__name__
    if isinstance(dataset, FolderDataset):
        how = ("name the official split in one sentence (official_split = \"the train/ and test/ folders\") or "
               "point split_rule_file at a rule YAML shipped with the plugin")
    else:
        how = ("override split_hash() to return official_split_hash(self.id, \"<the split in one sentence>\") "
               "(dabench.data.splits), or the sha256 of a split file shipped with the plugin")
    return (f"{name} has no split rule (split_hash() is None): results record no split hash, so two versions of "
            f"its split cannot be told apart, and a split made up in code goes unnoticed; {how}. A warning, not a "
            f"failure: a dataset whose folder holds its official split only needs to name it")


def _check_labels_vary(name: str, splits: dict[str, dataset_api.Split], classes: tuple[str, ...]) -> None:
    """Labels of one class in every split fail (a label mapping that sends everything to one index, or a
    fixture that cannot show the mapping works); one split of one class only warns (a tiny fixture's test)."""
    everywhere = np.unique(np.concatenate([split.labels for split in splits.values()]))
    _require(len(everywhere) > 1,
             f"{name}: every image of every split has label {int(everywhere[0])} ({classes[int(everywhere[0])]}); "
             f"a FER dataset has several classes, so the label mapping is wrong (each image's label must be "
             f"self.classes.index(<its class>)), or the test folder holds one class only (write_image_folder "
             f"writes all seven)")
    for split_name, split in splits.items():
        labels = np.unique(split.labels)
        if len(split) > 1 and len(labels) == 1:
            warnings.warn(f"{name}: all {len(split)} images of split {split_name} have label {int(labels[0])} "
                          f"({classes[int(labels[0])]}) while other splits have other classes; right for a tiny "
                          f"fixture of one class, wrong for a real dataset (check how that split's labels are read)",
                          ConformanceWarning, stacklevel=3)


def _check_splits_disjoint(name: str, splits: dict[str, dataset_api.Split]) -> None:
    """Two splits that share every image of one of them fail (the same images read twice); a few shared
    images (real datasets hold some cross-split duplicates: the ``dedup`` option) only warn."""
    digests: dict[str, dict[str, int]] = {}  # per split: each distinct image's digest -> its first index
    for split_name, split in splits.items():
        first_at = digests[split_name] = {}
        for index, image in enumerate(split.images):
            first_at.setdefault(hashlib.sha256(image.tobytes()).hexdigest(), index)
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = digests[a].keys() & digests[b].keys()
            if not shared:
                continue
            smaller = min((a, b), key=lambda s: len(digests[s]))
            example = min(shared, key=lambda digest: digests[a][digest])
            where = f"e.g. {a} image {digests[a][example]} is {b} image {digests[b][example]}"
            _require(len(shared) < len(digests[smaller]),
                     f"{name}: splits {a} and {b} hold the same images (every one of the {len(digests[smaller])} "
                     f"distinct images of {smaller} is also in the other; {where}, at {RESOLUTION} px): a model is "
                     f"scored on what it was trained or selected on. Each image belongs to one split: check how items() (or "
                     f"build) assigns them")
            warnings.warn(f"{name}: {len(shared)} image(s) occur in both {a} and {b} ({where}, at {RESOLUTION} px); "
                          f"real datasets hold some such duplicates (the dedup option drops them), but in a test "
                          f"folder this is a split leak", ConformanceWarning, stacklevel=3)


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


