"""AffectNet (manually annotated part): ``Manually_Annotated_file_lists/{training,validation}.csv``, faces
cropped by face_x/y/width/height from ``Manually_Annotated_Images/``. Codes 8-10 (none, uncertain,
non-face) are dropped; contempt (7) is kept as an extra class that pairs drop."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
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
ALL_CODES = {**CODES, 8: "none (dropped)", 9: "uncertain (dropped)", 10: "non-face (dropped)"}
CLASSES = CANONICAL_CLASSES + ("contempt",)


def parse_list(path: Path, shown: str = "") -> list[tuple[str, tuple[float, float, float, float], int]]:
    """(subDirectory_filePath, box, code) per row with an expression code; the header is optional (the
    release's validation.csv has none). Landmarks, valence and arousal are not read. A bad field is a
    FieldError (a ValueError) naming ``shown`` (default: the file's name) and the line."""
    return [(relative, box, code) for _, relative, box, code in _rows(path, shown or path.name)]


def _rows(path: Path, shown: str) -> list[tuple[fields.Line, str, tuple[float, float, float, float], int]]:
    rows, listed = [], 0
    for line, row in fields.csv_rows(path, shown):
        if line.number == 1 and row[0] == HEADER[0]:
            continue
        listed += 1
        line.count(row, HEADER[:7], at_least=True)
        relative = line.path(row[0], HEADER[0])
        x, y = line.coordinate(row[1], HEADER[1]), line.coordinate(row[2], HEADER[2])
        width, height = (line.decimal(row[i], HEADER[i], high=fields.MAX_SIDE, meaning="a size in px") for i in (3, 4))
        code = line.code(row[6], HEADER[6], ALL_CODES)
        if code in NOT_EXPRESSIONS:
            continue
        rows.append((line, relative, line.box(x, y, x + width, y + height), code))
    if not listed:
        raise fields.no_rows(shown, "'1/a.jpg,20,10,80,80,<landmarks>,1,0.5,-0.2'")
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
                rows = _rows(folder / LIST_DIR / list_name, f"{LIST_DIR}/{list_name}")
                for line, relative, box, code in rows:
                    sub, _, name = relative.rpartition("/")
                    if sub not in listing:
                        directory = image_dir / sub
                        listing[sub] = (fields.names_in(directory, f"{IMAGE_DIR}/{sub}") if directory.is_dir()
                                        else set())
                    if name not in listing[sub]:
                        absent.append((line, relative))
                    items.append(ImageItem(relative, split, CLASSES.index(CODES[code]), image_dir / relative, box=box))
            except fields.FieldError as exc:
                raise self.missing(folder, str(exc)) from None
        if absent:
            raise self.missing(folder, f"the lists name {len(absent)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(name for _, name in absent[:3])}); {absent[0][0]} "
                                       f"names {absent[0][1]}")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(AffectNet())
