"""``dabench data check``: layout, counts per split and class, unreadable files, exact duplicates
(within and across splits, and with conflicting labels), and the class space of a dataset read from a
folder: file by file for a FolderDataset, from its built splits for any other Dataset."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from dabench.data.dataset import Dataset
from dabench.data.folder import FolderDataset, refuse_unknown_splits
from dabench.data.images import ImageItem, content_hash, crop_and_resize, item_bytes, open_image_noted, parallel_map
from dabench.data.near_duplicates import THRESHOLD, THUMBNAIL, NearPair, cross_split_pairs, thumbnails
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES

SHOWN = 10  # problems listed by name; the rest are counted


@dataclass
class CheckReport:
    dataset: str
    folder: Path
    layout: str
    classes: tuple[str, ...]
    splits: tuple[str, ...]
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> class index -> count
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    blank: int = 0  # readable images of one flat colour
    almost_blank: list[int] = field(default_factory=list)  # items whose pixels are >= 90% one value, not blank
    conversions: dict[str, list[int]] = field(default_factory=dict)  # what decoding did -> items it did it to
    groups: list[list[int]] = field(default_factory=list)  # item indices sharing one content hash
    near: list[NearPair] = field(default_factory=list)  # near-identical faces across splits
    items: list[ImageItem] = field(default_factory=list)
    hashed: str = "the file bytes"  # what the duplicate search compares
    note: str = ""  # how the check read the dataset, when not file by file

    @property
    def surplus(self) -> int:
        return sum(len(group) - 1 for group in self.groups)

    def crossing(self) -> list[list[int]]:
        return [g for g in self.groups if len({self.items[i].split for i in g}) > 1]

    def conflicting(self) -> list[list[int]]:
        return [g for g in self.groups if len({self.items[i].label for i in g}) > 1]

    def lines(self) -> list[str]:
        lines = [f"{self.dataset}: layout found in {self.folder}: {self.layout}", *([self.note] if self.note else []), ""]
        names = [name for name in self.classes]
        rows = [[split, *(self.counts[split][i] for i in range(len(names))), sum(self.counts[split].values())]
                for split in self.splits]
        rows.append(["all", *(sum(self.counts[s][i] for s in self.splits) for i in range(len(names))),
                     len(self.items)])
        lines += tabulate(rows, headers=["split", *names, "total"], tablefmt="simple").splitlines()
        canonical = [n for n in self.classes if n in CANONICAL_CLASSES]
        extras = [n for n in self.classes if n not in CANONICAL_CLASSES]
        absent = [n for n in CANONICAL_CLASSES if n not in self.classes]
        empty = [n for i, n in enumerate(names) if not any(self.counts[s][i] for s in self.splits)]
        lines += ["", f"class space: {len(self.classes)} classes; canonical {len(canonical)} of "
                      f"{len(CANONICAL_CLASSES)} ({', '.join(canonical)}); extras: {', '.join(extras) or 'none'} "
                      f"(dropped by pairs); canonical classes absent: {', '.join(absent) or 'none'}"]
        if empty:
            lines.append(f"warning: class(es) with no images: {', '.join(empty)}")
        for split in self.splits:
            if sum(self.counts[split].values()):
                missing = [n for i, n in enumerate(names) if n not in empty and not self.counts[split][i]]
                if missing:
                    lines.append(f"warning: {split} has no images of {', '.join(missing)}")
        lines.append(f"unreadable or truncated files: {len(self.unreadable)}")
        lines += [f"  {name}: {reason}" for name, reason in self.unreadable[:SHOWN]]
        if len(self.unreadable) > SHOWN:
            lines.append(f"  ... and {len(self.unreadable) - SHOWN} more")
        for what, which in sorted(self.conversions.items()):
            lines.append(f"converted on decoding: {what}: {_count(len(which), 'image')} "
                         f"(e.g. {', '.join(self._name(i) for i in which[:3])})")
        lines.append(f"blank (single-value) images: {self.blank}")
        if self.almost_blank:
            lines.append(f"warning: {_count(len(self.almost_blank), 'image')} almost one value (>= 90% of pixels "
                         f"equal; e.g. {', '.join(self._name(i) for i in self.almost_blank[:3])})")
        crossing, conflicting = self.crossing(), self.conflicting()
        lines.append(f"exact duplicates (sha256 of {self.hashed}): {_count(len(self.groups), 'group')}, "
                     f"{_count(self.surplus, 'surplus file')}")
        if self.groups:
            by_splits = Counter(" + ".join(sorted({self.items[i].split for i in g})) for g in self.groups)
            lines += [f"  {splits}: {_count(count, 'group')}" for splits, count in sorted(by_splits.items())]
        if crossing:
            lines.append(f"warning: {_count(len(crossing), 'duplicate group')} {_verb(len(crossing), 'span')} more than one split "
                         f"(leakage; `data prepare --set dedup=true` drops the train/val copies)")
        if conflicting:
            lines.append(f"warning: {_count(len(conflicting), 'duplicate group')} {_verb(len(conflicting), 'carry')} "
                         "conflicting labels")
            for group in conflicting[:3]:
                shown = ", ".join(self._name(i) for i in group[:3])
                lines.append(f"  e.g. {shown}" + (f" (+{len(group) - 3} more)" if len(group) > 3 else ""))
        lines += self._near_lines()
        return lines

    def _near_lines(self) -> list[str]:
        differing = [pair for pair in self.near if self.items[pair.later].label != self.items[pair.earlier].label]
        lines = [f"near-duplicates across splits ({THUMBNAIL} px gray thumbnails, correlation >= {THRESHOLD}): "
                 f"{_count(len(self.near), 'image')} of a later split with a near-identical copy in an earlier one, "
                 f"{len(differing)} of them labelled differently"]
        if self.near:
            by_splits = Counter(f"{self.items[p.later].split} ~ {self.items[p.earlier].split}" for p in self.near)
            lines += [f"  {splits}: {_count(count, 'image')}" for splits, count in sorted(by_splits.items())]
            for pair in (differing or self.near)[:3]:
                lines.append(f"  e.g. {self._name(pair.later)} ~ {self._name(pair.earlier)} ({pair.similarity:.3f})")
            lines.append("  (`data prepare --set dedup=true` drops the earlier copies)")
        return lines

    def _name(self, index: int) -> str:
        item = self.items[index]
        return f"{item.split}/{self.classes[item.label]}/{item.name}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _verb(number: int, verb: str) -> str:
    """The verb agreeing with ``number`` of subjects: 1 group spans, 2 groups span."""
    if number != 1:
        return verb
    return verb[:-1] + "ies" if verb.endswith("y") else verb + "s"


def check_dataset(dataset: Dataset, folder: Path | None, workers: int | None = None) -> CheckReport:
    """Read every file of ``dataset`` under ``folder``; layout errors raise DabenchError. A Dataset that is
    no FolderDataset lists no files: its splits are built at its native size and checked instead."""
    if dataset.generated or folder is None:
        raise DabenchError(f"dataset '{dataset.id}' is generated from code, not read from a folder; "
                           "`data check` has nothing to check")
    if not isinstance(dataset, FolderDataset):
        return check_built(dataset, folder)
    items = dataset.items(folder, dataset.options({}))
    refuse_unknown_splits(dataset.id, tuple(dataset.splits), items, folder)  # as build() does: a layout error
    report = CheckReport(dataset.id, folder, dataset.layout_found(folder), tuple(dataset.classes),
                         tuple(dataset.splits), items=items)
    for split in dataset.splits:
        report.counts[split] = Counter()
    for item in items:
        report.counts.setdefault(item.split, Counter())[item.label] += 1

    crop = dataset.crop_spec(dataset.options({}), folder)

    def scan(item: ImageItem) -> _Scanned:
        try:
            data = item_bytes(item)
        except OSError as exc:
            return _Scanned(problem=f"cannot read: {exc.strerror or exc}")
        digest = content_hash(item, data)
        try:
            image, conversion = open_image_noted(item, data, dataset.mode)
        except (OSError, ValueError, SyntaxError) as exc:
            return _Scanned(digest, f"cannot decode: {exc}")
        try:
            face = crop_and_resize(item, image, THUMBNAIL, crop)
        except (OSError, ValueError) as exc:
            return _Scanned(digest, f"cannot crop: {exc}")
        pixels = np.asarray(image)
        share = np.bincount(pixels.reshape(-1)).max() / max(pixels.size, 1) if pixels.size else 0.0
        return _Scanned(digest, "", conversion, face, bool(pixels.size) and pixels.min() == pixels.max(), share)

    scanned = parallel_map(scan, items, f"check {dataset.id}", workers)
    by_hash: dict[str, list[int]] = defaultdict(list)
    faces = []
    for index, found in enumerate(scanned):
        if found.problem:
            report.unreadable.append((str(items[index].path or items[index].name), found.problem))
        if found.digest:
            by_hash[found.digest].append(index)
        if found.conversion:
            report.conversions.setdefault(re.sub(r"^\d+ ", "", found.conversion), []).append(index)
        report.blank += found.blank
        if not found.blank and found.top_share >= ALMOST_ONE_VALUE:
            report.almost_blank.append(index)
        if found.face is not None:
            faces.append(index)
    report.groups = [group for group in by_hash.values() if len(group) > 1]
    if faces:
        thumbs = thumbnails(np.stack([scanned[i].face for i in faces]))
        report.near = [NearPair(faces[p.later], faces[p.earlier], p.similarity)
                       for p in cross_split_pairs(thumbs, [items[i].split for i in faces])]
    return report


ALMOST_ONE_VALUE = 0.9  # share of an image's pixels at its most common value that data check warns about


@dataclass
class _Scanned:
    """What reading one file found."""

    digest: str = ""
    problem: str = ""
    conversion: str = ""  # what decoding changed about its pixels' meaning
    face: np.ndarray | None = None  # the cropped face at THUMBNAIL px
    blank: bool = False
    top_share: float = 0.0  # the share of its pixels at its most common value


def check_built(dataset: Dataset, folder: Path) -> CheckReport:
    """The check of a Dataset that only implements ``build``: its splits, built at its native size,
    stand in for the files (duplicates are then equal prepared images; an unreadable file fails the build)."""
    options = dataset.options({"resolution": dataset.native_size})
    splits = dataset.build(folder, options)
    items = [ImageItem(f"#{index}", split, int(label), pixels=image)
             for split, data in splits.items() for index, (image, label) in enumerate(zip(data.images, data.labels))]
    report = CheckReport(dataset.id, folder, dataset.layout, tuple(dataset.classes), tuple(dataset.splits),
                         items=items, hashed=f"the prepared pixels at {options.resolution} px",
                         note=(f"checked from its splits as build() returns them at {options.resolution} px "
                               "(a FolderDataset's items() would let the check read each file)"))
    for split in dataset.splits:
        report.counts[split] = Counter()
    by_hash: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        report.counts.setdefault(item.split, Counter())[item.label] += 1
        assert item.pixels is not None
        report.blank += bool(item.pixels.size) and item.pixels.min() == item.pixels.max()
        by_hash[content_hash(item, item_bytes(item))].append(index)
    report.groups = [group for group in by_hash.values() if len(group) > 1]
    if items:
        thumbs = thumbnails(np.concatenate([split.images for split in splits.values()]))  # in the items' order
        report.near = cross_split_pairs(thumbs, [item.split for item in items])
    return report
