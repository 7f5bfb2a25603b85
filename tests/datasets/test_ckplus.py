"""CK+: CK+48 class folders and the original image + Emotion tree; the subject-disjoint split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import grey_of, prepare, write_image

from dabench.errors import DabenchError
from dabench_datasets.ckplus import CLASSES, FIXED_CROP, SPLIT_RULE, CkPlus

SUBJECTS = [f"S{n:03d}" for n in range(5, 45)]


def test_class_folders_split_by_subject(tmp_path: Path) -> None:
    rule = CkPlus().rule()
    assert {rule.assign(s) for s in SUBJECTS} == {"train", "test"}
    folders = {"happy": "happiness", "contempt": "contempt", "sadness": "sadness"}
    for n, subject in enumerate(SUBJECTS):
        folder_name = list(folders)[n % 3]
        for frame in (11, 12, 13):
            write_image(tmp_path / "ckplus" / folder_name / f"{subject}_001_{frame:08d}.png", 48, 48,
                        grey_of(n % 3))
    prepared = prepare(CkPlus(), tmp_path, resolution=48)
    n_test = sum(rule.assign(s) == "test" for s in SUBJECTS)
    assert len(prepared.split("test")) == 3 * n_test and len(prepared.split("train")) == 3 * (40 - n_test)
    for split in prepared.splits.values():
        names = [CLASSES[i] for i in split.labels]
        assert set(names) <= set(folders.values())
        codes = [list(folders.values()).index(name) for name in names]
        assert np.array_equal(np.rint((split.images.reshape(len(split), -1).mean(1) - 40) / 20), codes)
    assert prepared.meta["split_hash"] == hashlib.sha256(SPLIT_RULE.read_bytes()).hexdigest()


def test_original_tree_takes_the_last_frames_and_crops(tmp_path: Path) -> None:
    folder = tmp_path / "ckplus"
    box = (int(FIXED_CROP[0] * 640), int(FIXED_CROP[1] * 490), int(FIXED_CROP[2] * 640), int(FIXED_CROP[3] * 490))
    for subject, code in (("S005", 3), ("S010", 5)):
        sequence = folder / "cohn-kanade-images" / subject / "001"
        for frame in range(1, 7):
            write_image(sequence / f"{subject}_001_{frame:08d}.png", 640, 490, grey_of(code), box=box)
        emotion = folder / "Emotion" / subject / "001"
        emotion.mkdir(parents=True)
        (emotion / f"{subject}_001_00000006_emotion.txt").write_text(f"   {code:.7e}\n")
    # a sequence without an Emotion file is unlabelled and skipped
    write_image(folder / "cohn-kanade-images" / "S010" / "002" / "S010_002_00000001.png", 640, 490, 7)
    prepared = prepare(CkPlus(), tmp_path, resolution=48)
    images = np.concatenate([s.images for s in prepared.splits.values()])
    labels = np.concatenate([s.labels for s in prepared.splits.values()])
    assert sorted(CLASSES[i] for i in labels) == ["disgust"] * 3 + ["happiness"] * 3  # codes 3 and 5, last 3 frames
    assert images.mean() == pytest.approx(np.mean([grey_of(3), grey_of(5)]), abs=1)  # the fixed crop is all face
    prepared = prepare(CkPlus(), tmp_path, resolution=48, peak_frames=1)
    assert sum(len(s) for s in prepared.splits.values()) == 2


def test_unknown_emotion_code(tmp_path: Path) -> None:
    folder = tmp_path / "ckplus"
    write_image(folder / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png", 64, 64, 9)
    (folder / "Emotion" / "S005" / "001").mkdir(parents=True)
    (folder / "Emotion" / "S005" / "001" / "S005_001_00000001_emotion.txt").write_text("   9.0000000e+00\n")
    with pytest.raises(DabenchError, match=r"line 1 of Emotion/S005/001/S005_001_00000001_emotion.txt: "
                                           r"emotion '9.0000000e\+00' is an unknown label code"):
        prepare(CkPlus(), tmp_path)
