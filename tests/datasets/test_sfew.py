"""SFEW 2.0: Train/ and Val/ class folders; aligned faces kept whole, whole frames given the fixed crop."""

from __future__ import annotations

from pathlib import Path

import pytest
from native_fixtures import grey_of, prepare, write_image

from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.sfew import FIXED_CROP, Sfew


def test_folders_map_to_train_and_test_and_frames_are_cropped(tmp_path: Path) -> None:
    folder = tmp_path / "sfew"
    write_image(folder / "Train" / "Happy" / "a.png", 143, 181, grey_of(3), rgb=True)
    write_image(folder / "Train" / "Disgust" / "b.png", 143, 181, grey_of(1), rgb=True)
    # A 720x576 frame whose face fills exactly the documented fixed box.
    box = (int(FIXED_CROP[0] * 720), int(FIXED_CROP[1] * 576), int(FIXED_CROP[2] * 720), int(FIXED_CROP[3] * 576))
    write_image(folder / "Val" / "Angry" / "frame.png", 720, 576, grey_of(0), box=box, rgb=True)
    prepared = prepare(Sfew(), tmp_path)
    train, test = prepared.split("train"), prepared.split("test")
    assert sorted(CANONICAL_CLASSES[i] for i in train.labels) == ["disgust", "happiness"]
    assert [CANONICAL_CLASSES[i] for i in test.labels] == ["anger"]
    assert test.images.shape == (1, 32, 32, 3)
    assert test.images.mean() == pytest.approx(grey_of(0), abs=1)  # cropped to the face: no dark frame left
    uncropped = prepare(Sfew(), tmp_path, crop="none").split("test").images
    assert uncropped.min() == 0


def test_missing_val_folder_is_a_layout_error(tmp_path: Path) -> None:
    write_image(tmp_path / "sfew" / "Train" / "Happy" / "a.png", 64, 64, 100)
    with pytest.raises(Exception, match=r"split folder\(s\) Val/ not found"):
        prepare(Sfew(), tmp_path)
