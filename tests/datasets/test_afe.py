"""AFE: space-separated Train/Test lists with face boxes, images under src/image/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from native_fixtures import grey_of, prepare, write_image

from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.afe import Afe

AFE_NAMES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")  # codes 0..6


def test_lists_map_codes_and_crop_boxes(tmp_path: Path) -> None:
    folder = tmp_path / "afe"
    box = (30, 20, 110, 100)
    entries = {"Train.csv": [("p1/a.jpg", 4), ("p1/b.jpg", 6), ("p2/c.jpg", 0)], "Test.csv": [("p3/d.jpg", 5)]}
    (folder / "annos" / "TrainTest").mkdir(parents=True)
    for list_name, rows in entries.items():
        lines = ["path left top right bottom emotion"]  # a header line, skipped
        for relative, code in rows:
            write_image(folder / "src" / "image" / relative, 160, 120, grey_of(code), box=box, rgb=True)
            lines.append(f"{relative} {box[0]} {box[1]} {box[2]} {box[3]} {code}")
        (folder / "annos" / "TrainTest" / list_name).write_text("\n".join(lines) + "\n")
    prepared = prepare(Afe(), tmp_path)
    train, test = prepared.split("train"), prepared.split("test")
    assert [CANONICAL_CLASSES[i] for i in train.labels] == ["neutral", "surprise", "anger"]
    assert [CANONICAL_CLASSES[i] for i in test.labels] == ["sadness"]
    expected = [grey_of(4), grey_of(6), grey_of(0)]
    assert np.abs(train.images.reshape(3, -1).mean(1) - expected).max() < 3  # face only, no dark border
