"""Image helpers: box clamping, the fixed crop, content hashes of multi-face photos, the Haar crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dabench.data.images import CropSpec, ImageItem, clamp_box, content_hash, face_box, fixed_box


def test_clamp_box_clips_and_rejects_boxes_outside() -> None:
    assert clamp_box((-5.4, 3.6, 50.5, 75.0), 100, 80) == (0, 4, 50, 75)
    with pytest.raises(ValueError, match="lies mostly outside the 80x80 image"):  # never the whole image instead
        clamp_box((90, 90, 120, 120), 80, 80)


def test_fixed_box_scales_fractions() -> None:
    assert fixed_box((0.2, 0.25, 0.8, 0.85), 256, 256) == pytest.approx((51.2, 64.0, 204.8, 217.6))


def test_two_faces_of_one_file_hash_differently() -> None:
    data = b"same bytes"
    first = ImageItem("a#0", "train", 0, box=(0, 0, 10, 10))
    second = ImageItem("a#1", "train", 0, box=(10, 0, 20, 10))
    assert content_hash(first, data) != content_hash(second, data)
    assert content_hash(ImageItem("b", "train", 0), data) == content_hash(ImageItem("c", "test", 3), data)


def test_crop_modes_choose_the_box() -> None:
    image = Image.new("L", (400, 300))
    spec = CropSpec("fixed", (0.25, 0.0, 0.75, 1.0))
    assert face_box(ImageItem("x", "train", 0, box=(1, 2, 3, 4)), image, spec) == (1, 2, 3, 4)
    assert face_box(ImageItem("x", "train", 0, uncropped=True), image, spec) == (100.0, 0.0, 300.0, 300.0)
    assert face_box(ImageItem("x", "train", 0, uncropped=False), image, spec) is None
    assert face_box(ImageItem("x", "train", 0, uncropped=None), image, spec) == (100.0, 0.0, 300.0, 300.0)  # > 256 px
    assert face_box(ImageItem("x", "train", 0, box=(1, 2, 3, 4)), image, CropSpec("none")) is None


def test_haar_finds_a_real_face_and_falls_back_to_the_fixed_box(shared_data: Path) -> None:
    pytest.importorskip("cv2", reason="crop=haar needs the optional extra dabench[face]")
    from dabench.data.images import haar_box

    face_file = sorted((shared_data / "ckplus" / "happy").iterdir())[0]
    canvas = Image.new("L", (512, 512), 0)
    canvas.paste(Image.open(face_file).convert("L").resize((256, 256)), (150, 100))
    left, top, right, bottom = haar_box(canvas)
    assert abs(left - 150) < 40 and abs(top - 100) < 40 and 180 < right - left < 300
    noise = Image.fromarray((np.random.default_rng(0).random((300, 300)) * 255).astype(np.uint8))
    spec = CropSpec("haar", (0.2, 0.25, 0.8, 0.85))
    assert face_box(ImageItem("x", "train", 0, uncropped=True), noise, spec) == pytest.approx((60, 75, 240, 255))
