"""CK+ (Extended Cohn-Kanade): the CK+48 class folders, or the original cohn-kanade-images/ + Emotion/
tree (the last ``peak_frames`` frames of each labelled sequence). Subject-disjoint split, versioned."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import dabench
from dabench.data import CropSpec, FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem, list_images, subfolders
from dabench.labels import CANONICAL_CLASSES

CLASSES = tuple(name for name in CANONICAL_CLASSES if name != "neutral") + ("contempt",)
FOLDER_CLASSES = {"anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
                  "happy": "happiness", "sadness": "sadness", "surprise": "surprise"}
# Emotion/*_emotion.txt codes (Lucey et al. 2010). 0 (neutral) never occurs in the release.
EMOTION_CODES = {1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness", 6: "sadness", 7: "surprise"}
FILE_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)
SPLIT_RULE = Path(__file__).parent / "splits" / "ckplus_v1.yaml"
# The face in an original 640x490 frame: a fixed box (fractions of width, height) that holds the
# faces of the release's frontal, centred posers; crop=haar detects instead.
FIXED_CROP = (0.25, 0.1, 0.75, 0.75)


@dataclass(frozen=True)
class CkPlusOptions(FaceOptions):
    peak_frames: int = field(default=3, metadata={"help": "original tree: last frames taken per labelled sequence"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.peak_frames < 1:
            raise ValueError(f"peak_frames must be >= 1, got {self.peak_frames}")


def read_emotion(path: Path, shown: str) -> int:
    """The code of an Emotion/*_emotion.txt file: one line holding one whole number written as a float
    ('   3.0000000e+00'); a FieldError names a bad one."""
    rows = list(fields.split_lines(path, shown))
    if not rows:
        raise fields.FieldError(f"{shown} is empty; expected one emotion code like '3.0000000e+00'")
    line, parts = rows[0]
    if len(rows) > 1:
        raise fields.FieldError(f"{shown} has {len(rows)} lines, expected one emotion code")
    line.count(parts, ("emotion",))
    return line.code(parts[0], "emotion", EMOTION_CODES, float_notation=True)


def subject_of(file_name: str) -> str:
    match = FILE_NAME.match(file_name)
    return match.group(1).upper() if match else ""


class CkPlus(FolderDataset):
    id = "ckplus"
    classes = CLASSES
    description = "CK+: posed lab faces, 6 basic classes + contempt (no neutral), subject-disjoint split"
    layout = ("CK+48 class folders <class>/S005_001_00000011.png (classes " + ", ".join(FOLDER_CLASSES)
              + "), or the original cohn-kanade-images/S005/001/S005_001_00000011.png with "
              "Emotion/S005/001/S005_001_00000011_emotion.txt (codes 1 anger .. 7 surprise)")
    request = "https://www.jeffcohn.net/Resources/ (CK+ agreement, University of Pittsburgh)"
    split_rule_file = SPLIT_RULE
    mode = "L"
    native_size = 48
    default_backbone = "small_cnn"
    # ~800 train images at 48 px: SwAV sized to the set
    ssl_defaults = {"epochs": 100, "batch_size": 128, "prototypes": 50, "hidden_dim": 512, "warmup_epochs": 5,
                    "small_crops": 2, "small_crop_fraction": 0.5}
    fixed_crop = FIXED_CROP
    version = "1"
    Options = CkPlusOptions

    def layout_found(self, folder: Path) -> str:
        if (folder / "cohn-kanade-images").is_dir():
            return "original cohn-kanade-images/ + Emotion/ tree"
        return "CK+48 class folders"

    def items(self, folder: Path, options: CkPlusOptions) -> list[ImageItem]:
        if (folder / "cohn-kanade-images").is_dir():
            return self._original_items(folder, options)
        if options.peak_frames != CkPlusOptions.peak_frames:
            raise self.option_error(f"peak_frames={options.peak_frames} applies to the original "
                                    f"cohn-kanade-images/ tree only; {folder} holds CK+48 class folders")
        return self._folder_items(folder)

    def crop_spec(self, options: CkPlusOptions, folder: Path) -> CropSpec:
        # FIXED_CROP is for the original frames; CK+48's images are face crops already
        original = (folder / "cohn-kanade-images").is_dir()
        return CropSpec(options.crop, FIXED_CROP) if original else CropSpec(options.crop)

    def _item(self, path: Path, name: str, folder: Path, uncropped: bool) -> ImageItem:
        subject = subject_of(path.name)
        if not subject:
            raise self.missing(folder, f"file {path.relative_to(folder)} is not named S<subject>_<seq>_<frame>.png")
        return ImageItem(path.name, self.assign_split(subject), CLASSES.index(name), path,
                         uncropped=uncropped, group=subject)

    def _folder_items(self, folder: Path) -> list[ImageItem]:
        loose = list_images(folder)
        class_dirs = subfolders(folder)
        if loose:
            raise self.missing(folder, f"{len(loose)} image(s) directly in the folder have no labels "
                                       f"(no class folder), e.g. {loose[0].name}")
        if not class_dirs:
            raise self.missing(folder, "no class folders (and no cohn-kanade-images/) found")
        items = []
        for class_dir in class_dirs:
            name = FOLDER_CLASSES.get(class_dir.name.lower())
            if name is None:
                raise self.missing(folder, f"unknown label code: class folder {class_dir.name}/ is not one of "
                                           + ", ".join(FOLDER_CLASSES))
            items += [self._item(path, name, folder, False) for path in list_images(class_dir)]
        return items

    def _original_items(self, folder: Path, options: CkPlusOptions) -> list[ImageItem]:
        emotion = folder / "Emotion"
        if not emotion.is_dir():
            raise self.missing(folder, "cohn-kanade-images/ found but its labels Emotion/ are missing (images present, no labels)")
        items = []
        for label_path in sorted(emotion.glob("S*/*/*_emotion.txt")):
            try:
                code = read_emotion(label_path, label_path.relative_to(folder).as_posix())
            except fields.FieldError as exc:
                raise self.missing(folder, str(exc)) from None
            sequence = folder / "cohn-kanade-images" / label_path.parent.relative_to(emotion)
            frames = list_images(sequence) if sequence.is_dir() else []
            if not frames:
                raise self.missing(folder, f"{label_path.relative_to(folder)} labels sequence "
                                           f"{sequence.relative_to(folder)}/ which has no images")
            items += [self._item(path, EMOTION_CODES[code], folder, True) for path in frames[-options.peak_frames:]]
        if not items:
            raise self.missing(folder, "no Emotion/S*/*/*_emotion.txt label files found (images present, no labels)")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(CkPlus())
