"""dabench.testing.write_image_folder: a dataset's own folder names map to canonical classes, and a name it
cannot draw is one clear error (it used to be a raw `ValueError: tuple.index(x)` for FER2013's `angry`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.testing import write_image_folder


def _listing(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in sorted(root.rglob("*.png"))}


def test_a_mapping_names_the_folders_and_draws_their_classes(tmp_path: Path) -> None:
    from dabench_datasets.fer2013 import FOLDER_CLASSES, Fer2013

    write_image_folder(tmp_path / "fer2013", per_class=2, classes=FOLDER_CLASSES)
    assert sorted(p.name for p in (tmp_path / "fer2013" / "train").iterdir()) == sorted(FOLDER_CLASSES)
    dataset = Fer2013()  # the folders read back as the classes they were mapped to
    splits = dataset.build(tmp_path / "fer2013", dataset.options({"resolution": 16}))
    for split in ("train", "test"):
        assert np.bincount(splits[split].labels, minlength=7).tolist() == [2] * 7
    # the faces in 'angry' are the ones drawn for anger: the same files as a canonical-named folder's
    write_image_folder(tmp_path / "canonical", per_class=2)
    mapped, canonical = _listing(tmp_path / "fer2013"), _listing(tmp_path / "canonical")
    for folder, class_name in FOLDER_CLASSES.items():
        for split in ("train", "test"):
            for number in ("0000", "0001"):
                assert mapped[f"{split}/{folder}/{number}.png"] == canonical[f"{split}/{class_name}/{number}.png"]


def test_two_folders_of_one_class_get_different_faces(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=3, splits=("train",), classes={"happy": "happiness", "joy": "happiness",
                                                                          "sad": "sadness"})
    files = _listing(tmp_path)
    assert sorted({name.split("/")[1] for name in files}) == ["happy", "joy", "sad"]
    assert len(files) == 9 and len(set(files.values())) == 9  # nine different faces


def test_a_sequence_of_canonical_names_is_the_folder_names(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=1, splits=("test",), classes=("anger", "neutral"))
    assert sorted(_listing(tmp_path)) == ["test/anger/0000.png", "test/neutral/0000.png"]


CANONICAL = ", ".join(CANONICAL_CLASSES)
MAPPING_ADVICE = ("For a dataset whose folders have their own names, map each folder to its class: "
                  "classes={'angry': 'anger', 'happy': 'happiness', ...}")


@pytest.mark.parametrize(("classes", "message"), [
    (("angry", "happy"), f"write_image_folder: 'angry' is not a canonical class; the generated faces are drawn in "
                         f"{CANONICAL} (extras such as contempt cannot be drawn). {MAPPING_ADVICE}"),
    ({"Angry": "angry"}, f"write_image_folder: folder 'Angry' -> 'angry' is not a canonical class; the generated "
                         f"faces are drawn in {CANONICAL} (extras such as contempt cannot be drawn). {MAPPING_ADVICE}"),
    ({"contempt": "contempt"}, "write_image_folder: folder 'contempt' -> 'contempt' is not a canonical class"),
    (("Happiness",), "write_image_folder: 'Happiness' is not a canonical class"),
    ("anger", "write_image_folder: classes must be a mapping of folder names to canonical classes or a sequence "
              "of canonical classes, got 'anger'"),
    (7, "write_image_folder: classes must be a mapping"),
    ({}, "write_image_folder: classes is empty; give at least one folder"),
    ({"a/b": "anger"}, "write_image_folder: folder name 'a/b' (for anger) is not one folder's name"),
    ({"..": "fear"}, "write_image_folder: folder name '..' (for fear) is not one folder's name"),
])
def test_a_name_it_cannot_draw_is_one_clear_error(tmp_path: Path, classes, message: str) -> None:
    with pytest.raises(DabenchError) as caught:
        write_image_folder(tmp_path / "faces", classes=classes)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "faces").exists()  # nothing half-written
