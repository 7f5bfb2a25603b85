"""AffectNet (manually annotated part): ``Manually_Annotated_file_lists/{training,validation}.csv``, faces
cropped by face_x/y/width/height from ``Manually_Annotated_Images/``. Codes 8-10 (none, uncertain,
non-face) are dropped; contempt (7) is kept as an extra class that pairs drop."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem
from dabench.labels import CANONICAL_CLASSES

LIST_DIR = Path("Manually_Annotated_file_lists")
IMAGE_DIR = Path("Manually_Annotated_Images")
LISTS = {"training.csv": "train", "validation.csv": "test"}
HEADER = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
          "expression", "valence", "arousal")
CODES = {0: "neutral", 1: "happiness", 2: "sadness", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger",
         7: "contempt"}
NOT_EXPRESSIONS = {8, 9, 10}  # none, uncertain, non-face
CLASSES = CANONICAL_CLASSES + ("contempt",)


def parse_list(path: Path) -> list[tuple[str, tuple[float, float, float, float], int]]:
    """(subDirectory_filePath, box, code) per row with an expression code; the header is optional
    (the release's validation.csv has none)."""
    rows = []
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and row[0] == HEADER[0]):
                continue
            if len(row) < 7:
                raise ValueError(f"line {number} of {path.name} has {len(row)} fields, expected {len(HEADER)}")
            try:
                x, y, width, height = (float(v) for v in row[1:5])
                code = int(row[6])
            except ValueError:
                raise ValueError(f"line {number} of {path.name} is not numeric where expected") from None
            if code in NOT_EXPRESSIONS:
                continue
            if code not in CODES:
                raise ValueError(f"unknown label code {code} at line {number} of {path.name}; codes are 0-7 "
                                 "(neutral, happy, sad, surprise, fear, disgust, anger, contempt) and 8-10 (dropped)")
            rows.append((row[0], (x, y, x + width, y + height), code))
    return rows


class AffectNet(FolderDataset):
    id = "affectnet"
    classes = CLASSES
    description = "AffectNet (manual): 7 basic classes + contempt, cropped by the face boxes; training / validation"
    layout = (f"{LIST_DIR}/training.csv and validation.csv (columns " + ",".join(HEADER) + "; codes 0 neutral, "
              f"1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt, 8-10 dropped) and the images "
              f"{IMAGE_DIR}/<subDirectory_filePath>")
    request = "http://mohammadmahoor.com/affectnet/ (AffectNet agreement, University of Denver)"
    official_split = "training.csv -> train, validation.csv -> test"
    version = "1"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        image_dir = folder / IMAGE_DIR
        self.require_label_files(folder, LIST_DIR, LISTS, image_dir)
        listing: dict[str, set[str]] = {}  # one scandir per subdirectory instead of a stat per image
        items, absent = [], []
        for list_name, split in LISTS.items():
            try:
                rows = parse_list(folder / LIST_DIR / list_name)
            except ValueError as exc:
                raise self.missing(folder, str(exc)) from None
            for relative, box, code in rows:
                sub, _, name = relative.rpartition("/")
                if sub not in listing:
                    directory = image_dir / sub
                    listing[sub] = set(os.listdir(directory)) if directory.is_dir() else set()
                if name not in listing[sub]:
                    absent.append(relative)
                items.append(ImageItem(relative, split, CLASSES.index(CODES[code]), image_dir / relative, box=box))
        if absent:
            raise self.missing(folder, f"the lists name {len(absent)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(absent[:3])})")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(AffectNet())
