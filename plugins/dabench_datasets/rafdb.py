"""RAF-DB (basic): the official partition/label list and the aligned 100x100 faces (or the originals)."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem, list_images
from dabench.labels import CANONICAL_CLASSES

LABEL_FILE = Path("EmoLabel/list_patition_label.txt")  # sic: the release spells it "patition"
# RAF-DB codes 1..7 are the canonical order: surprise, fear, disgust, happiness, sadness, anger, neutral.
CODES = {code: name for code, name in enumerate(CANONICAL_CLASSES, start=1)}
BOX_FIELDS = ("x1", "y1", "x2", "y2")
SPLIT_PREFIXES = {"train_": "train", "test_": "test"}


def parse_label_file(path: Path, shown: str = "") -> list[tuple[str, str, int]]:
    """(image name as listed, split, 1-based code) per line of ``list_patition_label.txt``.

    A malformed line, an unknown code or an unknown prefix is a FieldError (a ValueError) naming ``shown``
    (default: the file's name) and the line.
    """
    return [(name, split, code) for _, name, split, code in _rows(path, shown or path.name)]


def _rows(path: Path, shown: str) -> list[tuple[fields.Line, str, str, int]]:
    rows = []
    for line, parts in fields.split_lines(path, shown):
        line.count(parts, ("image", "code"))
        name = line.path(parts[0], "image", plain=True)
        code = line.code(parts[1], "code", CODES)
        split = next((s for prefix, s in SPLIT_PREFIXES.items() if name.startswith(prefix)), None)
        if split is None:
            raise line.error(f"image {name!r} starts with neither train_ nor test_")
        rows.append((line, name, split, code))
    if not rows:
        raise fields.no_rows(shown, "'train_00001.jpg 5'")
    return rows


def read_box(path: Path, shown: str = "") -> tuple[float, float, float, float] | None:
    """``Annotation/boundingbox/<stem>_boundingbox.txt``: 'x1 y1 x2 y2' of the face in the original image
    (values after the fourth are not read); None when there is no such file. A FieldError names a bad one."""
    if not path.is_file():
        return None
    shown = shown or path.name
    for line, parts in fields.split_lines(path, shown):
        line.count(parts, BOX_FIELDS, at_least=True)
        left, top, right, bottom = (line.coordinate(text, name) for text, name in zip(parts, BOX_FIELDS))
        return line.box(left, top, right, bottom)
    raise fields.FieldError(f"{shown} is empty; expected one line 'x1 y1 x2 y2'")


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
            rows = _rows(label_path, str(LABEL_FILE))
        except fields.FieldError as exc:
            raise self.missing(folder, str(exc)) from None
        if aligned.is_dir():
            image_dir, name_of = aligned, lambda listed: listed.replace(".jpg", "_aligned.jpg")
        elif original.is_dir():
            image_dir, name_of = original, lambda listed: listed
        else:
            raise self.missing(folder, "neither Image/aligned/ nor Image/original/ found")
        present = {path.name: path for path in list_images(image_dir)}
        absent = [(line, name_of(listed)) for line, listed, _, _ in rows if name_of(listed) not in present]
        if absent:
            raise self.missing(folder, f"{LABEL_FILE} names {len(absent)} image(s) absent from "
                                       f"{image_dir.relative_to(folder)}/ (first: "
                                       f"{', '.join(name for _, name in absent[:3])}); {absent[0][0]} names "
                                       f"{absent[0][1]}")
        boxes = Path("Annotation") / "boundingbox"
        items = []
        for _, listed, split, code in rows:
            box = None
            if image_dir == original:
                box_file = boxes / listed.replace(".jpg", "_boundingbox.txt")
                try:
                    box = read_box(folder / box_file, box_file.as_posix())
                except fields.FieldError as exc:
                    raise self.missing(folder, str(exc)) from None
            items.append(ImageItem(name_of(listed), split, CANONICAL_CLASSES.index(CODES[code]),
                                   present[name_of(listed)], box=box, uncropped=image_dir == original))
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(RafDb())

