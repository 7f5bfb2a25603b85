"""FER2013: the csv (Usage splits), the three-folder and the two-folder image layouts, and dedup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from native_fixtures import decode_codes, face_array, grey_of, prepare, write_image

from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.fer2013 import Fer2013

NAMES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")  # csv codes 0..6


def test_csv_layout_maps_usage_to_splits(tmp_path: Path) -> None:
    rows = [(0, "Training"), (3, "Training"), (6, "Training"), (4, "PublicTest"), (5, "PrivateTest"), (1, "PrivateTest")]
    lines = ["emotion,pixels,Usage"]
    for code, usage in rows:
        pixels = " ".join(map(str, face_array(48, 48, None, grey_of(code)).ravel()))
        lines.append(f"{code},{pixels},{usage}")
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "fer2013.csv").write_text("\n".join(lines) + "\n")
    prepared = prepare(Fer2013(), tmp_path, resolution=48)
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 3, "test": 2, "val": 1}
    assert [CANONICAL_CLASSES[i] for i in prepared.split("train").labels] == ["anger", "happiness", "neutral"]
    assert [CANONICAL_CLASSES[i] for i in prepared.split("test").labels] == ["surprise", "disgust"]
    assert CANONICAL_CLASSES[prepared.split("val").labels[0]] == "sadness"
    assert prepared.split("train").images.shape == (3, 48, 48, 1)
    assert list(decode_codes(prepared.split("test").images)) == [5, 1]


def make_folders(root: Path, files: dict[str, tuple[str, int]]) -> None:
    """files: 'split/class/name.jpg' -> grey code."""
    for relative, code in files.items():
        write_image(root / "fer2013" / relative, 48, 48, grey_of(code))


def test_three_folder_layout_and_rgb(tmp_path: Path) -> None:
    make_folders(tmp_path, {"train/happy/Training_1.jpg": 3, "train/sad/Training_2.jpg": 4,
                            "val/angry/PublicTest_1.jpg": 0, "test/surprise/PrivateTest_1.jpg": 5})
    prepared = prepare(Fer2013(), tmp_path, rgb=True)
    assert [CANONICAL_CLASSES[i] for i in prepared.split("train").labels] == ["happiness", "sadness"]
    assert CANONICAL_CLASSES[prepared.split("val").labels[0]] == "anger"
    assert CANONICAL_CLASSES[prepared.split("test").labels[0]] == "surprise"
    image = prepared.split("train").images[0]
    assert image.shape == (32, 32, 3) and np.array_equal(image[..., 0], image[..., 2])


def test_two_folder_layout_sends_public_test_files_to_val(tmp_path: Path) -> None:
    make_folders(tmp_path, {"train/fear/Training_1.jpg": 2, "test/fear/PublicTest_7.jpg": 2,
                            "test/neutral/PrivateTest_8.jpg": 6, "test/neutral/PrivateTest_9.jpg": 6})
    prepared = prepare(Fer2013(), tmp_path)
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 1, "test": 2, "val": 1}


def test_dedup_drops_train_copies_of_test_files(tmp_path: Path) -> None:
    make_folders(tmp_path, {"train/happy/Training_1.jpg": 3, "train/happy/Training_2.jpg": 3,
                            "train/sad/Training_3.jpg": 4, "test/happy/PrivateTest_1.jpg": 3})
    # Training_1 and Training_2 are byte-identical to PrivateTest_1 (same encoder, same pixels).
    assert prepare(Fer2013(), tmp_path).split("train").labels.size == 3
    deduped = prepare(Fer2013(), tmp_path, dedup=True)
    assert [CANONICAL_CLASSES[i] for i in deduped.split("train").labels] == ["sadness"]
    assert len(deduped.split("test")) == 1


def test_prepare_cli_takes_dataset_options(tmp_path: Path, registry, capsys) -> None:
    from dabench.cli import main

    make_folders(tmp_path, {"train/happy/Training_1.jpg": 3, "train/sad/Training_3.jpg": 4,
                            "test/happy/PrivateTest_1.jpg": 3})
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "fer2013", "--data-root", str(tmp_path), "--set", "dedup=true", "--set", "rgb=true"])
    assert exit_info.value.code == 0
    assert "fer2013: prepared at 48 px (test 1, train 1, val 0)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "fer2013", "--data-root", str(tmp_path), "--set", "crop=tight"])
    assert exit_info.value.code == 2
    assert "bad option for dataset 'fer2013': crop must be one of fixed, haar, none" in capsys.readouterr().err
