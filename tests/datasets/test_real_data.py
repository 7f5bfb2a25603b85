"""The real FER2013, CK+48 and ExpW subset in ../shared/data (CI has them; skipped elsewhere): counts, class spaces,
the subject-disjoint split, and the data check's exact count of FER2013's known defects."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dabench.cli import main
from dabench.data.cache import load_prepared
from dabench.data.check import check_dataset
from dabench.data.dataset import PreparedDataset
from dabench.labels import CANONICAL_CLASSES, pair_classes
from dabench_datasets.ckplus import CLASSES as CKPLUS_CLASSES
from dabench_datasets.ckplus import CkPlus, subject_of
from dabench_datasets.fer2013 import Fer2013

# as tests/conftest.py finds it: $DABENCH_TEST_DATA, else ../shared/data beside the checkout
SHARED_DATA = Path(os.environ.get("DABENCH_TEST_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
# ../shared/data/README.md, columns angry disgust fear happy neutral sad surprise
README_COUNTS = {"train": (3995, 436, 4097, 7215, 4965, 4830, 3171), "val": (467, 56, 496, 895, 607, 653, 415),
                 "test": (491, 55, 528, 879, 626, 594, 416)}
README_CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")


@pytest.fixture(scope="session")
def fer2013_prepared(shared_home: Path) -> PreparedDataset:
    """FER2013 at 48 px, decoded once per session into the session DABENCH_HOME (later runs reuse it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real FER data not found at {SHARED_DATA} (present in CI; absent on user machines)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DABENCH_HOME", str(shared_home))
        dataset = Fer2013()
        return load_prepared(dataset, dataset.options({"resolution": 48}), SHARED_DATA)


def test_fer2013_folder_layout_counts(fer2013_prepared: PreparedDataset) -> None:
    assert {name: len(split) for name, split in fer2013_prepared.splits.items()} == \
        {"train": 28709, "test": 3589, "val": 3589}
    for split, expected in README_COUNTS.items():
        counts = np.bincount(fer2013_prepared.split(split).labels, minlength=7)
        assert tuple(counts[CANONICAL_CLASSES.index(name)] for name in README_CLASSES) == expected
    assert fer2013_prepared.split("train").images.shape[1:] == (48, 48, 1)


def test_ckplus_classes_and_subject_disjoint_split(shared_data: Path) -> None:
    dataset = CkPlus()
    items = dataset.items(shared_data / "ckplus", dataset.options({}))
    assert len(items) == 981
    assert len({item.label for item in items}) == 7
    assert [name for name in CKPLUS_CLASSES if name in CANONICAL_CLASSES] == [
        "surprise", "fear", "disgust", "happiness", "sadness", "anger"]
    assert len(pair_classes(Fer2013.classes, CkPlus.classes)) == 6
    subjects = {split: {subject_of(item.name) for item in items if item.split == split} for split in ("train", "test")}
    assert len(subjects["train"] | subjects["test"]) == 118
    assert not subjects["train"] & subjects["test"]
    assert len(subjects["test"]) > 10
    prepared = load_prepared(dataset, dataset.options({"resolution": 48}), shared_data)
    assert len(prepared.split("train")) + len(prepared.split("test")) == 981


def test_data_check_finds_fer2013_known_defects(shared_data: Path) -> None:
    report = check_dataset(Fer2013(), shared_data / "fer2013")
    assert len(report.items) == 35887 and not report.unreadable
    assert (len(report.groups), report.surplus) == (1516, 1853)
    assert len(report.crossing()) == 557
    assert len(report.conflicting()) == 57
    text = "\n".join(report.lines())
    assert "exact duplicates (sha256 of the file bytes): 1,516 groups, 1,853 surplus files" in text
    assert "warning: 557 duplicate groups span more than one split" in text
    differing = [p for p in report.near if report.items[p.later].label != report.items[p.earlier].label]
    assert (len(report.near), len(differing)) == (743, 49)  # near-identical faces across splits


def test_data_check_finds_the_expw_subsets_near_duplicates(shared_data: Path) -> None:
    """The issue's count, found by the check: 16 test faces with a near-identical copy in train, 7 relabelled."""
    from dabench_datasets.expw import Expw

    report = check_dataset(Expw(), shared_data / "expw")
    pairs = {(report.items[p.later].split, report.items[p.earlier].split) for p in report.near}
    differing = [p for p in report.near if report.items[p.later].label != report.items[p.earlier].label]
    assert (len(report.near), len(differing), pairs) == (16, 7, {("test", "train")})


def test_data_check_cli_on_ckplus(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "ckplus", "--data-root", str(shared_data)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "layout found in" in out and "CK+48 class folders" in out
    assert "extras: contempt (dropped by pairs); canonical classes absent: neutral" in out


@pytest.mark.slow
def test_source_only_fer2013_to_ckplus_runs_and_records_split_hashes(
        fer2013_prepared: PreparedDataset, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from dabench.run.execute import execute, plan_run

    monkeypatch.setenv("DABENCH_DATA", str(SHARED_DATA))
    plan = plan_run(registry, "source_only", "fer2013:ckplus", 0, sets=("source.epochs=1",))
    assert plan.config["backbone"] == "small_cnn" and plan.config["image_size"] == 48
    assert plan.classes == ("surprise", "fear", "disgust", "happiness", "sadness", "anger")
    result = execute(plan, registry, "cpu")
    assert result["split_hashes"] == {"fer2013": Fer2013().split_hash(), "ckplus": CkPlus().split_hash()}
    assert result["accuracy"] == result["source_accuracy"]  # source_only adapts nothing
    assert result["accuracy"] > 1 / 6  # one epoch on FER2013 already beats chance on CK+


def _expw(shared_data: Path) -> Path:
    folder = shared_data / "expw"
    if not folder.is_dir():
        pytest.skip(f"real ExpW subset not found at {folder}")
    return folder


def test_expw_subset_counts_and_photo_level_split(shared_data: Path) -> None:
    from dabench_datasets.expw import Expw

    dataset = Expw()
    items = dataset.items(_expw(shared_data), dataset.options({}))
    assert len(items) == 5705 and len({item.group for item in items}) == 5408
    split_sizes = {name: sum(item.split == name for item in items) for name in ("train", "test")}
    assert split_sizes == {"train": 4625, "test": 1080}  # docs/datasets.md
    photo_splits: dict[str, set[str]] = {}
    for item in items:
        photo_splits.setdefault(item.group, set()).add(item.split)
    assert all(len(splits) == 1 for splits in photo_splits.values())  # no photo straddles splits
    assert np.bincount([item.label for item in items]).tolist() == [815] * 7


def test_expw_label_file_naming_missing_photos_is_one_clear_error(shared_data: Path, tmp_path: Path) -> None:
    """The real label file with the real photos, less three of them (links, nothing is copied)."""
    from dabench.errors import DabenchError
    from dabench_datasets.expw import Expw

    real = _expw(shared_data)
    (tmp_path / "label").mkdir()
    (tmp_path / "label" / "label.lst").symlink_to(real / "label" / "label.lst")
    photos = sorted((real / "image" / "origin").iterdir())
    missing = photos[:3]
    (tmp_path / "image" / "origin").mkdir(parents=True)
    for photo in photos[3:]:
        (tmp_path / "image" / "origin" / photo.name).symlink_to(photo)
    dataset = Expw()
    with pytest.raises(DabenchError) as raised:
        dataset.items(tmp_path, dataset.options({}))
    first_line = str(raised.value).splitlines()[0]
    listed = [text.split()[0] for text in (real / "label" / "label.lst").read_text().splitlines()]
    assert first_line == (f"dataset 'expw': label/label.lst names 3 image(s) absent from image/origin/ (first: "
                          f"{', '.join(p.name for p in missing)}); line {listed.index(missing[0].name) + 1} of "
                          f"label/label.lst names {missing[0].name} in {tmp_path}.")
