"""AffectNet: header-less validation.csv, codes 8-10 dropped, contempt kept, crops by face_x/y/w/h
(checked pixel by pixel on gradient faces, so a width read as a right edge shows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from native_fixtures import grey_of, prepare, write_image
from PIL import Image

from dabench.errors import DabenchError
from dabench_datasets.affectnet import CLASSES, HEADER, AffectNet


def make_affectnet(root: Path, training: list[tuple[str, int]], validation: list[tuple[str, int]]) -> None:
    folder = root / "affectnet"
    lists = folder / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    box = (20, 10, 100, 90)  # x, y, x + width, y + height
    for name, rows, header in (("training.csv", training, True), ("validation.csv", validation, False)):
        lines = [",".join(HEADER)] if header else []
        for relative, code in rows:
            write_image(folder / "Manually_Annotated_Images" / relative, 130, 110, grey_of(code % 8), box=box, rgb=True)
            lines.append(f"{relative},20,10,80,80,1.0;2.0;3.0,{code},0.5,-0.2")
        (lists / name).write_text("\n".join(lines) + "\n")


def test_codes_map_drop_non_expressions_and_keep_contempt(tmp_path: Path) -> None:
    training = [("1/a.jpg", 0), ("1/b.jpg", 1), ("2/c.jpg", 7), ("2/d.jpg", 8), ("2/e.jpg", 9), ("3/f.jpg", 10),
                ("3/g.jpg", 6)]
    make_affectnet(tmp_path, training, [("4/h.jpg", 3), ("4/i.jpg", 10)])
    prepared = prepare(AffectNet(), tmp_path)
    train, test = prepared.split("train"), prepared.split("test")
    assert [CLASSES[i] for i in train.labels] == ["neutral", "happiness", "contempt", "anger"]
    assert [CLASSES[i] for i in test.labels] == ["surprise"]
    assert np.abs(train.images.reshape(4, -1).mean(1) - [grey_of(0), grey_of(1), grey_of(7), grey_of(6)]).max() < 3
    assert prepared.classes[-1] == "contempt"


def test_unknown_code_is_an_error(tmp_path: Path) -> None:
    make_affectnet(tmp_path, [("1/a.jpg", 11)], [])
    with pytest.raises(DabenchError, match="line 2 of Manually_Annotated_file_lists/training.csv: "
                                           "expression '11' is an unknown label code"):
        prepare(AffectNet(), tmp_path)


def gradient(width: int, height: int) -> np.ndarray:
    """(height, width) uint8 that differs at every pixel step: 10 + floor(1.2 x) + y (at most 252 here)."""
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    return (10 + (6 * x) // 5 + y).astype(np.uint8)


def test_crop_is_exactly_the_face_box(tmp_path: Path) -> None:
    """Each photo is black except its face box, which holds a gradient; the crop must be that box exactly."""
    folder = tmp_path / "affectnet"
    photo = gradient(120, 100)
    boxes = {"1/square.png": (20, 10, 48, 48), "1/wide.png": (16, 30, 96, 48)}  # face_x, face_y, width, height
    lines = [",".join(HEADER)]
    for relative, (x, y, width, height) in boxes.items():
        image = np.zeros_like(photo)
        image[y:y + height, x:x + width] = photo[y:y + height, x:x + width]
        path = folder / "Manually_Annotated_Images" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.repeat(image[:, :, None], 3, axis=2)).save(path)  # lossless: the release has .png too
        lines.append(f"{relative},{x},{y},{width},{height},1.0;2.0,1,0.5,-0.2")
    (folder / "Manually_Annotated_file_lists").mkdir(parents=True)
    (folder / "Manually_Annotated_file_lists" / "training.csv").write_text("\n".join(lines) + "\n")
    (folder / "Manually_Annotated_file_lists" / "validation.csv").write_text(lines[1] + "\n")  # an empty list is refused
    square, wide = prepare(AffectNet(), tmp_path, resolution=48).split("train").images[..., 0].astype(float)
    # 48x48 box at 48 px: no resize, so the crop is the box's pixels, bit for bit
    assert np.array_equal(square, photo[10:58, 20:68])
    # 96x48 box at 48 px: columns halve; the gradient is linear, so the resized pixel (i, j) is its value at
    # the sample centre x = 16 + 2 j + 0.5, y = 30 + i (within rounding)
    i, j = np.meshgrid(np.arange(48), np.arange(48), indexing="ij")
    expected = 10 + 1.2 * (16 + 2 * j + 0.5) + 30 + i
    assert np.abs(wide - expected).max() <= 1.5
    assert wide.min() > 0  # nothing from outside the box
