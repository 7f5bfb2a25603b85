"""FolderDataset, the base of datasets read from a folder: a plugin lists ImageItems (parsing its label
files); this base decodes, crops, resizes, optionally drops cross-split duplicates, splits, hashes the
split rule, fingerprints the folder, and gives ``dabench data check`` every file to read."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from dabench.data.dataset import DataOptions, Dataset, Split
from dabench.data.images import CROPS, Box, CropSpec, ImageItem, decode_items
from dabench.data.near_duplicates import near_duplicate_mask
from dabench.data.splits import SplitRule, official_split_hash
from dabench.errors import DabenchError

# When dedup is on, a copy in a split is dropped if the same bytes occur in a later split of this order.
SPLIT_PRIORITY = ("train", "val", "test")


@dataclass(frozen=True)
class FaceOptions(DataOptions):
    crop: str = field(default="fixed", metadata={"help": (
        "fixed: the dataset's face boxes, or its documented fixed crop for whole frames; "
        "haar: OpenCV Haar cascade on whole frames (pip install dabench[face]); none: no crop")})
    dedup: bool = field(default=False, metadata={"help": (
        "drop duplicates that leak across splits: the train (and val) copy of a file also in test, by its "
        "bytes, and of a near-identical face (32 px thumbnail correlation >= 0.98, see `data check`)")})

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        if not 8 <= self.resolution <= 1024:
            raise ValueError(f"resolution must be in 8..1024 px, got {self.resolution}")


class FolderDataset(Dataset):
    """A dataset read from a folder. A subclass sets ``id``, ``classes``, ``layout``, ``mode`` (and
    ``request``, ``fixed_crop``, ``split_rule_file`` or ``official_split`` as it needs) and implements
    :meth:`items`; :meth:`build`, ``dabench data check`` and the split hash come from this base (the
    folder's content identity from :class:`Dataset`)."""

    mode: ClassVar[str] = "RGB"  # PIL mode to decode: "L" for grayscale datasets
    # the face box of whole frames (items with uncropped=True, or None and a shorter side > 256 px), as
    # fractions (left, top, right, bottom) of width and height; the default keeps the whole image
    fixed_crop: ClassVar[Box] = (0.0, 0.0, 1.0, 1.0)
    split_rule_file: ClassVar[Path | None] = None  # a SplitRule YAML, for datasets without official splits
    official_split: ClassVar[str] = ""  # the official split in one sentence (hashed into split_hash)
    Options: ClassVar[type[DataOptions]] = FaceOptions

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        """Every labelled image with its split; raises ``self.missing(folder, what)`` when the layout is
        wrong and ``self.option_error(...)`` when an option does not fit this folder."""
        raise NotImplementedError

    def layout_found(self, folder: Path) -> str:
        """Which accepted layout ``folder`` has, in words (datasets with several layouts override)."""
        return self.layout

    def rule(self) -> SplitRule | None:
        """The rule ``split_rule_file`` holds (loaded once), or None without one."""
        return _load_rule(self.split_rule_file) if self.split_rule_file else None

    def assign_split(self, key: str) -> str:
        """The split (``train`` or ``test``) the rule file gives ``key`` (a subject id, a photo name)."""
        rule = self.rule()
        if rule is None:
            raise DabenchError(f"dataset '{self.id}' has no split_rule_file; set it to a split rule YAML "
                               "shipped beside the plugin (docs/datasets.md, Split rules) before assigning splits")
        return rule.assign(key)

    def split_hash(self) -> str | None:
        rule = self.rule()
        if rule is not None:
            return rule.digest
        return official_split_hash(self.id, self.official_split) if self.official_split else None

    def split_identity(self, options: DataOptions) -> str:
        """The rule file (name, version, sha256) or the official split's hash; dedup is named because it
        moves files out of train."""
        rule = self.rule()
        if rule is not None:
            assert self.split_rule_file is not None
            identity = f"rule {self.split_rule_file.name} ({rule.name} v{rule.version}) sha256:{rule.digest}"
        elif self.official_split:
            identity = f"official split sha256:{self.split_hash()}"
        else:
            identity = super().split_identity(options)
        if getattr(options, "dedup", False):
            identity += ", cross-split duplicates and near-duplicates dropped"
        return identity

    def crop_spec(self, options: FaceOptions, folder: Path) -> CropSpec:
        """How ``folder``'s items are cropped: ``options.crop`` with ``fixed_crop`` (override when the fixed
        box fits one of several layouts only)."""
        return CropSpec(options.crop, self.fixed_crop)

    def build(self, folder: Path | None, options: FaceOptions) -> dict[str, Split]:
        assert folder is not None
        items = self.items(folder, options)
        refuse_unknown_splits(self.id, self.splits, items, folder)
        images, hashes = decode_items(items, options.resolution, self.mode, self.crop_spec(options, folder),
                                      desc=f"prepare {self.id}", dataset=self.id)
        keep = np.ones(len(items), dtype=bool)
        if options.dedup:  # exact copies by their bytes, then near copies by their pixels
            keep = dedup_mask(items, hashes) & near_duplicate_mask(images, [item.split for item in items])
        if options.rgb and images.shape[3] == 1:
            images = np.repeat(images, 3, axis=3)
        splits = {}
        split_of = np.array([item.split for item in items])
        labels = np.array([item.label for item in items], dtype=np.int64)
        for name in self.splits:
            chosen = np.flatnonzero((split_of == name) & keep)
            splits[name] = Split(np.ascontiguousarray(images[chosen]), labels[chosen])
        return splits


NativeDataset = FolderDataset  # its former name


def refuse_unknown_splits(dataset_id: str, splits: tuple[str, ...], items: list[ImageItem], folder: Path) -> None:
    """One DabenchError, before any image is decoded, when items carry a split that is not one of ``splits``
    (each such split with its count and an example item): build() would otherwise drop them without a word."""
    unknown: dict[object, list[ImageItem]] = {}
    for item in items:
        if item.split not in splits:
            unknown.setdefault(item.split, []).append(item)
    if unknown:
        found = "; ".join(f"split {name!r}: {len(of)} item(s), e.g. {of[0].name!r}" for name, of in unknown.items())
        raise DabenchError(f"dataset '{dataset_id}' in {folder}: items() gave splits that are not among its splits "
                           f"({', '.join(splits)}): {found}. Nothing was prepared. Give each item one of "
                           f"{', '.join(splits)} in items() (a validation set usually joins train), or declare "
                           f"the split in the dataset's splits")


def dedup_mask(items: list[ImageItem], hashes: list[str]) -> np.ndarray:
    """False for each copy of a file whose bytes also occur in a later split (train < val < test)."""
    rank = {name: i for i, name in enumerate(SPLIT_PRIORITY)}
    latest: dict[str, int] = {}
    for item, digest in zip(items, hashes):
        latest[digest] = max(latest.get(digest, -1), rank.get(item.split, len(rank)))
    return np.array([rank.get(item.split, len(rank)) >= latest[digest] for item, digest in zip(items, hashes)])


@functools.cache
def _load_rule(path: Path) -> SplitRule:
    return SplitRule.load(path)
