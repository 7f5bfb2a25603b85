"""AFE (Asian Facial Expression, the CD-FER benchmark's AFED): space-separated lists
``annos/TrainTest/{Train,Test}.csv`` of 'path left top right bottom emotion', images under ``src/image/``."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem
from dabench.labels import CANONICAL_CLASSES

LIST_DIR = Path("annos/TrainTest")
IMAGE_DIR = Path("src/image")
LISTS = {"Train.csv": "train", "Test.csv": "test"}
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "neutral", 5: "sadness", 6: "surprise"}


def parse_list(path: Path) -> list[tuple[str, tuple[float, float, float, float], int]]:
    """(path under src/image/, box, code) per line; a header line (non-numeric fields) is skipped."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise ValueError(f"line {number} of {path.name} has {len(parts)} fields, expected 6 "
                             "(path left top right bottom emotion, space-separated)")
        try:
            left, top, right, bottom = (float(v) for v in parts[1:5])
            code = int(parts[5])
        except ValueError:
            if number == 1:
                continue  # a header
            raise ValueError(f"line {number} of {path.name} is not numeric where expected: {line!r}") from None
        if code not in CODES:
            raise ValueError(f"unknown label code {code} at line {number} of {path.name}; codes are "
                             + ", ".join(f"{c} {n}" for c, n in CODES.items()))
        relative = parts[0].removeprefix("./").removeprefix(f"{IMAGE_DIR}/")
        rows.append((relative, (left, top, right, bottom), code))
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
                rows = parse_list(folder / LIST_DIR / list_name)
            except ValueError as exc:
                raise self.missing(folder, str(exc)) from None
            for relative, box, code in rows:
                path = image_dir / relative
                if not path.is_file():
                    absent.append(relative)
                items.append(ImageItem(relative, split, CANONICAL_CLASSES.index(CODES[code]), path, box=box))
        if absent:
            raise self.missing(folder, f"the lists name {len(absent)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(absent[:3])})")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Afe())
