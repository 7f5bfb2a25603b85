"""FER+ (Barsoum et al., ICMI 2016; github.com/microsoft/FERPlus): FER2013's 48x48 faces relabelled by
10 taggers. ``FER2013{Train,Valid,Test}/label.csv`` holds vote counts beside the ``fer*.png`` files;
a label rule turns the votes into one class (contempt is kept as an extra class that pairs drop)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem
from dabench.labels import CANONICAL_CLASSES

LABEL_FILE = "label.csv"
SPLIT_DIRS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
# label.csv's vote columns, in file order; the last two are not expressions ("NF": not a face).
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "NF")
NOT_EXPRESSIONS = ("unknown", "NF")
CLASSES = CANONICAL_CLASSES + ("contempt",)
# Rows are image,box,<10 votes> (the release's label.csv files) or image,<10 votes> (what some
# versions of the FERPlus repository's src/generate_training_data.py write).
FIELDS_WITH_BOX, FIELDS_WITHOUT_BOX = 2 + len(VOTE_COLUMNS), 1 + len(VOTE_COLUMNS)
BOX = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$")  # (left, top, right, bottom)
ROW_FORMAT = "image,box," + ",".join(VOTE_COLUMNS)
LABEL_RULES = ("majority", "probability")
PROBABILITY_UNSUPPORTED = (
    "label_rule 'probability' is not supported yet: a prepared split carries one integer label per image "
    "(dabench.data.dataset.Split.labels, (N,) int64), so a vote distribution has nowhere to go. It needs "
    "an optional (N, classes) float soft-label array on Split, saved and loaded by dabench/data/cache.py, "
    "column-selected by restrict_to_classes, and a soft-target cross-entropy in dabench/train/supervised.py; "
    "use label_rule=majority")


@dataclass(frozen=True)
class FerPlusOptions(FaceOptions):
    label_rule: str = field(default="majority", metadata={"help": (
        "majority: the class with the most votes (rows whose top is unknown or NF, and ties, are dropped); "
        "probability: the vote distribution as a soft label (not supported yet)")})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.label_rule not in LABEL_RULES:
            raise ValueError(f"label_rule must be one of {', '.join(LABEL_RULES)}, got {self.label_rule!r}")
        if self.label_rule == "probability":
            raise ValueError(PROBABILITY_UNSUPPORTED)


@dataclass(frozen=True)
class VoteRow:
    """One row of a label.csv: ``votes`` in VOTE_COLUMNS order; ``box`` (left, top, right, bottom) or None."""

    line: int
    image: str
    box: tuple[int, int, int, int] | None
    votes: tuple[int, ...]


def majority_class(votes: Sequence[int]) -> str | None:
    """The column with the most votes (votes in VOTE_COLUMNS order), or None when that is unknown or
    NF or when two columns share the top count (the row is dropped).

    The FERPlus reference reader (src/ferplus.py, mode "majority") also zeroes single votes and keeps a
    row only when its top class then holds more than half of the votes; this is the plain rule."""
    top = max(votes)
    leaders = [name for name, count in zip(VOTE_COLUMNS, votes) if count == top]
    if len(leaders) != 1 or leaders[0] in NOT_EXPRESSIONS:
        return None
    return leaders[0]


def _is_header(row: list[str]) -> bool:
    return not any(value.strip().isdigit() for value in row[1:])


def parse_label_file(path: Path, shown: str) -> list[VoteRow]:
    """Every row of one label.csv (``shown``: its name in messages, e.g. FER2013Train/label.csv); a header
    line is skipped. A FieldError (a ValueError) names the file and line of a bad field count, box or vote."""
    rows: list[VoteRow] = []
    first_line: dict[str, int] = {}
    listed = 0
    for line, row in fields.csv_rows(path, shown):
        number = line.number
        if len(row) not in (FIELDS_WITH_BOX, FIELDS_WITHOUT_BOX):
            raise fields.FieldError(f"{line} has {len(row)} fields, expected {FIELDS_WITH_BOX} ({ROW_FORMAT}) or "
                                    f"{FIELDS_WITHOUT_BOX} (the same without box)")
        if number == 1 and _is_header(row):
            names = [value.lower() for value in row[-len(VOTE_COLUMNS):]]
            if names != [name.lower() for name in VOTE_COLUMNS]:
                raise fields.FieldError(f"{line} looks like a header but its vote columns are "
                                        f"{','.join(row[-len(VOTE_COLUMNS):])}; expected {','.join(VOTE_COLUMNS)} "
                                        "in that order")
            continue
        listed += 1
        if not row[0]:
            raise fields.FieldError(f"{line} has an empty image name")
        image, box = line.path(row[0], "the image name", plain=True), None
        if image in first_line:
            raise fields.FieldError(f"{line} repeats {image} (first at line {first_line[image]})")
        first_line[image] = number
        if len(row) == FIELDS_WITH_BOX:
            match = BOX.match(row[1])
            if not match:
                raise fields.FieldError(f"{line} has box {row[1]!r}, expected '(left, top, right, bottom)' in whole "
                                        "pixels with right > left, bottom > top")
            left, top, right, bottom = (line.coordinate(value, f"the box's {name}")
                                        for value, name in zip(match.groups(), ("left", "top", "right", "bottom")))
            line.box(left, top, right, bottom)
            box = (int(left), int(top), int(right), int(bottom))
        votes = tuple(line.integer(value, f"the {name} vote", 0, meaning="a count")
                      for name, value in zip(VOTE_COLUMNS, row[-len(VOTE_COLUMNS):]))
        if not any(votes):
            raise fields.FieldError(f"{line} has no votes (all {len(VOTE_COLUMNS)} counts are 0)")
        rows.append(VoteRow(number, image, box, votes))
    if not listed:
        raise fields.no_rows(shown, "'fer0000000.png,\"(0, 0, 48, 48)\",4,0,0,2,4,0,0,0,0,0'")
    return rows


class FerPlus(FolderDataset):
    id = "ferplus"
    classes = CLASSES
    description = ("FER+: FER2013's 48x48 faces relabelled by 10 taggers, 7 classes + contempt (majority vote); "
                   "train / val (Valid) / test")
    layout = ("FER2013Train/, FER2013Valid/ and FER2013Test/, each with label.csv (rows " + ROW_FORMAT
              + ": vote counts, no header; box like \"(0, 0, 48, 48)\") beside its fer0000000.png images (48x48)")
    request = ("https://github.com/microsoft/FERPlus (the labels; the images are FER2013's, "
               "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-"
               "challenge/data, written out by the repository's src/generate_training_data.py)")
    official_split = "FER2013Train -> train, FER2013Valid -> val, FER2013Test -> test"
    splits = ("train", "val", "test")
    mode = "L"
    native_size = 48
    default_backbone = "small_cnn"
    version = "1"
    Options = FerPlusOptions

    def items(self, folder: Path, options: FerPlusOptions) -> list[ImageItem]:
        absent_dirs = [name for name in SPLIT_DIRS if not (folder / name).is_dir()]
        if absent_dirs:
            raise self.missing(folder, f"split folder(s) {', '.join(f'{name}/' for name in absent_dirs)} not found")
        items = []
        for name, split in SPLIT_DIRS.items():
            shown = f"{name}/{LABEL_FILE}"
            if not (folder / name / LABEL_FILE).is_file():
                raise self.missing(folder, f"label file {shown} not found (images without labels)")
            try:
                rows = parse_label_file(folder / name / LABEL_FILE, shown)
                present = fields.names_in(folder / name, f"{name}/")  # one listing instead of a stat per image
            except fields.FieldError as exc:
                raise self.missing(folder, str(exc)) from None
            absent = [row for row in rows if row.image not in present]
            if absent:
                raise self.missing(folder, f"line {absent[0].line} of {shown} names {absent[0].image}, absent from "
                                           f"{name}/ ({len(absent)} listed image(s) absent in all, first: "
                                           f"{', '.join(row.image for row in absent[:3])})")
            for row in rows:
                label = majority_class(row.votes)
                if label is not None:
                    items.append(ImageItem(f"{name}/{row.image}", split, CLASSES.index(label),
                                           folder / name / row.image, box=row.box))
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(FerPlus())
