"""ExpW: multi-face lines cropped by their boxes, and the versioned photo-level split rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from native_fixtures import grey_of, prepare
from PIL import Image

from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.expw import SPLIT_RULE, Expw, parse_label_file


def photo(path: Path, faces: list[tuple[tuple[int, int, int, int], int]]) -> None:
    """A 200x150 RGB photo with one flat grey box per face."""
    array = np.zeros((150, 200, 3), dtype=np.uint8)
    for (left, top, right, bottom), code in faces:
        array[top:bottom, left:right] = grey_of(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_multi_face_lines_crop_each_face_and_keep_photos_whole(tmp_path: Path) -> None:
    folder = tmp_path / "expw"
    rule = Expw().rule()
    names = [f"photo_{i}.png" for i in range(40)]
    assert {rule.assign(n) for n in names} == {"train", "test"}  # the fixture exercises both sides
    lines = []
    for name in names:
        left_face, right_face = ((10, 20, 70, 80), 3), ((120, 40, 180, 100), 5)
        photo(folder / "image" / "origin" / name, [left_face, right_face])
        # 'image face_id top left right bottom confidence label'
        for face_id, ((left, top, right, bottom), code) in enumerate((left_face, right_face)):
            lines.append(f"{name} {face_id} {top} {left} {right} {bottom} 0.97 {code}")
    (folder / "label").mkdir()
    (folder / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    prepared = prepare(Expw(), tmp_path)
    n_test = sum(rule.assign(n) == "test" for n in names)
    assert (len(prepared.split("train")), len(prepared.split("test"))) == (2 * (40 - n_test), 2 * n_test)
    for split in prepared.splits.values():
        happy = split.labels == CANONICAL_CLASSES.index("happiness")
        surprised = split.labels == CANONICAL_CLASSES.index("surprise")
        assert happy.sum() == surprised.sum()  # both faces of every photo are on the same side
        assert np.abs(split.images[happy].astype(int) - grey_of(3)).max() <= 2
        assert np.abs(split.images[surprised].astype(int) - grey_of(5)).max() <= 2


def test_split_rule_is_the_documented_hash_and_versioned() -> None:
    rule = Expw().rule()
    bucket = int(hashlib.sha256(b"expw-v1:angry_actor_104.jpg").hexdigest()[:8], 16) % 100
    assert rule.assign("angry_actor_104.jpg") == ("test" if bucket < 20 else "train")
    assert Expw().split_hash() == hashlib.sha256(SPLIT_RULE.read_bytes()).hexdigest()
    assert rule.version == 1


def test_parser_reads_the_official_field_order(tmp_path: Path) -> None:
    path = tmp_path / "label.lst"
    path.write_text("afraid_african_214.jpg 0 106 184 363 285 52.04 2\nafraid_african_214.jpg 1 5 6 70 80 9.5 6\n")
    assert parse_label_file(path) == [("afraid_african_214.jpg", 0, (184.0, 106.0, 363.0, 285.0), 2),
                                      ("afraid_african_214.jpg", 1, (6.0, 5.0, 70.0, 80.0), 6)]
