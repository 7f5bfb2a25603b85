"""JAFFE: 213 grayscale 256x256 uncropped images of 10 Japanese posers, labelled by file name
(``KA.AN1.39.tiff`` = poser KA, anger, take 1, id 39). Fixed subject-disjoint split, versioned."""

from __future__ import annotations

import re
from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem, list_images
from dabench.labels import CANONICAL_CLASSES

CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral", "SA": "sadness",
         "SU": "surprise"}
FILE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d*\.\d+\.tiff?$", re.IGNORECASE)
SPLIT_RULE = Path(__file__).parent / "splits" / "jaffe_v1.yaml"
# The face in a 256x256 JAFFE frame (posers sit centred, eyes near row 110): a fixed box, as fractions.
FIXED_CROP = (0.2, 0.25, 0.8, 0.85)


class Jaffe(FolderDataset):
    id = "jaffe"
    classes = CANONICAL_CLASSES
    description = "JAFFE: 213 posed grayscale images, 10 posers, 7 classes; subject-disjoint split (KM, YM test)"
    layout = ("a flat folder of KA.AN1.39.tiff-style files (poser.EXPRn.id.tiff; EXPR one of "
              + ", ".join(CODES) + "), 256x256 uncropped")
    request = "https://zenodo.org/record/3451524 (JAFFE, Lyons et al.; research-use agreement)"
    split_rule_file = SPLIT_RULE
    mode = "L"
    fixed_crop = FIXED_CROP
    version = "1"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        files = list_images(folder)
        if not files:
            raise self.missing(folder, "no .tiff images found")
        items = []
        for path in files:
            match = FILE_NAME.match(path.name)
            if match is None or match.group(2).upper() not in CODES:
                raise self.missing(folder, f"unknown label code in file name {path.name}; expected "
                                           "poser.EXPRn.id.tiff with EXPR one of " + ", ".join(CODES))
            subject, code = match.group(1).upper(), match.group(2).upper()
            items.append(ImageItem(path.name, self.assign_split(subject), CANONICAL_CLASSES.index(CODES[code]), path,
                                   uncropped=True, group=subject))
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Jaffe())
