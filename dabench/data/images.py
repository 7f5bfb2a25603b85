"""Face images to uint8 arrays: read (PIL, in a thread pool), crop (dataset box, fixed, or Haar), resize.

Reading also hashes each file's bytes (sha256), so exact duplicates are found in the same pass.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from dabench.data.fields import unreadable
from dabench.data.pixels import convert_mode
from dabench.errors import DabenchError
from dabench.store.progress import progress

CROPS = ("fixed", "haar", "none")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
# An image whose shorter side exceeds this is a frame, not a face crop (SFEW ships both kinds).
FRAME_MIN_SIDE = 256
Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ImageItem:
    """One labelled image of a dataset, as its plugin lists it.

    ``name``: how messages and ``data check`` name it (unique within the dataset).
    ``split``: one of the dataset's ``splits``; ``label``: an index into its ``classes``.
    ``path``: the image file; ``pixels``: (H, W) uint8 instead, for datasets stored as pixel values
    (fer2013.csv).
    ``box``: the dataset's own face box (left, top, right, bottom, px), if it has one; it wins over
    the fixed and Haar crops.
    ``uncropped``: True for whole frames, which get the fixed (or Haar) crop; False (the default) for
    face crops, which are only resized; None to decide by size (a shorter side over FRAME_MIN_SIDE px
    is a frame).
    ``group``: what must never straddle splits (subject, source photo); informational.
    """

    name: str
    split: str
    label: int
    path: Path | None = None
    box: Box | None = None
    uncropped: bool | None = False
    pixels: np.ndarray | None = None
    group: str = ""


WHOLE_IMAGE: Box = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class CropSpec:
    """How to crop: ``mode`` in CROPS (``fixed``, ``haar``, ``none``); ``fixed``: the box of whole frames
    as fractions (left, top, right, bottom) of width and height, also Haar's fallback when it finds no
    face. Items with their own ``box`` are cut by it under ``fixed`` and ``haar``; other items get
    ``fixed`` only when they are whole frames (``ImageItem.uncropped``); ``none`` resizes every image."""

    mode: str = "fixed"
    fixed: Box = WHOLE_IMAGE


def can_take_fixed_crop(item: ImageItem) -> bool:
    """Whether ``item`` may get the fixed (or Haar) box: no box of its own and not marked a face crop."""
    return item.box is None and item.uncropped is not False


def refuse_unreachable_crop(items: list[ImageItem], crop: CropSpec, dataset: str = "") -> None:
    """A fixed box that no item can receive would be silently ignored: raise instead, saying what to set."""
    if crop.mode == "none" or tuple(crop.fixed) == WHOLE_IMAGE or not items:
        return
    if any(can_take_fixed_crop(item) for item in items):
        return
    whose = f"dataset '{dataset}': " if dataset else ""
    boxed = sum(item.box is not None for item in items)
    if not boxed:
        which = "all have uncropped=False, the default, and no box"
    elif boxed == len(items):
        which = "all have their own box"
    else:
        which = f"{boxed} have their own box, the rest uncropped=False, the default"
    raise DabenchError(f"{whose}the fixed crop {tuple(crop.fixed)} reaches none of the {len(items)} images "
                       f"({which}); set ImageItem(uncropped=True) on the whole frames it is for (uncropped=None: "
                       f"frames by size, shorter side > {FRAME_MIN_SIDE} px), or leave the crop out "
                       "(CropSpec('none'); on a FolderDataset, no fixed_crop)")


def default_workers() -> int:
    # PIL and file reads release the GIL, so threads beat cores on small files.
    return min(16, 4 * (os.cpu_count() or 1))


def parallel_map(function: Callable[[T], R], items: list[T], desc: str, workers: int | None = None) -> list[R]:
    """``[function(item) for item in items]`` in a thread pool, in order, with a progress bar."""
    workers = workers or default_workers()
    if workers <= 1:
        return [function(item) for item in progress(items, desc=desc, total=len(items))]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(progress(pool.map(function, items), desc=desc, total=len(items)))


def item_bytes(item: ImageItem) -> bytes:
    if item.pixels is not None:
        return np.ascontiguousarray(item.pixels).tobytes()
    assert item.path is not None
    return item.path.read_bytes()


def content_hash(item: ImageItem, data: bytes) -> str:
    """sha256 of the file's bytes; with the face box appended when the dataset crops several faces
    from one photo (ExpW), so that two faces of one file are not duplicates of each other."""
    digest = hashlib.sha256(data)
    if item.box is not None:
        digest.update(repr(tuple(float(v) for v in item.box)).encode())
    return digest.hexdigest()


def open_image(item: ImageItem, data: bytes, mode: str) -> Image.Image:
    """The decoded image in PIL ``mode`` ("L" or "RGB"); raises OSError/ValueError when unreadable."""
    return open_image_noted(item, data, mode)[0]


def open_image_noted(item: ImageItem, data: bytes, mode: str) -> tuple[Image.Image, str]:
    """(the decoded image in PIL ``mode``, what its conversion did that a user should know, else "")."""
    if item.pixels is not None:
        image = Image.fromarray(item.pixels)
    else:
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:  # PIL's own message names a BytesIO object, not the problem
            raise ValueError("empty file" if not data else
                             f"not an image (no known image format in its {len(data)} bytes)") from None
        except Image.DecompressionBombError as exc:
            raise ValueError(f"too large to decode safely ({exc}); a face image is far smaller: "
                             "crop or downscale it") from None
        image.load()  # a truncated file fails here, not later
    return convert_mode(image, mode)


def clamp_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """Round a box to pixels and clip it to the image. A box that is not a box (left >= right, top >=
    bottom), lies mostly outside the image or is under 2 px once clipped raises ValueError: cropping it
    to a corner or widening it to the whole photo would put other pixels under the face's label."""
    if not box[0] < box[2] or not box[1] < box[3]:
        raise ValueError(f"face box (left {box[0]:g}, top {box[1]:g}, right {box[2]:g}, bottom {box[3]:g}) "
                         "has left >= right or top >= bottom")
    left, top = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    right, bottom = min(width, int(round(box[2]))), min(height, int(round(box[3])))
    inside = max(0, right - left) * max(0, bottom - top)
    if right - left < 2 or bottom - top < 2 or inside < 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
        raise ValueError(f"face box (left {box[0]:g}, top {box[1]:g}, right {box[2]:g}, bottom {box[3]:g}) "
                         f"lies mostly outside the {width}x{height} image")
    return left, top, right, bottom


