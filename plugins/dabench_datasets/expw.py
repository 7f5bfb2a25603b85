"""ExpW (Expression in-the-Wild): ``label/label.lst`` lists one face per line (several per photo), cropped
by its box from ``image/origin/``. No official split: a versioned rule by photo name (splits/expw_v1.yaml)."""

from __future__ import annotations

from pathlib import Path

import dabench
from dabench.data import FaceOptions, FolderDataset, fields
from dabench.data.images import ImageItem, list_images
from dabench.labels import CANONICAL_CLASSES

LABEL_FILE = Path("label/label.lst")
IMAGE_DIR = Path("image/origin")
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral"}
FIELDS = ("image", "face_id", "top", "left", "right", "bottom", "confidence", "label")
SPLIT_RULE = Path(__file__).parent / "splits" / "expw_v1.yaml"


def parse_label_file(path: Path, shown: str = "") -> list[tuple[str, int, tuple[float, float, float, float], int]]:
    """(image name, face id, box (left, top, right, bottom), code) per line
    'image face_id top left right bottom confidence label' (confidence is not read); a bad field is a
    FieldError (a ValueError) naming ``shown`` (default: the file's name) and the line."""
    return [(name, face_id, box, code) for _, name, face_id, box, code in _rows(path, shown or path.name)]


def _rows(path: Path, shown: str) -> list[tuple[fields.Line, str, int, tuple[float, float, float, float], int]]:
    rows = []
    for line, parts in fields.split_lines(path, shown):
        line.count(parts, FIELDS)
        name = line.path(parts[0], "image", plain=True)
        face_id = line.integer(parts[1], "face_id", 0)
        top, left, right, bottom = (line.coordinate(parts[i], FIELDS[i]) for i in (2, 3, 4, 5))
        box = line.box(left, top, right, bottom)
        rows.append((line, name, face_id, box, line.code(parts[7], "label", CODES)))
    if not rows:
        raise fields.no_rows(shown, "'angry_actor_104.jpg 0 28 45 158 141 22.9362 0'")
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
            rows = _rows(label_path, str(LABEL_FILE))
        except fields.FieldError as exc:
            raise self.missing(folder, str(exc)) from None
        present = {path.name: path for path in list_images(image_dir)}
        absent = sorted((name, line.number) for line, name, _, _, _ in rows if name not in present)
        if absent:
            names = sorted({name for name, _ in absent})
            raise self.missing(folder, f"{LABEL_FILE} names {len(names)} image(s) absent from {IMAGE_DIR}/ "
                                       f"(first: {', '.join(names[:3])}); line {absent[0][1]} of {LABEL_FILE} "
                                       f"names {names[0]}")
        rule = self.rule()
        assert rule is not None
        return [ImageItem(f"{name}#{face_id}", rule.assign(name), CANONICAL_CLASSES.index(CODES[code]),
                          present[name], box=box, group=name)
                for _, name, face_id, box, code in rows]


@dabench.hookimpl
def register_datasets(register) -> None:
    register(Expw())
