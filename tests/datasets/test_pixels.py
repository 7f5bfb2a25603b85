"""Right pixels or one message: every pixel mode a face file can come in decodes to what it means (16-bit scaled,
alpha composited, CMYK converted, anything else refused); an impossible face box is refused, never widened to
the whole photo or cut to a corner; `data check` says what decoding converted, which images are almost one
value, which split lacks a class, and which faces are near-identical across splits."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dabench.cli import main
from dabench.data.images import CropSpec, ImageItem, clamp_box, to_array
from dabench.data.near_duplicates import cross_split_pairs, near_duplicate_mask, thumbnails

SIZE = 24


def _encode(image: Image.Image, suffix: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format={"png": "PNG", "tif": "TIFF"}[suffix])
    return buffer.getvalue()


def _palette(gray: np.ndarray, transparent: int | None) -> Image.Image:
    image = Image.fromarray(gray, "P")
    image.putpalette([v for i in range(256) for v in (i, i, i)])
    if transparent is not None:
        image.info["transparency"] = transparent
    return image


def _variants(gray: np.ndarray, rng: random.Random) -> list[tuple[str, Image.Image, str, np.ndarray, str]]:
    """(what, image in some mode, file format, the 8-bit gray it means, the note decoding must give)."""
    rgb = np.stack([gray] * 3, axis=2)
    alpha = np.full(gray.shape, 255, np.uint8)
    hole = (rng.randrange(SIZE), rng.randrange(SIZE))
    holed = alpha.copy()
    holed[hole] = 0
    composited = gray.copy()
    composited[hole] = 0
    paletted = gray.copy()
    paletted[gray == gray[hole]] = 0
    wide = gray.astype(np.uint16) * 257
    return [
        ("L", Image.fromarray(gray), "png", gray, ""),
        ("RGB", Image.fromarray(rgb), "png", gray, ""),
        ("I;16 png", Image.fromarray(wide), "png", gray, "16-bit pixels scaled to 8 bits"),
        ("I tiff", Image.fromarray(wide.astype(np.int32)), "tif", gray, "16-bit pixels scaled to 8 bits"),
        ("F 0..1 tiff", Image.fromarray(gray.astype(np.float32) / 255), "tif", gray, "float pixels in 0..1 scaled to 0..255"),
        ("RGBA opaque", Image.fromarray(np.dstack([rgb, alpha])), "png", gray, ""),
        ("RGBA holed", Image.fromarray(np.dstack([rgb, holed])), "png", composited,
         "1 transparent pixel(s) composited over black"),
        ("LA holed", Image.fromarray(np.dstack([gray, holed])).convert("LA"), "png", composited,
         "1 transparent pixel(s) composited over black"),
        ("P", _palette(gray, None), "png", gray, ""),
        ("P transparent", _palette(gray, int(gray[hole])), "png", paletted,
         f"{int((gray == gray[hole]).sum())} transparent pixel(s) composited over black"),
        ("CMYK", Image.fromarray(rgb).convert("CMYK"), "tif", gray, "CMYK converted to RGB"),
    ]


@pytest.mark.parametrize("seed", range(3))
def test_every_pixel_mode_decodes_to_what_it_means(seed: int) -> None:
    from dabench.data.images import open_image_noted

    rng = random.Random(seed)
    gray = np.array([[rng.randrange(1, 255) for _ in range(SIZE)] for _ in range(SIZE)], np.uint8)
    for what, image, suffix, meant, note in _variants(gray, rng):
        data = _encode(image, suffix)
        item = ImageItem("face", "train", 0, path=Path(f"face.{suffix}"))
        decoded, said = open_image_noted(item, data, "L")
        assert said == note, what
        np.testing.assert_allclose(np.asarray(decoded, dtype=np.int16), meant, atol=1, err_msg=what)
        as_rgb = to_array(item, data, SIZE, "RGB", CropSpec("none"))
        np.testing.assert_allclose(as_rgb.astype(np.int16), np.stack([meant] * 3, axis=2), atol=1, err_msg=what)


def test_modes_that_mean_nothing_to_a_face_are_refused() -> None:
    from dabench.data.images import open_image_noted

    out_of_range = Image.fromarray(np.full((4, 4), 70000, np.int32))
    item = ImageItem("face", "train", 0)
    with pytest.raises(ValueError, match=r"I pixels in 70000..70000 fit no 8- or 16-bit range"):
        open_image_noted(item, _encode(out_of_range, "tif"), "L")
    with pytest.raises(ValueError, match="pixel mode HSV is not supported"):
        from dabench.data.pixels import convert_mode
        convert_mode(Image.new("HSV", (4, 4)), "RGB")


@pytest.mark.parametrize("seed", range(4))
def test_a_box_is_cut_as_given_or_refused(seed: int) -> None:
    rng = random.Random(seed)
    width, height = rng.randrange(40, 200), rng.randrange(40, 200)
    for _ in range(50):
        left, top = rng.uniform(-width, 2 * width), rng.uniform(-height, 2 * height)
        right, bottom = left + rng.uniform(-20, width), top + rng.uniform(-20, height)
        box = (left, top, right, bottom)
        if not (left < right and top < bottom):
            with pytest.raises(ValueError, match="has left >= right or top >= bottom"):
                clamp_box(box, width, height)
            continue
        inside = max(0, min(width, right) - max(0, left)) * max(0, min(height, bottom) - max(0, top))
        if inside < 0.45 * (right - left) * (bottom - top) or min(right, width) - max(left, 0) < 3 \
                or min(bottom, height) - max(top, 0) < 3:
            continue  # near the rule's edges rounding decides; the cases below pin both sides
        cut = clamp_box(box, width, height)
        assert 0 <= cut[0] < cut[2] <= width and 0 <= cut[1] < cut[3] <= height
        assert cut != (0, 0, width, height) or (left <= 0.5 and top <= 0.5 and right >= width - 0.5
                                                and bottom >= height - 0.5)
    assert clamp_box((-5.4, 3.6, 50.5, 70.0), 100, 80) == (0, 4, 50, 70)
    with pytest.raises(ValueError, match=r"lies mostly outside the 80x80 image"):
        clamp_box((60, 60, 120, 120), 80, 80)
    with pytest.raises(ValueError, match=r"lies mostly outside the 80x80 image"):
        clamp_box((90, 90, 120, 120), 80, 80)


@pytest.mark.parametrize("line, problem", [
    ("a.jpg 0 -3 10 50 60 0.9 1", "corners must be >= 0"),
    ("a.jpg 0 10 60 20 70 0.9 1", "left < right"),
    ("a.jpg 0 70 10 60 50 0.9 1", "top < bottom"),
])
def test_expw_refuses_an_impossible_box_naming_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    from dabench_datasets.expw import parse_label_file

    path = tmp_path / "label.lst"
    path.write_text("b.jpg 0 10 10 50 50 0.9 1\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"line 2 of label.lst has an impossible face box .*{problem}"):
        parse_label_file(path)


def test_near_duplicates_survive_reencoding_and_rescaling_and_nothing_else(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    faces = np.stack([np.asarray(Image.fromarray(f[:, :, 0]).resize((12, 12)).resize((48, 48)))[:, :, None]
                      for f in faces])  # smooth, face-like frequencies
    copy = io.BytesIO()
    Image.fromarray(faces[2, :, :, 0]).save(copy, format="JPEG", quality=70)
    reencoded = np.asarray(Image.open(copy))[:, :, None]
    brighter = np.clip(faces[4].astype(int) + 12, 0, 255).astype(np.uint8)  # a level shift: the same face
    images = np.concatenate([faces, reencoded[None], brighter[None]])
    splits = ["train"] * 6 + ["test", "val"]
    pairs = cross_split_pairs(thumbnails(images), splits)
    assert sorted((p.later, p.earlier) for p in pairs) == [(6, 2), (7, 4)]
    assert all(p.similarity >= 0.98 for p in pairs)
    assert near_duplicate_mask(images, splits).tolist() == [True, True, False, True, False, True, True, True]


def _textured(path: Path, seed: int) -> None:
    """A 48 px image of smooth random texture, unlike any other seed's (a flat image matches nothing)."""
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 12), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(coarse).resize((48, 48), Image.BILINEAR).save(path)


