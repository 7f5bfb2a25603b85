"""``dabench data check``: layout, counts per split and class, unreadable files, exact duplicates
(within and across splits, and with conflicting labels), and the class space of a dataset read from a
folder: file by file for a FolderDataset, from its built splits for any other Dataset."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from dabench.data.dataset import Dataset
from dabench.data.folder import FolderDataset
from dabench.data.images import ImageItem, content_hash, item_bytes, open_image, parallel_map
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
    groups: list[list[int]] = field(default_factory=list)  # item indices sharing one content hash
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
        lines.append(f"unreadable or truncated files: {len(self.unreadable)}")
        lines += [f"  {name}: {reason}" for name, reason in self.unreadable[:SHOWN]]
        if len(self.unreadable) > SHOWN:
            lines.append(f"  ... and {len(self.unreadable) - SHOWN} more")
        lines.append(f"blank (single-value) images: {self.blank}")
        crossing, conflicting = self.crossing(), self.conflicting()
        lines.append(f"exact duplicates (sha256 of {self.hashed}): {len(self.groups):,} groups, "
                     f"{self.surplus:,} surplus files")
        if self.groups:
            by_splits = Counter(" + ".join(sorted({self.items[i].split for i in g})) for g in self.groups)
            lines += [f"  {splits}: {count:,} groups" for splits, count in sorted(by_splits.items())]
            lines.append(f"warning: {len(crossing):,} duplicate groups span more than one split "
                         f"(leakage; `data prepare --set dedup=true` drops the train/val copies)")
            lines.append(f"warning: {len(conflicting):,} duplicate groups carry conflicting labels")
            for group in conflicting[:3]:
                shown = ", ".join(f"{self.items[i].split}/{names[self.items[i].label]}/{self.items[i].name}"
                                  for i in group[:3])
                lines.append(f"  e.g. {shown}" + (f" (+{len(group) - 3} more)" if len(group) > 3 else ""))
        return lines


def check_dataset(dataset: Dataset, folder: Path | None, workers: int | None = None) -> CheckReport:
    """Read every file of ``dataset`` under ``folder``; layout errors raise DabenchError. A Dataset that is
    no FolderDataset lists no files: its splits are built at its native size and checked instead."""
    if dataset.generated or folder is None:
        raise DabenchError(f"dataset '{dataset.id}' is generated from code, not read from a folder; "
                           "`data check` has nothing to check")
    if not isinstance(dataset, FolderDataset):
        return check_built(dataset, folder)
    items = dataset.items(folder, dataset.options({}))
    report = CheckReport(dataset.id, folder, dataset.layout_found(folder), tuple(dataset.classes),
                         tuple(dataset.splits), items=items)
    for split in dataset.splits:
        report.counts[split] = Counter()
    for item in items:
        report.counts.setdefault(item.split, Counter())[item.label] += 1

    def scan(item: ImageItem) -> tuple[str, str, bool]:
        try:
            data = item_bytes(item)
        except OSError as exc:
            return "", f"cannot read: {exc.strerror or exc}", False
        digest = content_hash(item, data)
        try:
            image = np.asarray(open_image(item, data, dataset.mode))
        except (OSError, ValueError, SyntaxError) as exc:
            return digest, f"cannot decode: {exc}", False
        return digest, "", bool(image.size) and image.min() == image.max()

    scanned = parallel_map(scan, items, f"check {dataset.id}", workers)
    by_hash: dict[str, list[int]] = defaultdict(list)
    for index, (digest, problem, blank) in enumerate(scanned):
        if problem:
            report.unreadable.append((str(items[index].path or items[index].name), problem))
        if digest:
            by_hash[digest].append(index)
        report.blank += blank
    report.groups = [group for group in by_hash.values() if len(group) > 1]
    return report


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
    return report
