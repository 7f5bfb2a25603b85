"""RAF-DB: the real label list, the aligned layout (with its `_aligned` suffix) and the original + box layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import decode_codes, grey_of, prepare, write_image

from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.rafdb import RafDb, parse_label_file

REAL_COUNTS = {"train": [1290, 281, 717, 4772, 1982, 705, 2524], "test": [329, 74, 160, 1185, 478, 162, 680]}


def test_parser_matches_the_real_label_file(shared_data: Path) -> None:
    rows = parse_label_file(shared_data / "label-files" / "rafdb" / "EmoLabel" / "list_patition_label.txt")
    assert len(rows) == 15339
    for split, expected in REAL_COUNTS.items():
        counts = Counter(code for _, s, code in rows if s == split)
        assert [counts[code] for code in range(1, 8)] == expected
    assert rows[0] == ("train_00001.jpg", "train", 5)


def make_aligned(root: Path, labels: dict[str, int]) -> None:
    lines = []
    for name, code in labels.items():
        lines.append(f"{name} {code}")
        write_image(root / "rafdb" / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), 100, 100,
                    grey_of(code), rgb=True)
    (root / "rafdb" / "EmoLabel").mkdir(parents=True)
    (root / "rafdb" / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")


def test_aligned_layout_maps_codes_and_prefix_splits(tmp_path: Path) -> None:
    labels = {"train_00001.jpg": 5, "train_00002.jpg": 1, "train_00003.jpg": 7, "test_0001.jpg": 4, "test_0002.jpg": 2}
    make_aligned(tmp_path, labels)
    prepared = prepare(RafDb(), tmp_path)
    train, test = prepared.split("train"), prepared.split("test")
    assert (len(train), len(test)) == (3, 2)
    assert train.images.shape == (3, 32, 32, 3)
    # code c is canonical class c - 1: 5 sadness, 1 surprise, 7 neutral, 4 happiness, 2 fear
    assert [CANONICAL_CLASSES[i] for i in train.labels] == ["sadness", "surprise", "neutral"]
    assert [CANONICAL_CLASSES[i] for i in test.labels] == ["happiness", "fear"]
    assert list(decode_codes(train.images)) == [5, 1, 7]
    assert prepared.meta["split_hash"] == RafDb().split_hash()


def test_original_layout_crops_by_the_bounding_box_file(tmp_path: Path) -> None:
    folder = tmp_path / "rafdb"
    box = (60, 30, 140, 110)
    write_image(folder / "Image" / "original" / "train_00001.jpg", 200, 160, grey_of(3), box=box, rgb=True)
    write_image(folder / "Image" / "original" / "test_0001.jpg", 200, 160, grey_of(6), box=box, rgb=True)
    (folder / "Annotation" / "boundingbox").mkdir(parents=True)
    for stem in ("train_00001", "test_0001"):
        (folder / "Annotation" / "boundingbox" / f"{stem}_boundingbox.txt").write_text("60.0 30.0 140.0 110.0\n")
    (folder / "EmoLabel").mkdir()
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 3\ntest_0001.jpg 6\n")
    prepared = prepare(RafDb(), tmp_path)
    image = prepared.split("train").images[0]
    assert image.mean() == pytest.approx(grey_of(3), abs=4)  # the whole crop is face: no dark border left
    assert np.abs(prepared.split("test").images[0].astype(int) - grey_of(6)).max() <= 12
