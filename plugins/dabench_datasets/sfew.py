"""SFEW 2.0 (Static Facial Expressions in the Wild, movie stills): ``Train/<Class>/`` and ``Val/<Class>/``.

Val is the test split (the official Test set has no public labels). The release has aligned face crops
and whole frames; frames (shorter side > 256 px) get the fixed central crop below, or Haar with crop=haar.
"""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem, list_images, subfolders
from dabench.labels import CANONICAL_CLASSES

FOLDER_CLASSES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                  "neutral": "neutral", "sad": "sadness", "surprise": "surprise"}
SPLIT_FOLDERS = {"train": "train", "val": "test"}
# A whole 720x576 frame: the central box where movie close-ups keep the face; crop=haar detects instead.
FIXED_CROP = (0.3, 0.1, 0.7, 0.7)


class Sfew(FolderDataset):
    id = "sfew"
    classes = CANONICAL_CLASSES
    description = "SFEW 2.0: movie stills, 7 classes; Train / Val (Val is the test split)"
    layout = ("Train/<Class>/*.png and Val/<Class>/*.png with classes Angry, Disgust, Fear, Happy, Neutral, "
              "Sad, Surprise (aligned faces or whole frames)")
    request = "https://cs.anu.edu.au/few/ (Dhall et al., EmotiW; SFEW 2.0 agreement)"
    official_split = "Train folder -> train, Val folder -> test"
    fixed_crop = FIXED_CROP
    version = "1"

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        split_dirs = {d.name.lower(): d for d in subfolders(folder) if d.name.lower() in SPLIT_FOLDERS}
        missing = [name.capitalize() + "/" for name in SPLIT_FOLDERS if name not in split_dirs]
        if missing:
            raise self.missing(folder, f"split folder(s) {', '.join(missing)} not found")
        items = []
        for key, split_dir in sorted(split_dirs.items()):
            loose = list_images(split_dir)
            if loose:
                raise self.missing(folder, f"{len(loose)} image(s) directly in {split_dir.name}/ have no labels "
                                           f"(no class folder), e.g. {loose[0].name}")
            for class_dir in subfolders(split_dir):
                name = FOLDER_CLASSES.get(class_dir.name.lower())
                if name is None:
                    raise self.missing(folder, f"unknown label code: class folder {split_dir.name}/{class_dir.name}/ "
                                               "is not one of Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise")
                items += [ImageItem(path.name, SPLIT_FOLDERS[key], CANONICAL_CLASSES.index(name), path, uncropped=None)
                          for path in list_images(class_dir)]
        if not items:
            raise self.missing(folder, "no images in the class folders")
        return items


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Sfew())
