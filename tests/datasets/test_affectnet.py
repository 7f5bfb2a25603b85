"""AffectNet: header-less validation.csv, codes 8-10 dropped, contempt kept, crops by face_x/y/w/h."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from native_fixtures import grey_of, prepare, write_image

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
    with pytest.raises(DabenchError, match="unknown label code 11 at line 2 of training.csv"):
        prepare(AffectNet(), tmp_path)
