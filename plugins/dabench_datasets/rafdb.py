"""RAF-DB (basic): the official partition/label list and the aligned 100x100 faces (or the originals)."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem, list_images
from dabench.labels import CANONICAL_CLASSES

LABEL_FILE = Path("EmoLabel/list_patition_label.txt")  # sic: the release spells it "patition"
# RAF-DB codes 1..7 are the canonical order: surprise, fear, disgust, happiness, sadness, anger, neutral.
CODES = {code: name for code, name in enumerate(CANONICAL_CLASSES, start=1)}
SPLIT_PREFIXES = {"train_": "train", "test_": "test"}


def parse_label_file(path: Path) -> list[tuple[str, str, int]]:
    """(image name as listed, split, 1-based code) per line of ``list_patition_label.txt``.

    Raises ValueError naming the line for a malformed line, an unknown code or an unknown prefix.
    """
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"line {number} of {path.name} is {line!r}, expected 'train_00001.jpg 5'")
        name, code = parts[0], int(parts[1])
        if code not in CODES:
            raise ValueError(f"unknown label code {code} at line {number} of {path.name}; RAF-DB codes are "
                             + ", ".join(f"{c} {n}" for c, n in CODES.items()))
        split = next((s for prefix, s in SPLIT_PREFIXES.items() if name.startswith(prefix)), None)
        if split is None:
            raise ValueError(f"line {number} of {path.name}: image {name!r} starts with neither train_ nor test_")
        rows.append((name, split, code))
    return rows


def read_box(path: Path) -> tuple[float, float, float, float] | None:
    """``Annotation/boundingbox/<stem>_boundingbox.txt``: 'x1 y1 x2 y2' of the face in the original image."""
    if not path.is_file():
        return None
    values = [float(v) for v in path.read_text().split()[:4]]
    return (values[0], values[1], values[2], values[3]) if len(values) == 4 else None


class RafDb(FolderDataset):
    id = "rafdb"
    classes = CANONICAL_CLASSES
    description = "RAF-DB basic: 15,339 in-the-wild faces, 7 classes, official train/test (12,271 / 3,068)"
    layout = (f"{LABEL_FILE} (lines 'train_00001.jpg 5', codes 1 surprise .. 7 neutral) and the images "
              "Image/aligned/train_00001_aligned.jpg (or Image/original/train_00001.jpg, cropped by "
              "Annotation/boundingbox/ when present)")
    request = "http://www.whdeng.cn/RAF/model1.html (Shan Li and Weihong Deng, BUPT)"
    official_split = "train_ and test_ file-name prefixes of EmoLabel/list_patition_label.txt"
    version = "1"

    def layout_found(self, folder: Path) -> str:
        kind = "aligned" if (folder / "Image" / "aligned").is_dir() else "original"
        return f"{LABEL_FILE} with Image/{kind}/"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        label_path = folder / LABEL_FILE
        aligned, original = folder / "Image" / "aligned", folder / "Image" / "original"
        if not label_path.is_file():
            found = "images are present, " if aligned.is_dir() or original.is_dir() else ""
            raise self.missing(folder, f"label file {LABEL_FILE} not found ({found}no labels)")
        try:
            rows = parse_label_file(label_path)
        except ValueError as exc:
            raise self.missing(folder, str(exc)) from None
        if aligned.is_dir():
            image_dir, name_of = aligned, lambda listed: listed.replace(".jpg", "_aligned.jpg")
        elif original.is_dir():
            image_dir, name_of = original, lambda listed: listed
        else:
            raise self.missing(folder, "neither Image/aligned/ nor Image/original/ found")
        present = {path.name: path for path in list_images(image_dir)}
        absent = [name_of(listed) for listed, _, _ in rows if name_of(listed) not in present]
        if absent:
            raise self.missing(folder, f"{LABEL_FILE} names {len(absent)} image(s) absent from "
                                       f"{image_dir.relative_to(folder)}/ (first: {', '.join(absent[:3])})")
        boxes = folder / "Annotation" / "boundingbox"
        items = []
        for listed, split, code in rows:
            box = None
            if image_dir == original:
                box = read_box(boxes / listed.replace(".jpg", "_boundingbox.txt"))
            items.append(ImageItem(name_of(listed), split, CANONICAL_CLASSES.index(CODES[code]),
                                   present[name_of(listed)], box=box, uncropped=image_dir == original))
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(RafDb())

