"""FER2013: ``fer2013.csv`` (emotion,pixels,Usage) or the class-folder image release; 48x48 grayscale.

Splits: train = Training, test = PrivateTest, val = PublicTest. In the folder layout the split is the
folder; with only train/ and test/, files named ``PublicTest_*`` inside test/ go to val.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem, list_images, subfolders
from dabench.labels import CANONICAL_CLASSES

CSV_NAME = "fer2013.csv"
# The csv's codes: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral"}
FOLDER_CLASSES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                  "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}
HEADER = ["emotion", "pixels", "Usage"]
USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SIDE = 48


class Fer2013(FolderDataset):
    id = "fer2013"
    classes = CANONICAL_CLASSES
    description = "FER2013: 35,887 48x48 grayscale web faces, 7 classes; train / val (PublicTest) / test (PrivateTest)"
    layout = (f"{CSV_NAME} (columns emotion,pixels,Usage; codes 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, "
              "5 surprise, 6 neutral) or class folders {train,val,test}/<class>/*.jpg (or train/ + test/ only) "
              "with classes " + ", ".join(FOLDER_CLASSES))
    request = ("https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-"
               "challenge/data (ICML 2013 challenge)")
    official_split = "Usage column: Training -> train, PrivateTest -> test, PublicTest -> val"
    splits = ("train", "test", "val")
    mode = "L"
    native_size = 48
    default_backbone = "small_cnn"
    # SwAV on FER2013 as a target (the wild suite). Budget rule: one CPU-sized budget for every wild target,
    # ~140k image passes (about 8 minutes of small_cnn at 48 px on 2 idle cores): 5 epochs of the 28,709
    # train images, against the paper's 1000 (a GPU run should raise ssl.epochs). Prototypes follow
    # cluster_pl's ~30 images per cluster (28,709 / 1000); small crops at half the side (24 px: small_cnn's
    # four poolings need 16); the rest as the generated and CK+ targets.
    ssl_defaults = {"epochs": 5, "batch_size": 256, "prototypes": 1000, "hidden_dim": 512, "warmup_epochs": 1,
                    "small_crops": 2, "small_crop_fraction": 0.5}
    version = "1"

    def layout_found(self, folder: Path) -> str:
        if (folder / "train").is_dir():
            present = [name for name in ("train", "val", "test") if (folder / name).is_dir()]
            return "class folders " + "/, ".join(present) + "/ with <class>/*.jpg"
        return CSV_NAME

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        if (folder / "train").is_dir():
            return self._folder_items(folder)
        if (folder / CSV_NAME).is_file():
            return self._csv_items(folder / CSV_NAME, folder)
        raise self.missing(folder, f"neither {CSV_NAME} nor a train/ class folder found")

    def _folder_items(self, folder: Path) -> list[ImageItem]:
        if not (folder / "test").is_dir():
            raise self.missing(folder, "train/ found but no test/ folder")
        items = []
        for split_dir in (folder / name for name in ("train", "val", "test")):
            if not split_dir.is_dir():
                continue
            loose = list_images(split_dir)
            if loose:
                raise self.missing(folder, f"{len(loose)} image(s) directly in {split_dir.name}/ have no labels "
                                           f"(no class folder), e.g. {loose[0].name}")
            class_dirs = subfolders(split_dir)
            if not class_dirs:
                raise self.missing(folder, f"no class folders in {split_dir.name}/")
            for class_dir in class_dirs:
                name = FOLDER_CLASSES.get(class_dir.name.lower())
                if name is None:
                    raise self.missing(folder, f"unknown label code: class folder {split_dir.name}/{class_dir.name}/ "
                                               f"is not one of {', '.join(FOLDER_CLASSES)}")
                label = CANONICAL_CLASSES.index(name)
                for path in list_images(class_dir):
                    split = split_dir.name
                    if split == "test" and not (folder / "val").is_dir() and path.name.startswith("PublicTest"):
                        split = "val"
                    items.append(ImageItem(path.name, split, label, path))
        return items

    def _csv_items(self, path: Path, folder: Path) -> list[ImageItem]:
        items: list[ImageItem] = []
        header_read = False
        try:
            for line, row in fields.csv_rows(path, CSV_NAME):
                if not header_read:  # the first row
                    if row[:3] != HEADER:
                        raise line.error(f"the header is {','.join(row)!r}, expected {','.join(HEADER)}")
                    header_read = True
                    continue
                line.count(row, HEADER, at_least=True)  # columns after Usage are not read
                code = line.code(row[0], "emotion", CODES)
                pixels = line.integers(row[1], "pixels", SIDE * SIDE, 0, 255)
                usage = line.choice(row[2], "Usage", tuple(USAGE))
                items.append(ImageItem(f"{usage}_{line.number}", USAGE[usage], CANONICAL_CLASSES.index(CODES[code]),
                                       pixels=pixels.astype(np.uint8).reshape(SIDE, SIDE)))
        except fields.FieldError as exc:
            raise self.missing(folder, str(exc)) from None
        if not items:
            raise self.missing(folder, str(fields.no_rows(CSV_NAME, "'3,<2304 pixel values 0..255>,Training'")))
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Fer2013())
