"""The dataset kit (dabench.testing.check_dataset) and FolderDataset.build catch a dataset whose items carry a split
it does not declare, that names no split rule (a warning), whose labels are one class, or whose splits hold the same
images; each planted violation gets its exact message, and well-behaved datasets pass without a warning."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from dabench.data import DataOptions, Dataset, FaceOptions, FolderDataset, ImageItem, Split
from dabench.data.images import list_images, subfolders
from dabench.data.splits import official_split_hash
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.testing import ConformanceError, ConformanceWarning, check_dataset, write_image_folder

ADVICE = ("Nothing was prepared. Give each item one of train, test in items() (a validation set usually joins train), "
          "or declare the split in the dataset's splits")


class KitFaces(FolderDataset):
    """``<split folder>/<class>/*.png``; ``split_of`` renames split folders (a plugin's own split names)."""

    id = "kit_faces"
    classes = CANONICAL_CLASSES
    description = "the kit tests' faces: <split>/<class>/*.png"
    layout = "<split>/<class>/*.png with canonical class names"
    official_split = "the train/ and test/ folders"
    split_of: ClassVar[dict[str, str]] = {}

    def items(self, folder: Path, options: FaceOptions) -> list[ImageItem]:
        return [item for split in subfolders(folder) for item in self.items_of(split)]

    def items_of(self, split_folder: Path) -> list[ImageItem]:
        split = self.split_of.get(split_folder.name, split_folder.name)
        return [ImageItem(f"{split_folder.name}/{cls.name}/{path.name}", split, self.label(cls.name), path)
                for cls in subfolders(split_folder) for path in list_images(cls)]

    def label(self, class_name: str) -> int:
        return self.classes.index(class_name)


def faces(tmp_path: Path, splits: tuple[str, ...] = ("train", "test"), **kwargs) -> Path:
    write_image_folder(tmp_path / "kit_faces", per_class=kwargs.pop("per_class", 1), splits=splits, **kwargs)
    return tmp_path


def quietly_passes(dataset: Dataset, root: Path | None) -> dict[str, int]:
    """check_dataset with every ConformanceWarning an error: a well-behaved dataset gives none."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConformanceWarning)
        return check_dataset(dataset, root)


def warned(dataset: Dataset, root: Path | None) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_dataset(dataset, root)
    return [str(w.message) for w in caught if issubclass(w.category, ConformanceWarning)]


# ------------------------------------------------------------------------------------------ unknown splits
@pytest.mark.parametrize("split", ["validation", "val", "dev", "Train", "TEST", "test ", "", "train/"])
def test_build_refuses_items_of_an_undeclared_split(tmp_path: Path, split: str) -> None:
    root = faces(tmp_path, ("train", "test", "extra"))
    dataset = type("Renamed", (KitFaces,), {"split_of": {"extra": split}})()
    expected = (f"dataset 'kit_faces' in {root / 'kit_faces'}: items() gave splits that are not among its splits "
                f"(train, test): split {split!r}: 7 item(s), e.g. 'extra/anger/0000.png'. {ADVICE}")
    with pytest.raises(DabenchError) as raised:
        dataset.build(root / "kit_faces", dataset.options({"resolution": 16}))
    assert str(raised.value) == expected
    with pytest.raises(ConformanceError) as failed:
        check_dataset(dataset, root)
    assert str(failed.value) == f"Renamed.build failed on {root / 'kit_faces'}: {expected}"
    from dabench.data.check import check_dataset as data_check

    with pytest.raises(DabenchError) as checked:  # `dabench data check` says the same, instead of counting them
        data_check(dataset, root / "kit_faces")
    assert str(checked.value) == expected


def test_every_undeclared_split_is_named_in_one_message(tmp_path: Path) -> None:
    root = faces(tmp_path, ("train", "test", "extra", "more"))
    dataset = type("Renamed", (KitFaces,), {"split_of": {"extra": "validation", "more": "dev"}})()
    with pytest.raises(DabenchError) as raised:
        dataset.build(root / "kit_faces", dataset.options({"resolution": 16}))
    assert str(raised.value) == (
        f"dataset 'kit_faces' in {root / 'kit_faces'}: items() gave splits that are not among its splits (train, "
        f"test): split 'validation': 7 item(s), e.g. 'extra/anger/0000.png'; split 'dev': 7 item(s), e.g. "
        f"'more/anger/0000.png'. {ADVICE}")


def test_a_declared_or_mapped_validation_split_passes(tmp_path: Path) -> None:
    root = faces(tmp_path, ("train", "test", "validation"))
    declared = type("Declared", (KitFaces,), {"splits": ("train", "validation", "test")})()
    assert quietly_passes(declared, root) == {"train": 7, "validation": 7, "test": 7}
    mapped = type("Mapped", (KitFaces,), {"split_of": {"validation": "train"}})()
    assert quietly_passes(mapped, root) == {"train": 14, "test": 7}


class PlainFaces(Dataset):
    """A dataset that builds its splits itself (not a FolderDataset); ``extra`` names splits it adds."""

    id = "plain_faces"
    classes = CANONICAL_CLASSES
    description = "the kit tests' generated splits"
    generated = True
    extra: ClassVar[tuple[str, ...]] = ()

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        from dabench.data.synth import generate_faces

        built = {}
        for offset, name in enumerate(("train", "test", *self.extra)):
            images, labels = generate_faces(14, "lab", options.resolution, seed=offset)
            built[name] = Split(images, labels)
        return built


@pytest.mark.parametrize("extra", [("validation",), ("val", "dev")])
def test_a_built_split_that_is_not_declared_fails(extra: tuple[str, ...]) -> None:
    dataset = type("Extra", (PlainFaces,), {"extra": extra})()
    listed = ", ".join(map(repr, sorted(extra)))
    with pytest.raises(ConformanceError) as failed:
        check_dataset(dataset)
    assert str(failed.value) == (
        f"Extra.build returned split(s) {listed} that are not in Extra.splits ('train', 'test'): the runner never reads "
        f"them, so their images are dropped without a word. Put their images in one of train, test (a validation set "
        f"usually joins train), or declare the split in splits")
    assert quietly_passes(PlainFaces(), None) == {"train": 14, "test": 14}


# ------------------------------------------------------------------------------------------ split rules
FOLDER_ADVICE = ("name the official split in one sentence (official_split = \"the train/ and test/ folders\") or "
                 "point split_rule_file at a rule YAML shipped with the plugin")
PLAIN_ADVICE = ("override split_hash() to return official_split_hash(self.id, \"<the split in one sentence>\") "
                "(dabench.data.splits), or the sha256 of a split file shipped with the plugin")


class PlainFolder(Dataset):
    """A folder dataset that is not a FolderDataset: its build reads KitFaces' layout."""

    id = "kit_faces"
    classes = CANONICAL_CLASSES
    description = "the kit tests' faces, read by a plain Dataset"
    layout = "<split>/<class>/*.png with canonical class names"

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        return KitFaces().build(folder, FaceOptions(resolution=options.resolution))


@pytest.mark.parametrize(("dataset", "advice"), [
    (type("NoRule", (KitFaces,), {"official_split": ""})(), FOLDER_ADVICE),
    (PlainFolder(), PLAIN_ADVICE),
])
@pytest.mark.parametrize("with_data", [True, False])
def test_a_dataset_without_a_split_rule_is_warned(tmp_path: Path, dataset: Dataset, advice: str,
                                                  with_data: bool) -> None:
    root = faces(tmp_path) if with_data else None
    assert warned(dataset, root) == [
        f"{type(dataset).__name__} has no split rule (split_hash() is None): results record no split hash, so two "
        f"versions of its split cannot be told apart, and a split made up in code goes unnoticed; {advice}. A "
        f"warning, not a failure: a dataset whose folder holds its official split only needs to name it"]


def test_a_named_split_or_a_rule_file_passes_quietly(tmp_path: Path) -> None:
    root = faces(tmp_path)
    rule = tmp_path / "kit_faces_v1.yaml"
    rule.write_text("name: kit_faces\nversion: 1\nkey: split folder\ntest_keys: [test]\n")

    class RuleFaces(KitFaces):
        official_split = ""
        split_rule_file = rule

        def items_of(self, split_folder: Path) -> list[ImageItem]:
            return [ImageItem(item.name, self.assign_split(split_folder.name), item.label, item.path)
                    for item in super().items_of(split_folder)]

    class HashedPlain(PlainFolder):
        def split_hash(self) -> str:
            return official_split_hash(self.id, "the train/ and test/ folders")

    for dataset in (KitFaces(), RuleFaces(), HashedPlain()):
        assert quietly_passes(dataset, root) == {"train": 7, "test": 7}


# ------------------------------------------------------------------------------------------ one class
ONE_CLASS = ("{name}: every image of every split has label {label} ({cls}); a FER dataset has several classes, so the "
             "label mapping is wrong (each image's label must be self.classes.index(<its class>)), or the test folder "
             "holds one class only (write_image_folder writes all seven)")


@pytest.mark.parametrize(("label", "expected"), [
    (lambda self, name: 0, 0),                                           # a constant
    (lambda self, name: len(self.classes) - 1, 6),                       # the last index
    (lambda self, name: self.classes.index("happiness"), 3),             # one class's index for all
    (lambda self, name: list(self.classes).index(name) * 0 + 5, 5),      # computed, then overwritten
])
def test_labels_of_one_class_fail(tmp_path: Path, label, expected: int) -> None:
    dataset = type("OneLabel", (KitFaces,), {"label": label})()
    with pytest.raises(ConformanceError) as failed:
        check_dataset(dataset, faces(tmp_path))
    assert str(failed.value) == ONE_CLASS.format(name="OneLabel", label=expected, cls=CANONICAL_CLASSES[expected])


def test_a_test_folder_of_one_class_fails_with_the_fixture_named(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError) as failed:
        check_dataset(KitFaces(), faces(tmp_path, classes=["anger"], per_class=3))
    assert str(failed.value) == ONE_CLASS.format(name="KitFaces", label=5, cls="anger")


def test_one_split_of_one_class_is_warned(tmp_path: Path) -> None:
    root = faces(tmp_path, ("train",))
    write_image_folder(root / "kit_faces", per_class=2, splits=("test",), classes=["sadness"])
    assert warned(KitFaces(), root) == [
        "KitFaces: all 2 images of split test have label 4 (sadness) while other splits have other classes; right "
        "for a tiny fixture of one class, wrong for a real dataset (check how that split's labels are read)"]
    by_split = type("BySplit", (KitFaces,), {"items_of": lambda self, folder: [
        ImageItem(item.name, item.split, ("train", "test").index(item.split), item.path)
        for item in KitFaces.items_of(self, folder)]})()
    assert len(warned(by_split, faces(tmp_path / "again"))) == 2  # train all 0, test all 1: each split is seen


# ------------------------------------------------------------------------------------------ shared images
SAME = ("{name}: splits {a} and {b} hold the same images (every one of the {n} distinct images of {smaller} is also in "
        "the other; e.g. {a} image {i} is {b} image {j}, at 16 px): a model is scored on what it was trained or "
        "selected on. Each image belongs to one split: check how items() (or build) assigns them")


def _in_both(self, split_folder: Path) -> list[ImageItem]:
    """Every image of the test folder listed in train too (test is a subset of train)."""
    items = KitFaces.items_of(self, split_folder)
    if split_folder.name != "test":
        return items
    return items + [ImageItem(f"copy/{item.name}", "train", item.label, item.path) for item in items]


def _everywhere(self, split_folder: Path) -> list[ImageItem]:
    """Every image listed in every split (the split read from nowhere)."""
    items = KitFaces.items_of(self, split_folder)
    return [ImageItem(f"{split}/{item.name}", split, item.label, item.path) for split in self.splits for item in items]


@pytest.mark.parametrize(("items_of", "splits", "message"), [
    (_everywhere, ("train", "test"), dict(a="train", b="test", n=14, smaller="train", i=0, j=0)),
    (_in_both, ("train", "test"), dict(a="train", b="test", n=7, smaller="test", i=0, j=0)),
    (_everywhere, ("train", "val", "test"), dict(a="train", b="val", n=14, smaller="train", i=0, j=0)),
])
def test_splits_holding_the_same_images_fail(tmp_path: Path, items_of, splits, message) -> None:
    dataset = type("Leaky", (KitFaces,), {"items_of": items_of, "splits": splits})()
    with pytest.raises(ConformanceError) as failed:
        check_dataset(dataset, faces(tmp_path))
    assert str(failed.value) == SAME.format(name="Leaky", **message)


def test_a_build_returning_one_split_twice_fails() -> None:
    class Twice(PlainFaces):
        def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
            built = super().build(folder, options)
            return {"train": built["train"], "test": Split(built["train"].images.copy(), built["train"].labels)}

    with pytest.raises(ConformanceError) as failed:
        check_dataset(Twice())
    assert str(failed.value) == SAME.format(name="Twice", a="train", b="test", n=14, smaller="train", i=0, j=0)


def test_a_few_shared_images_are_warned(tmp_path: Path) -> None:
    root = faces(tmp_path)
    shutil.copy(root / "kit_faces" / "test" / "anger" / "0000.png", root / "kit_faces" / "train" / "anger" / "zz.png")
    assert warned(KitFaces(), root) == [
        "KitFaces: 1 image(s) occur in both train and test (e.g. train image 1 is test image 0, at 16 px); real "
        "datasets hold some such duplicates (the dedup option drops them), but in a test folder this is a split leak"]


def test_the_fixture_splits_share_no_image(tmp_path: Path) -> None:
    """What the passing cases above rest on: write_image_folder's splits hold distinct faces at 16 px."""
    built = KitFaces().build(faces(tmp_path, per_class=4) / "kit_faces", FaceOptions(resolution=16))
    rows = {split: {image.tobytes() for image in built[split].images} for split in built}
    assert len(rows["train"]) == len(rows["test"]) == 28 and not rows["train"] & rows["test"]
    assert np.unique(built["test"].labels).tolist() == list(range(7))
