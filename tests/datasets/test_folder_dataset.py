"""The public folder-dataset base, as docs/writing-plugins.md tells plugin authors to use it: a plugin
subclassing ``dabench.data.FolderDataset`` gets ``data check``, its split rule and hash; a fixed crop
applies or is refused; a bad option is one line; ``data check`` works for a plain ``Dataset`` too."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import grey_of, prepare, write_image

from dabench.cli import main
from dabench.data import CropSpec, Dataset, FaceOptions, FolderDataset, ImageItem, Split
from dabench.data.folder import NativeDataset
from dabench.data.images import decode_items, list_images
from dabench.data.splits import SplitRule
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench_datasets.ckplus import CkPlus

CODES = {"AN": "anger", "HA": "happiness", "SA": "sadness"}
FILE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d*\.\d+\.tiff$")
FIXED = (0.25, 0.25, 0.75, 0.75)
BOX = (16, 16, 48, 48)  # FIXED on a 64x64 frame
SUBJECTS = ("KA", "KL", "KM", "YM")


class MyJaffe(FolderDataset):
    """JAFFE by subject, written from the docs alone (the user study's plugin)."""

    id = "my_jaffe"
    classes = CANONICAL_CLASSES
    description = "JAFFE-style whole frames, split by subject"
    layout = "a flat folder of KA.AN1.39.tiff-style files"
    mode = "L"
    fixed_crop = FIXED
    frames = True  # False: the items say nothing about frames (the default uncropped=False)

    def __init__(self, rule_file: Path) -> None:
        self.split_rule_file = rule_file

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        items = []
        for path in list_images(folder):
            match = FILE_NAME.match(path.name)
            if match is None or match.group(2) not in CODES:
                raise self.missing(folder, f"unknown label code in file name {path.name}")
            subject = match.group(1)
            items.append(ImageItem(path.name, self.assign_split(subject), self.classes.index(CODES[match.group(2)]),
                                   path, uncropped=True if self.frames else False, group=subject))
        return items


def write_my_jaffe(root: Path, rule_dir: Path) -> Path:
    """Frames dark outside BOX and grey (coding the label) inside it; a rule sending KM and YM to test."""
    for subject in SUBJECTS:
        for k, code in enumerate(CODES):
            write_image(root / "my_jaffe" / f"{subject}.{code}1.{10 + k}.tiff", 64, 64, grey_of(k), box=BOX)
    rule_dir.mkdir(parents=True, exist_ok=True)
    rule = rule_dir / "my_jaffe_v1.yaml"
    rule.write_text("name: my_jaffe\nversion: 1\nkey: subject id\ntest_keys: [KM, YM]\n")
    return rule


def test_a_plugin_folder_dataset_gets_data_check(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]) -> None:
    rule = write_my_jaffe(tmp_path / "data", tmp_path / "splits")
    registry.add("datasets", MyJaffe(rule), "test")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "my_jaffe", "--data-root", str(tmp_path / "data")])
    assert exit_info.value.code == 0  # every file readable
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"my_jaffe: layout found in {tmp_path / 'data' / 'my_jaffe'}: {MyJaffe.layout}"
    header = next(i for i, line in enumerate(lines) if line.startswith("split"))
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 2:header + 5]}
    anger, happiness, sadness = (CANONICAL_CLASSES.index(name) for name in ("anger", "happiness", "sadness"))
    assert [rows["train"][i] for i in (anger, happiness, sadness)] == ["2", "2", "2"] and rows["train"][-1] == "6"
    assert rows["test"][-1] == "6" and rows["all"][-1] == "12"
    assert "unreadable or truncated files: 0" in lines
    # the four subjects' frames of one code are byte-identical here: the check finds them across splits
    assert "exact duplicates (sha256 of the file bytes): 3 groups, 9 surplus files" in lines
    assert "  test + train: 3 groups" in lines


def test_a_plugin_folder_dataset_splits_by_its_rule_and_hashes_it(tmp_path: Path) -> None:
    rule = write_my_jaffe(tmp_path / "data", tmp_path / "splits")
    dataset = MyJaffe(rule)
    prepared = prepare(dataset, tmp_path / "data")
    assert (len(prepared.split("train")), len(prepared.split("test"))) == (6, 6)
    digest = SplitRule.load(rule).digest
    assert dataset.split_hash() == digest == prepared.meta["split_hash"]
    assert dataset.split_identity(dataset.options({})) == f"rule my_jaffe_v1.yaml (my_jaffe v1) sha256:{digest}"
    # uncropped=True: the fixed crop keeps the face box only, whose grey codes the label
    train = prepared.split("train")
    assert np.abs(train.images.reshape(6, -1).mean(1) - [grey_of(int(c)) for c in [0, 1, 2] * 2]).max() < 1.5
    assert isinstance(dataset, NativeDataset)  # the former name still works


def test_assign_split_without_a_rule_file_says_what_to_set() -> None:
    class NoRule(FolderDataset):
        id = "no_rule"

    with pytest.raises(DabenchError) as error:
        NoRule().assign_split("KA")
    assert str(error.value) == ("dataset 'no_rule' has no split_rule_file; set it to a split rule YAML shipped "
                                "beside the plugin (docs/datasets.md, Split rules) before assigning splits")