def test_data_check_says_what_decoding_did_and_what_leaks(tmp_path: Path, registry, monkeypatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "fer2013"
    for i, name in enumerate(("angry", "happy", "sad")):
        _textured(folder / "train" / name / f"Training_{i}.png", seed=i)
    _textured(folder / "test" / "angry" / "PrivateTest_0.png", seed=10)
    wide = np.full((48, 48), 60 * 257, np.uint16)
    wide[10:30, 10:30] = 200 * 257
    (folder / "test" / "happy").mkdir()
    Image.fromarray(wide).save(folder / "test" / "happy" / "PrivateTest_1.png")  # 16-bit
    white = np.full((48, 48), 255, np.uint8)
    white[:3] = 0
    Image.fromarray(white).save(folder / "train" / "happy" / "Training_9.png")  # almost one value
    moved = Image.open(folder / "train" / "sad" / "Training_2.png")
    moved.save(folder / "test" / "angry" / "PrivateTest_7.jpg", quality=90)  # a train face re-encoded, relabelled
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "fer2013", "--data-root", f"fer2013={folder}"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "converted on decoding: 16-bit pixels scaled to 8 bits: 1 image (e.g. test/happiness/" in out
    assert "warning: 1 image almost one value (>= 90% of pixels equal; e.g. train/happiness/" in out
    assert "warning: test has no images of sadness" in out
    assert ("near-duplicates across splits (32 px gray thumbnails, correlation >= 0.98): 1 image of a later split "
            "with a near-identical copy in an earlier one, 1 of them labelled differently") in out
    assert "e.g. test/anger/PrivateTest_7.jpg ~ train/sadness/Training_2.png (" in out
    assert "0 duplicate groups" not in out and "carry conflicting" not in out
    # dedup drops the train copy of the near-identical face (and only it)
    from dabench.data.cache import load_prepared

    dataset = registry.dataset("fer2013")
    plain = load_prepared(dataset, dataset.options({"resolution": 48}), tmp_path)
    deduped = load_prepared(dataset, dataset.options({"resolution": 48, "dedup": True}), tmp_path)
    assert len(plain.split("train")) == 4 and len(deduped.split("train")) == 3
    assert len(deduped.split("test")) == len(plain.split("test")) == 3
    kept = {image.tobytes() for image in deduped.split("train").images}
    sad = np.asarray(Image.open(folder / "train" / "sad" / "Training_2.png").convert("L"))[:, :, None]
    assert sad.tobytes() not in kept
