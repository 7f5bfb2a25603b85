"""Helpers for dataset tests (imported by name, not a conftest): value-coded faces in native layouts.

Every image is dark (0) outside its face box and a flat grey inside it, the grey coding the label, so a
prepared image's centre shows which label and which crop it got.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dabench.data.cache import load_prepared
from dabench.data.dataset import PreparedDataset


def grey_of(code: int) -> int:
    """The grey that codes label ``code`` (codes 0..10 stay well apart after JPEG)."""
    return 40 + 20 * code


def face_array(width: int, height: int, box: tuple[int, int, int, int] | None, value: int,
               rgb: bool = False) -> np.ndarray:
    """(height, width[, 3]) uint8: ``value`` inside ``box`` (left, top, right, bottom), 0 outside."""
    image = np.zeros((height, width), dtype=np.uint8)
    left, top, right, bottom = box or (0, 0, width, height)
    image[top:bottom, left:right] = value
    return np.repeat(image[:, :, None], 3, axis=2) if rgb else image


def write_image(path: Path, width: int, height: int, value: int, box: tuple[int, int, int, int] | None = None,
                rgb: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(face_array(width, height, box, value, rgb))
    image.save(path, quality=98) if path.suffix.lower() in (".jpg", ".jpeg") else image.save(path)
    return path


def prepare(dataset, data_root: Path, **options) -> PreparedDataset:
    """The dataset prepared from ``data_root`` (32 px unless told) in the test's DABENCH_HOME."""
    options.setdefault("resolution", 32)
    return load_prepared(dataset, dataset.options(options), data_root)


def centre_values(images: np.ndarray) -> np.ndarray:
    """(N,) mean of the central quarter of each (N, H, W, C) image."""
    side = images.shape[1]
    lo, hi = side // 4, side - side // 4
    return images[:, lo:hi, lo:hi, :].reshape(len(images), -1).mean(axis=1)


def decode_codes(images: np.ndarray) -> np.ndarray:
    """The label code each image's centre grey stands for (inverse of grey_of)."""
    return np.rint((centre_values(images) - 40) / 20).astype(int)