def fixed_box(fractions: Box, width: int, height: int) -> Box:
    return fractions[0] * width, fractions[1] * height, fractions[2] * width, fractions[3] * height


_HAAR = threading.local()


def haar_box(image: Image.Image) -> Box | None:
    """The largest frontal face OpenCV's Haar cascade finds, or None (OpenCV: ``pip install dabench[face]``)."""
    try:
        import cv2  # optional: the `face` extra
    except ImportError:
        raise DabenchError("crop=haar needs OpenCV: pip install 'dabench[face]' (or opencv-python-headless), "
                           "or use crop=fixed") from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise DabenchError(f"crop=haar needs OpenCV 4 (OpenCV {cv2.__version__} has no Haar cascades): "
                           "pip install 'opencv-python-headless>=4.8,<5'")
    if not hasattr(_HAAR, "cascade"):  # one classifier per thread: detectMultiScale is not thread-safe
        _HAAR.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    gray = np.asarray(image.convert("L"))
    faces = _HAAR.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                           minSize=(max(24, gray.shape[0] // 8),) * 2)
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return float(x), float(y), float(x + w), float(y + h)


def face_box(item: ImageItem, image: Image.Image, crop: CropSpec) -> Box | None:
    """The box to crop: the dataset's own box, else (for whole frames) the fixed or detected one."""
    if crop.mode == "none":
        return None
    if item.box is not None:
        return item.box
    uncropped = item.uncropped if item.uncropped is not None else min(image.size) > FRAME_MIN_SIDE
    if not uncropped:
        return None
    if crop.mode == "haar":
        found = haar_box(image)
        if found is not None:
            return found
    return fixed_box(crop.fixed, *image.size)  # haar found no face: fall back to the documented crop


def to_array(item: ImageItem, data: bytes, resolution: int, mode: str, crop: CropSpec) -> np.ndarray:
    """(resolution, resolution, C) uint8, C = 1 for mode "L" and 3 for "RGB"."""
    return crop_and_resize(item, open_image(item, data, mode), resolution, crop)


def crop_and_resize(item: ImageItem, image: Image.Image, resolution: int, crop: CropSpec) -> np.ndarray:
    """The face of a decoded ``image`` (the item's box, or the crop's) at resolution x resolution, as an array."""
    box = face_box(item, image, crop)
    if box is not None:
        image = image.crop(clamp_box(box, *image.size))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.BILINEAR, reducing_gap=3.0)
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


def decode_items(items: list[ImageItem], resolution: int, mode: str, crop: CropSpec, desc: str = "decode",
                 workers: int | None = None, dataset: str = "") -> tuple[np.ndarray, list[str]]:
    """All items as (N, resolution, resolution, C) uint8 plus the sha256 of each file's bytes.

    Unreadable files raise one DabenchError listing them (``dabench data check`` lists them all); so
    does a fixed crop that no item can receive (``dataset``: the id that error names).
    """
    refuse_unreachable_crop(items, crop, dataset)
    channels = 1 if mode == "L" else 3
    images = np.empty((len(items), resolution, resolution, channels), dtype=np.uint8)
    hashes: list[str] = [""] * len(items)
    failures: list[str] = []

    def work(index: int) -> None:
        item = items[index]
        try:
            data = item_bytes(item)
            hashes[index] = content_hash(item, data)
            images[index] = to_array(item, data, resolution, mode, crop)
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three for bad files
            failures.append(f"{item.path or item.name}: {exc}")

    parallel_map(work, list(range(len(items))), desc, workers)
    if failures:
        shown = "\n  ".join(sorted(failures)[:10])
        raise DabenchError(f"{len(failures)} image(s) could not be read:\n  {shown}\n"
                           "Run `dabench data check` to list every problem file.")
    return images, hashes


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (hidden files skipped), sorted by name. A folder that cannot be
    listed, or an entry that cannot be followed (a link loop), is one FieldError naming it."""
    return sorted(path for path, entry in _entries(folder)
                  if not entry.name.startswith(".") and entry.name.lower().endswith(IMAGE_SUFFIXES)
                  and _followed(path, entry.is_file))


def subfolders(folder: Path) -> list[Path]:
    """Folders directly in ``folder`` (hidden ones skipped), sorted by name; errors as :func:`list_images`."""
    return sorted(path for path, entry in _entries(folder)
                  if not entry.name.startswith(".") and _followed(path, entry.is_dir))


def _entries(folder: Path) -> list[tuple[Path, os.DirEntry]]:
    try:
        with os.scandir(folder) as entries:
            return [(Path(entry.path), entry) for entry in entries]
    except OSError as exc:
        raise unreadable(folder, exc) from None


def _followed(path: Path, test: Callable[[], bool]) -> bool:
    try:
        return test()
    except OSError as exc:
        raise unreadable(path, exc) from None
