"""ExpW (Expression in-the-Wild): ``label/label.lst`` lists one face per line (several per photo), cropped
by its box from ``image/origin/``. No official split: a versioned rule by photo name (splits/expw_v1.yaml)."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset
from dabench.data.images import ImageItem, list_images
from dabench.labels import CANONICAL_CLASSES

LABEL_FILE = Path("label/label.lst")
IMAGE_DIR = Path("image/origin")
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral"}
SPLIT_RULE = Path(__file__).parent / "splits" / "expw_v1.yaml"


def parse_label_file(path: Path) -> list[tuple[str, int, tuple[float, float, float, float], int]]:
    """(image name, face id, box (left, top, right, bottom), code) per line
    'image face_id top left right bottom confidence label'; ValueError names a bad line."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 8:
            raise ValueError(f"line {number} of {path.name} has {len(parts)} fields, expected 8 "
                             "(image face_id top left right bottom confidence label)")
        try:
            face_id, top, left, right, bottom = int(parts[1]), *(float(v) for v in parts[2:6])
            code = int(parts[7])
        except ValueError:
            raise ValueError(f"line {number} of {path.name} is not numeric where expected: {line!r}") from None
        if min(top, left) < 0 or not left < right or not top < bottom:
            raise ValueError(f"line {number} of {path.name} has an impossible face box (top {top:g}, left {left:g}, "
                             f"right {right:g}, bottom {bottom:g}): corners must be >= 0, left < right, top < bottom")
        if code not in CODES:
            raise ValueError(f"unknown label code {code} at line {number} of {path.name}; codes are "
                             + ", ".join(f"{c} {n}" for c, n in CODES.items()))
        rows.append((parts[0], face_id, (left, top, right, bottom), code))
    return rows


class Expw(FolderDataset):
    id = "expw"
    classes = CANONICAL_CLASSES
    description = "ExpW: 91,793 web faces in 7 classes, cropped by their boxes; dabench's photo-level split v1"
    layout = (f"{LABEL_FILE} (lines 'image face_id top left right bottom confidence label', codes 0 angry, "
              f"1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral) and the photos {IMAGE_DIR}/")
    request = "https://mmlab.ie.cuhk.edu.hk/projects/socialrelation/index.html (Zhang et al., CUHK)"
    split_rule_file = SPLIT_RULE
    version = "1"
    # SwAV on ExpW as a target: the wild suite's budget rule (~140k image passes, as FER2013's 5 epochs):
    # 30 epochs of the subset's 4,625 train faces; prototypes at ~30 images each (as cluster_pl's P for
    # fer2013:expw); the full release (91,793 faces) would take ssl.epochs=2 under the same rule.
    ssl_defaults = {"epochs": 30, "batch_size": 256, "prototypes": 150, "hidden_dim": 512, "warmup_epochs": 3,
                    "small_crops": 2, "small_crop_fraction": 0.5}

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        label_path, image_dir = folder / LABEL_FILE, folder / IMAGE_DIR
        if not label_path.is_file():
            found = "images are present, " if image_dir.is_dir() else ""
            raise self.missing(folder, f"label file {LABEL_FILE} not found ({found}no labels)")
        if not image_dir.is_dir():
            raise self.missing(folder, f"image folder {IMAGE_DIR}/ not found")
        try:
            rows = parse_label_file(label_path)
        except ValueError as exc:
            raise self.missing(folder, str(exc)) from None
        present = {path.name: path for path in list_images(image_dir)}
        absent = sorted({name for name, _, _, _ in rows if name not in present})
        if absent:
            raise self.missing(folder, f"{LABEL_FILE} names {len(absent)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(absent[:3])})")
        rule = self.rule()
        assert rule is not None
        return [ImageItem(f"{name}#{face_id}", rule.assign(name), CANONICAL_CLASSES.index(CODES[code]),
                          present[name], box=box, group=name)
                for name, face_id, box, code in rows]


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Expw())
