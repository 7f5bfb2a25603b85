"""Every missing-data case, through the CLI: exit 2, one message naming the folder searched, the layout
expected and where to request the dataset, and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from native_fixtures import write_image

from dabench.cli import main


def no_folder(root: Path) -> None:
    root.mkdir(exist_ok=True)


def rafdb_images_without_labels(root: Path) -> None:
    write_image(root / "rafdb" / "Image" / "aligned" / "train_00001_aligned.jpg", 100, 100, 90)


def rafdb_label_naming_absent_images(root: Path) -> None:
    rafdb_images_without_labels(root)
    (root / "rafdb" / "EmoLabel").mkdir(parents=True)
    (root / "rafdb" / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 5\ntest_0001.jpg 2\n")


def rafdb_unknown_code(root: Path) -> None:
    rafdb_images_without_labels(root)
    (root / "rafdb" / "EmoLabel").mkdir(parents=True)
    (root / "rafdb" / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 8\n")


def fer2013_loose_images(root: Path) -> None:
    write_image(root / "fer2013" / "train" / "Training_1.jpg", 48, 48, 90)
    write_image(root / "fer2013" / "test" / "happy" / "PrivateTest_1.jpg", 48, 48, 90)


def fer2013_unknown_class(root: Path) -> None:
    write_image(root / "fer2013" / "train" / "contempt" / "Training_1.jpg", 48, 48, 90)
    write_image(root / "fer2013" / "test" / "happy" / "PrivateTest_1.jpg", 48, 48, 90)


def fer2013_empty(root: Path) -> None:
    (root / "fer2013").mkdir(parents=True)


def ckplus_loose_images(root: Path) -> None:
    write_image(root / "ckplus" / "S005_001_00000001.png", 48, 48, 90)


def expw_images_without_labels(root: Path) -> None:
    write_image(root / "expw" / "image" / "origin" / "a.jpg", 64, 64, 90)


def expw_label_naming_absent_images(root: Path) -> None:
    expw_images_without_labels(root)
    (root / "expw" / "label").mkdir()
    (root / "expw" / "label" / "label.lst").write_text("a.jpg 0 1 1 40 40 9.1 3\nb.jpg 0 1 1 40 40 9.1 3\n")


def afe_missing_list(root: Path) -> None:
    write_image(root / "afe" / "src" / "image" / "a.jpg", 64, 64, 90)
    (root / "afe" / "annos" / "TrainTest").mkdir(parents=True)
    (root / "afe" / "annos" / "TrainTest" / "Train.csv").write_text("a.jpg 0 0 40 40 3\n")


def afe_list_naming_absent_images(root: Path) -> None:
    write_image(root / "afe" / "src" / "image" / "a.jpg", 64, 64, 90)
    (root / "afe" / "annos" / "TrainTest").mkdir(parents=True)
    (root / "afe" / "annos" / "TrainTest" / "Train.csv").write_text("a.jpg 0 0 40 40 3\n")
    (root / "afe" / "annos" / "TrainTest" / "Test.csv").write_text("./src/image/b.jpg 0 0 40 40 2\n")


def afe_unknown_code(root: Path) -> None:
    afe_missing_list(root)
    (root / "afe" / "annos" / "TrainTest" / "Test.csv").write_text("a.jpg 0 0 40 40 7\n")


def affectnet_no_lists(root: Path) -> None:
    write_image(root / "affectnet" / "Manually_Annotated_Images" / "1" / "a.jpg", 64, 64, 90)


def affectnet_list_naming_absent_images(root: Path) -> None:
    affectnet_no_lists(root)
    lists = root / "affectnet" / "Manually_Annotated_file_lists"
    lists.mkdir()
    (lists / "training.csv").write_text("subDirectory_filePath,face_x,face_y,face_width,face_height,"
                                        "facial_landmarks,expression,valence,arousal\n1/a.jpg,0,0,40,40,,1,0.5,0.1\n")
    (lists / "validation.csv").write_text("7/c.jpg,0,0,40,40,,3,0.2,0.1\n")  # no header, as released


def ckplus_emotion_naming_absent_frames(root: Path) -> None:
    folder = root / "ckplus"
    write_image(folder / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png", 64, 64, 90)
    for sequence in ("001", "002"):  # sequence 002 is labelled, but cohn-kanade-images/S005/002/ is absent
        (folder / "Emotion" / "S005" / sequence).mkdir(parents=True)
        (folder / "Emotion" / "S005" / sequence / f"S005_{sequence}_00000001_emotion.txt").write_text("   3.0000000e+00\n")


def jaffe_unknown_code(root: Path) -> None:
    write_image(root / "jaffe" / "KA.ZZ1.39.tiff", 256, 256, 90)


def sfew_unknown_class(root: Path) -> None:
    write_image(root / "sfew" / "Train" / "Bored" / "a.png", 64, 64, 90)
    write_image(root / "sfew" / "Val" / "Happy" / "b.png", 64, 64, 90)


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("rafdb", no_folder, "folder not found in {folder}"),
    ("sfew", no_folder, "folder not found in {folder}"),
    ("affectnet", no_folder, "folder not found in {folder}"),
    ("rafdb", rafdb_images_without_labels,
     "label file EmoLabel/list_patition_label.txt not found (images are present, no labels)"),
    ("rafdb", rafdb_label_naming_absent_images,
     "EmoLabel/list_patition_label.txt names 1 image(s) absent from Image/aligned/ (first: test_0001_aligned.jpg)"),
    ("rafdb", rafdb_unknown_code, "line 1 of EmoLabel/list_patition_label.txt: code '8' is an unknown label code"),
    ("fer2013", fer2013_loose_images, "1 image(s) directly in train/ have no labels (no class folder)"),
    ("fer2013", fer2013_unknown_class, "unknown label code: class folder train/contempt/"),
    ("fer2013", fer2013_empty, "neither fer2013.csv nor a train/ class folder found"),
    ("ckplus", ckplus_loose_images, "1 image(s) directly in the folder have no labels"),
    ("expw", expw_images_without_labels, "label file label/label.lst not found (images are present, no labels)"),
    ("expw", expw_label_naming_absent_images, "label/label.lst names 1 image(s) absent from image/origin/ (first: b.jpg)"),
    ("afe", afe_missing_list, "label file(s) annos/TrainTest/Test.csv not found (images are present, no labels)"),
    ("afe", afe_list_naming_absent_images, "the lists name 1 image(s) absent from src/image/ (first: b.jpg)"),
    ("afe", afe_unknown_code, "line 1 of annos/TrainTest/Test.csv: emotion '7' is an unknown label code"),
    ("affectnet", affectnet_no_lists, "label file(s) Manually_Annotated_file_lists/training.csv, "
                                      "Manually_Annotated_file_lists/validation.csv not found (images are present"),
    ("affectnet", affectnet_list_naming_absent_images,
     "the lists name 1 image(s) absent from Manually_Annotated_Images/ (first: 7/c.jpg)"),
    ("ckplus", ckplus_emotion_naming_absent_frames,
     "Emotion/S005/002/S005_002_00000001_emotion.txt labels sequence cohn-kanade-images/S005/002/ which has no images"),
    ("jaffe", jaffe_unknown_code, "unknown label code in file name KA.ZZ1.39.tiff"),
    ("sfew", sfew_unknown_class, "unknown label code: class folder Train/Bored/"),
]


@pytest.mark.parametrize("command", ["prepare", "check"])
@pytest.mark.parametrize("dataset_id, build, expected", CASES, ids=[f"{c[0]}-{c[1].__name__}" for c in CASES])
def test_missing_data_exits_2_with_folder_layout_and_request(
        tmp_path: Path, registry, capsys: pytest.CaptureFixture[str], command: str, dataset_id: str,
        build: Callable[[Path], None], expected: str) -> None:
    root = tmp_path / "data"
    build(root)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", command, dataset_id, "--data-root", str(root)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    dataset = registry.dataset(dataset_id)
    folder = root / dataset_id
    assert err.startswith(f"dabench: error: dataset '{dataset_id}': ")
    assert expected.format(folder=folder) in err
    assert f"Expected layout under {folder}:\n  {dataset.layout}" in err
    assert f"request it from its owners: {dataset.request}" in err
    assert "Traceback" not in err
