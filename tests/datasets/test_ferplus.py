"""FER+: the three FER2013{Train,Valid,Test}/label.csv folders, the majority rule on hand-made vote rows
(ties, unknown and NF dropped, contempt kept), header or none, box or none, the exact errors for bad
label files, the refused probability rule, and `dabench data check ferplus`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import prepare
from PIL import Image

from dabench.errors import DabenchError
from dabench_datasets.ferplus import CLASSES, PROBABILITY_UNSUPPORTED, VOTE_COLUMNS, FerPlus, majority_class


def votes(**counts: int) -> tuple[int, ...]:
    """The 10 vote counts in label.csv's column order, e.g. votes(happiness=6, neutral=4)."""
    assert set(counts) <= set(VOTE_COLUMNS), counts
    return tuple(counts.get(name, 0) for name in VOTE_COLUMNS)


def write_png(path: Path, seed: int) -> np.ndarray:
    """A random 48x48 grayscale PNG (lossless, so the prepared image must equal it at 48 px)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def make_ferplus(root: Path, rows: dict[str, list[tuple[str, tuple[int, ...]]]], header: bool = False,
                 box: bool = True) -> dict[str, np.ndarray]:
    """``root/ferplus/<split dir>/label.csv`` with the rows (image, votes) and a PNG for each; returns
    'FER2013Train/fer0000000.png' -> its pixels."""
    written = {}
    for split_dir in ("FER2013Train", "FER2013Valid", "FER2013Test"):
        folder = root / "ferplus" / split_dir
        folder.mkdir(parents=True)
        with open(folder / "label.csv", "w", newline="") as handle:
            writer = csv.writer(handle)  # quotes the box's commas, as the release does
            if header:
                writer.writerow(["Image name", *(["box"] if box else []), *VOTE_COLUMNS])
            for image, counts in rows.get(split_dir, []):
                writer.writerow([image, *(["(0, 0, 48, 48)"] if box else []), *counts])
                written[f"{split_dir}/{image}"] = write_png(folder / image, seed=len(written))
    return written


ROWS = {
    "FER2013Train": [
        ("fer0000000.png", votes(neutral=10)),
        ("fer0000001.png", votes(happiness=6, surprise=3, unknown=1)),
        ("fer0000002.png", votes(happiness=5, surprise=5)),  # tie: dropped
        ("fer0000003.png", votes(unknown=6, neutral=4)),  # unknown majority: dropped
        ("fer0000004.png", votes(NF=10)),  # not a face: dropped
        ("fer0000005.png", votes(contempt=6, anger=4)),  # contempt: kept, the extra class
        ("fer0000006.png", votes(fear=4, sadness=3, disgust=3)),  # a plurality, not a majority: kept
    ],
    "FER2013Valid": [
        ("fer0028638.png", votes(sadness=7, neutral=3)),
        ("fer0028639.png", votes(anger=5, unknown=5)),  # tie with unknown: dropped
    ],
    "FER2013Test": [
        ("fer0032220.png", votes(surprise=9, fear=1)),
        ("fer0032221.png", votes(disgust=8, anger=2)),
        ("fer0032222.png", votes(neutral=2, NF=8)),  # dropped
    ],
}


def labels_of(prepared, split: str) -> list[str]:
    return [CLASSES[i] for i in prepared.split(split).labels]


@pytest.mark.parametrize("counts,expected", [
    (votes(neutral=10), "neutral"),
    (votes(happiness=6, surprise=4), "happiness"),
    (votes(fear=4, sadness=3, disgust=3), "fear"),
    (votes(contempt=6, neutral=4), "contempt"),
    (votes(happiness=5, surprise=5), None),
    (votes(anger=4, disgust=4, unknown=2), None),
    (votes(anger=5, unknown=5), None),
    (votes(unknown=6, neutral=4), None),
    (votes(NF=10), None),
    (votes(neutral=3, NF=7), None),
])
def test_majority_rule(counts: tuple[int, ...], expected: str | None) -> None:
    assert majority_class(counts) == expected


def test_splits_counts_and_labels_under_the_majority_rule(tmp_path: Path) -> None:
    written = make_ferplus(tmp_path, ROWS)
    prepared = prepare(FerPlus(), tmp_path, resolution=48)
    assert prepared.classes == CLASSES and CLASSES[-1] == "contempt" and len(CLASSES) == 8
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 4, "val": 1, "test": 2}
    assert labels_of(prepared, "train") == ["neutral", "happiness", "contempt", "fear"]
    assert labels_of(prepared, "val") == ["sadness"]
    assert labels_of(prepared, "test") == ["surprise", "disgust"]
    train = prepared.split("train").images
    assert train.shape == (4, 48, 48, 1)
    kept = ["fer0000000.png", "fer0000001.png", "fer0000005.png", "fer0000006.png"]
    for image, name in zip(train, kept):  # the box (0, 0, 48, 48) is the whole image: pixels unchanged
        assert np.array_equal(image[..., 0], written[f"FER2013Train/{name}"])


@pytest.mark.parametrize("header,box", [(True, True), (False, False), (True, False)])
def test_header_line_and_box_column_are_optional(tmp_path: Path, header: bool, box: bool) -> None:
    make_ferplus(tmp_path, ROWS, header=header, box=box)
    prepared = prepare(FerPlus(), tmp_path)
    assert {name: len(split) for name, split in prepared.splits.items()} == {"train": 4, "val": 1, "test": 2}
    assert labels_of(prepared, "train") == ["neutral", "happiness", "contempt", "fear"]


def write_label_lines(root: Path, split_dir: str, lines: list[str]) -> Path:
    """A valid folder whose ``split_dir``/label.csv is replaced by ``lines``; returns the dataset folder."""
    make_ferplus(root, ROWS)
    (root / "ferplus" / split_dir / "label.csv").write_text("\n".join(lines) + "\n")
    return root / "ferplus"


GOOD = 'fer0028638.png,"(0, 0, 48, 48)",0,0,0,7,0,0,0,0,3,0'


@pytest.mark.parametrize("lines,message", [
    ([GOOD, 'fer0028639.png,"(0, 0, 48, 48)",5,0,0,0,5,0,0,0'],
     "line 2 of FER2013Valid/label.csv has 10 fields, expected 12 "
     "(image,box,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF) "
     "or 11 (the same without box)"),
    ([GOOD, 'fer0028639.png,"(0, 0, 48, 48)",5,0,0,0,five,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv: the anger vote 'five' is not a count (a whole number >= 0)"),
    ([GOOD, 'fer0028639.png,"(0, 0, 48, 48)",5,0,0,-1,5,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv: the sadness vote '-1' is not a count (a whole number >= 0)"),
    ([GOOD, 'fer0028639.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv has no votes (all 10 counts are 0)"),
    ([GOOD, 'fer0028639.png,"(0, 0, 48)",5,0,0,0,5,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv has box '(0, 0, 48)', expected '(left, top, right, bottom)' in whole "
     "pixels with right > left, bottom > top"),
    ([GOOD, 'fer0028638.png,"(0, 0, 48, 48)",5,0,0,0,5,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv repeats fer0028638.png (first at line 1)"),
    (["image,box,neutral,happiness,sadness,surprise,anger,disgust,fear,contempt,unknown,NF", GOOD],
     "line 1 of FER2013Valid/label.csv looks like a header but its vote columns are "
     "neutral,happiness,sadness,surprise,anger,disgust,fear,contempt,unknown,NF; expected "
     "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF in that order"),
    ([GOOD, 'fer0099999.png,"(0, 0, 48, 48)",5,0,0,0,4,0,0,0,1,0', 'fer0099998.png,"(0, 0, 48, 48)",1,9,0,0,0,0,0,0,0,0'],
     "line 2 of FER2013Valid/label.csv names fer0099999.png, absent from FER2013Valid/ (2 listed image(s) "
     "absent in all, first: fer0099999.png, fer0099998.png)"),
], ids=["field-count", "non-numeric", "negative", "no-votes", "box", "repeat", "header-order", "missing-png"])
def test_bad_label_files_name_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    folder = write_label_lines(tmp_path, "FER2013Valid", lines)
    with pytest.raises(DabenchError) as error:
        prepare(FerPlus(), tmp_path)
    assert str(error.value).startswith(f"dataset 'ferplus': {message} in {folder}.\nExpected layout under {folder}:")


def test_missing_split_folder_or_label_file(tmp_path: Path) -> None:
    make_ferplus(tmp_path, ROWS)
    (tmp_path / "ferplus" / "FER2013Test" / "label.csv").unlink()
    with pytest.raises(DabenchError, match=r"label file FER2013Test/label.csv not found \(images without labels\)"):
        prepare(FerPlus(), tmp_path)
    for path in (tmp_path / "ferplus" / "FER2013Test").iterdir():
        path.unlink()
    (tmp_path / "ferplus" / "FER2013Test").rmdir()
    with pytest.raises(DabenchError, match=r"dataset 'ferplus': split folder\(s\) FER2013Test/ not found in "):
        prepare(FerPlus(), tmp_path)


def test_label_rule_option(tmp_path: Path) -> None:
    dataset = FerPlus()
    assert dataset.options({"label_rule": "majority"}).label_rule == "majority"
    with pytest.raises(DabenchError) as error:
        dataset.options({"label_rule": "probability"})
    assert str(error.value) == f"bad option for dataset 'ferplus': {PROBABILITY_UNSUPPORTED}"
    assert "Split.labels" in PROBABILITY_UNSUPPORTED and "use label_rule=majority" in PROBABILITY_UNSUPPORTED
    with pytest.raises(DabenchError, match="label_rule must be one of majority, probability, got 'vote'"):
        dataset.options({"label_rule": "vote"})


def test_cli_prepare_refuses_the_probability_rule(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]) -> None:
    from dabench.cli import main  # here, so the dataset tests above need no CLI

    make_ferplus(tmp_path, ROWS)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "ferplus", "--data-root", str(tmp_path), "--set", "label_rule=probability"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"dabench: error: bad option for dataset 'ferplus': {PROBABILITY_UNSUPPORTED}\n"


def test_data_check_ferplus(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]) -> None:
    from dabench.cli import main  # here, so the dataset tests above need no CLI

    make_ferplus(tmp_path, ROWS)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "ferplus", "--data-root", str(tmp_path)])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ferplus: layout found in {tmp_path / 'ferplus'}: {FerPlus.layout}"
    header = lines[2].split()
    assert header == ["split", *CLASSES, "total"]
    table = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in lines[4:8]}
    # columns: surprise fear disgust happiness sadness anger neutral contempt total
    assert table == {"train": [0, 1, 0, 1, 0, 0, 1, 1, 4], "val": [0, 0, 0, 0, 1, 0, 0, 0, 1],
                     "test": [1, 0, 1, 0, 0, 0, 0, 0, 2], "all": [1, 1, 1, 1, 1, 0, 1, 1, 7]}
    assert ("class space: 8 classes; canonical 7 of 7 (surprise, fear, disgust, happiness, sadness, anger, neutral); "
            "extras: contempt (dropped by pairs); canonical classes absent: none") in lines
    assert "warning: class(es) with no images: anger" in lines
    assert "unreadable or truncated files: 0" in lines and "blank (single-value) images: 0" in lines
