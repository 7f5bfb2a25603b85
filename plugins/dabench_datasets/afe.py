"""AFE (Asian Facial Expression, the CD-FER benchmark's AFED): space-separated lists
``annos/TrainTest/{Train,Test}.csv`` of 'path left top right bottom emotion', images under ``src/image/``."""

from __future__ import annotations

import re
from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem
from dabench.labels import CANONICAL_CLASSES

LIST_DIR = Path("annos/TrainTest")
IMAGE_DIR = Path("src/image")
LISTS = {"Train.csv": "train", "Test.csv": "test"}
FIELDS = ("path", "left", "top", "right", "bottom", "emotion")
NUMBER = re.compile(r"[-+.0-9eE]+")  # what a header's words are not
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "neutral", 5: "sadness", 6: "surprise"}


def parse_list(path: Path, shown: str = "") -> list[tuple[str, tuple[float, float, float, float], int]]:
    """(path under src/image/, box, code) per line; a first line whose five number fields are all words
    is a header and skipped. A bad field is a FieldError (a ValueError) naming ``shown`` and the line."""
    return [(relative, box, code) for _, relative, box, code in _rows(path, shown or path.name)]


def _rows(path: Path, shown: str) -> list[tuple[fields.Line, str, tuple[float, float, float, float], int]]:
    rows = []
    for line, parts in fields.split_lines(path, shown):
        line.count(parts, FIELDS)
        if line.number == 1 and not any(NUMBER.fullmatch(value) for value in parts[1:]):
            continue  # a header
        relative = parts[0].removeprefix("./").removeprefix(f"{IMAGE_DIR}/")
        relative = line.path(relative, "path")
        left, top, right, bottom = (line.coordinate(parts[i], FIELDS[i]) for i in (1, 2, 3, 4))
        box = line.box(left, top, right, bottom)
        rows.append((line, relative, box, line.code(parts[5], "emotion", CODES)))
    if not rows:
        raise fields.no_rows(shown, "'p1/a.jpg 30 20 110 100 3'")
    return rows


class Afe(FolderDataset):
    id = "afe"
    classes = CANONICAL_CLASSES
    description = "AFE/AFED: Asian faces in 7 classes, cropped by their boxes; official Train / Test lists"
    layout = (f"{LIST_DIR}/Train.csv and {LIST_DIR}/Test.csv (space-separated 'path left top right bottom "
              f"emotion', codes 0 anger, 1 disgust, 2 fear, 3 happy, 4 neutral, 5 sad, 6 surprise) and the "
              f"images under {IMAGE_DIR}/")
    request = "https://github.com/HCPLab-SYSU/CD-FER-Benchmark (AFE database user agreement)"
    official_split = "annos/TrainTest/Train.csv -> train, Test.csv -> test"
    version = "1"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        image_dir = folder / IMAGE_DIR
        self.require_label_files(folder, LIST_DIR, LISTS, image_dir)
        items, absent = [], []
        for list_name, split in LISTS.items():
            try:
                rows = _rows(folder / LIST_DIR / list_name, f"{LIST_DIR}/{list_name}")
            except fields.FieldError as exc:
                raise self.missing(folder, str(exc)) from None
            for line, relative, box, code in rows:
                path = image_dir / relative
                if not path.is_file():
                    absent.append((line, relative))
                items.append(ImageItem(relative, split, CANONICAL_CLASSES.index(CODES[code]), path, box=box))
        if absent:
            raise self.missing(folder, f"the lists name {len(absent)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(name for _, name in absent[:3])}); {absent[0][0]} "
                                       f"names {absent[0][1]}")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Afe())