UNREACHABLE = ("dataset 'my_jaffe': the fixed crop (0.25, 0.25, 0.75, 0.75) reaches none of the 12 images (all have "
               "uncropped=False, the default, and no box); set ImageItem(uncropped=True) on the whole frames it is "
               "for (uncropped=None: frames by size, shorter side > 256 px), or leave the crop out (CropSpec('none'); "
               "on a FolderDataset, no fixed_crop)")


def test_a_fixed_crop_no_item_can_take_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], registry,
                                                  fresh_home: Path) -> None:
    rule = write_my_jaffe(tmp_path / "data", tmp_path / "splits")
    dataset = MyJaffe(rule)
    dataset.frames = False
    with pytest.raises(DabenchError) as error:
        prepare(dataset, tmp_path / "data")
    assert str(error.value) == UNREACHABLE
    assert len(prepare(dataset, tmp_path / "data", crop="none").split("train")) == 6  # crop=none: nothing to refuse
    registry.add("datasets", dataset, "test")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "my_jaffe", "--data-root", str(tmp_path / "data")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"dabench: error: {UNREACHABLE}\n"


def test_decode_items_refuses_a_fixed_crop_the_items_cannot_take(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png", 64, 64, 90, box=BOX)
    boxed = ImageItem("b.png", "train", 0, path, box=(0, 0, 64, 64))
    with pytest.raises(DabenchError) as error:
        decode_items([ImageItem("a.png", "train", 0, path), boxed], 16, "L", CropSpec("fixed", FIXED))
    assert str(error.value).startswith("the fixed crop (0.25, 0.25, 0.75, 0.75) reaches none of the 2 images (1 have "
                                       "their own box, the rest uncropped=False, the default); set ImageItem(")
    images, _ = decode_items([ImageItem("a.png", "train", 0, path, uncropped=True)], 16, "L", CropSpec("fixed", FIXED))
    assert images.min() == images.max() == 90  # applied: only the face box is left
    # the whole-image box, crop=none, and items sized by rule (uncropped=None) are not refused
    decode_items([ImageItem("a.png", "train", 0, path)], 16, "L", CropSpec("fixed"))
    decode_items([ImageItem("a.png", "train", 0, path)], 16, "L", CropSpec("none", FIXED))
    decode_items([ImageItem("a.png", "train", 0, path, uncropped=None)], 16, "L", CropSpec("fixed", FIXED))


def test_an_option_that_does_not_fit_the_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             registry) -> None:
    for n, subject in enumerate(("S005", "S010")):
        write_image(tmp_path / "ckplus" / "happy" / f"{subject}_001_00000011.png", 48, 48, grey_of(n))
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "ckplus", "--data-root", str(tmp_path), "--set", "peak_frames=1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"dabench: error: bad option for dataset 'ckplus': peak_frames=1 applies to the original cohn-kanade-images/ "
        f"tree only; {tmp_path / 'ckplus'} holds CK+48 class folders\n")
    assert len(prepare(CkPlus(), tmp_path, resolution=48).split("train")) + len(
        prepare(CkPlus(), tmp_path, resolution=48).split("test")) == 2  # the default is fine, and CK+48 is not cropped


def test_option_error_is_one_line_without_the_missing_folder_advice() -> None:
    error = MyJaffe(Path("unused.yaml")).option_error("crop=haar needs whole frames")
    assert str(error) == "bad option for dataset 'my_jaffe': crop=haar needs whole frames"


class PlainFaces(Dataset):
    """A dataset that implements only ``build``, as docs/writing-plugins.md's 'not a folder of files'."""

    id = "plain_faces"
    classes = CANONICAL_CLASSES
    description = "faces in <split>/<class>/*.png"
    layout = "train/<class>/*.png and test/<class>/*.png"
    native_size = 16

    def build(self, folder: Path | None, options) -> dict[str, Split]:
        assert folder is not None
        splits = {}
        for split in self.splits:
            items = [ImageItem(p.name, split, self.classes.index(c.name), p)
                     for c in sorted((folder / split).iterdir()) for p in list_images(c)]
            images, _ = decode_items(items, options.resolution, "L", CropSpec("none"))
            splits[split] = Split(images, np.array([i.label for i in items], dtype=np.int64))
        return splits


def test_data_check_of_a_dataset_that_only_builds(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "plain_faces"
    write_image(folder / "train" / "happiness" / "a.png", 32, 32, 100)
    write_image(folder / "train" / "anger" / "b.png", 32, 32, 60, box=(0, 0, 16, 16))
    write_image(folder / "test" / "happiness" / "c.png", 32, 32, 100)  # the same pixels as train's a.png
    registry.add("datasets", PlainFaces(), "test")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "plain_faces", "--data-root", str(tmp_path)])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"plain_faces: layout found in {folder}: {PlainFaces.layout}",
                         "checked from its splits as build() returns them at 16 px (a FolderDataset's items() "
                         "would let the check read each file)"]
    assert "blank (single-value) images: 2" in lines
    assert "exact duplicates (sha256 of the prepared pixels at 16 px): 1 group, 1 surplus file" in lines
    assert "  test + train: 1 group" in lines


def test_data_check_of_a_generated_dataset_says_why_not(registry, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "synth-lab"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("dabench: error: dataset 'synth-lab' is generated from code, not read from a "
                                       "folder; `data check` has nothing to check\n")
