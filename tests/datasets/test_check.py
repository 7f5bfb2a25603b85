"""`dabench data check` on a folder with truncated, empty and non-image files: each is listed with its
reason and the command exits 1; `data prepare` on the same folder refuses with exit 2."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import write_image
from PIL import Image

from dabench.cli import main


def encoded(fmt: str, seed: int) -> bytes:
    """A 48x48 noise image encoded as ``fmt`` (noise, so that a cut file really is missing pixel data)."""
    pixels = (np.random.default_rng(seed).random((48, 48)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def write_broken_fer2013(root: Path) -> dict[str, str]:
    """fer2013 in its folder layout: 3 good images and 4 bad ones; returns bad file -> how its reason starts."""
    folder = root / "fer2013"
    write_image(folder / "train" / "happy" / "Training_1.jpg", 48, 48, 120)
    write_image(folder / "train" / "sad" / "Training_2.png", 48, 48, 80)
    write_image(folder / "test" / "happy" / "PrivateTest_1.jpg", 48, 48, 120)
    jpeg, png = encoded("JPEG", 0), encoded("PNG", 1)
    bad = {
        folder / "train" / "happy" / "Training_3.jpg": (jpeg[: len(jpeg) // 2], "cannot decode: image file is truncated"),
        folder / "train" / "sad" / "Training_4.png": (png[: len(png) // 2], "cannot decode: image file is truncated"),
        folder / "test" / "sad" / "PrivateTest_2.jpg": (b"<html>not an image</html>\n",
                                                        "cannot decode: not an image (no known image format in its 26 bytes)"),
        folder / "test" / "sad" / "PrivateTest_3.png": (b"", "cannot decode: empty file"),
    }
    for path, (data, _) in bad.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / "train" / "happy" / "notes.txt").write_text("not an image suffix: never listed\n")
    return {str(path): reason for path, (_, reason) in bad.items()}


def test_check_lists_unreadable_files_with_reasons_and_exits_1(tmp_path: Path, registry,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    expected = write_broken_fer2013(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "fer2013", "--data-root", str(tmp_path)])
    assert exit_info.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("unreadable or truncated files: 4")
    listed = dict(line.strip().split(": ", 1) for line in lines[start + 1:start + 5])
    assert sorted(listed) == sorted(expected)
    assert all(listed[path].startswith(reason) for path, reason in expected.items()), listed
    assert not any("notes.txt" in line for line in lines)
    assert lines[start + 5] == "blank (single-value) images: 3"  # the three good ones are flat grey
    total = next(line for line in lines if line.startswith("all "))
    assert total.split()[-1] == "7"  # every listed file is counted, readable or not


def test_prepare_refuses_unreadable_files(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str]) -> None:
    expected = write_broken_fer2013(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "fer2013", "--data-root", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dabench: error: 4 image(s) could not be read:")
    assert all(path in err for path in expected)
    assert "Run `dabench data check` to list every problem file." in err
