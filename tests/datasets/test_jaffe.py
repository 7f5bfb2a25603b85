"""JAFFE: file-name codes, the fixed subject-disjoint split, the fixed crop and the Haar option."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import grey_of, prepare, write_image

from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.jaffe import CODES, FIXED_CROP, Jaffe

BOX = tuple(int(f * 256) for f in FIXED_CROP)


def make_jaffe(root: Path) -> list[str]:
    names = []
    for n, subject in enumerate(("KA", "KL", "KM", "YM", "NA")):
        for k, code in enumerate(CODES):
            name = f"{subject}.{code}{k % 3 + 1}.{100 + 10 * n + k}.tiff"
            write_image(root / "jaffe" / name, 256, 256, grey_of(k), box=BOX)
            names.append(name)
    (root / "jaffe" / "README").write_text("not an image\n")
    return names


def test_file_name_codes_and_subject_split(tmp_path: Path) -> None:
    make_jaffe(tmp_path)
    prepared = prepare(Jaffe(), tmp_path)
    train, test = prepared.split("train"), prepared.split("test")
    assert (len(train), len(test)) == (21, 14)  # KM and YM are test
    expected = [CANONICAL_CLASSES.index(name) for name in CODES.values()]
    assert list(test.labels[:7]) == expected  # AN DI FE HA NE SA SU -> anger disgust fear happiness ...
    assert train.images.shape == (21, 32, 32, 1)
    # the fixed crop keeps only the face box, whose grey codes the label
    assert np.abs(train.images.reshape(21, -1).mean(1) - [grey_of(k) for k in range(7)] * 3).max() < 1.5


def test_unknown_code_in_a_file_name(tmp_path: Path) -> None:
    write_image(tmp_path / "jaffe" / "KA.XX1.39.tiff", 256, 256, 100)
    with pytest.raises(DabenchError, match=r"unknown label code in file name KA.XX1.39.tiff"):
        prepare(Jaffe(), tmp_path)


def test_haar_without_opencv_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jaffe(tmp_path)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError, installed or not
    with pytest.raises(DabenchError, match=r"crop=haar needs OpenCV: pip install 'dabench\[face\]' "
                                           r"\(or opencv-python-headless\), or use crop=fixed"):
        prepare(Jaffe(), tmp_path, crop="haar")


def test_haar_with_an_opencv_lacking_cascades_names_the_version_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jaffe(tmp_path)
    monkeypatch.setitem(sys.modules, "cv2", types.SimpleNamespace(__version__="5.0.0"))
    with pytest.raises(DabenchError, match=r"OpenCV 5.0.0 has no Haar cascades\): "
                                           r"pip install 'opencv-python-headless>=4.8,<5'"):
        prepare(Jaffe(), tmp_path, crop="haar")


def test_bad_crop_option() -> None:
    with pytest.raises(DabenchError, match="crop must be one of fixed, haar, none, got 'tight'"):
        Jaffe().options({"crop": "tight"})
