"""Pixel modes: every mode a face file may come in, brought to 8-bit grayscale or RGB by what it means, with a
note when the conversion changed what the pixels say (``dabench data check`` reports the notes)."""

from __future__ import annotations

import numpy as np
from PIL import Image

# every PIL mode a face image may come in; each is brought to 8-bit "L" or "RGB" by what it means
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_WITH_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


def convert_mode(image: Image.Image, mode: str) -> tuple[Image.Image, str]:
    """``image`` as 8-bit ``mode`` ("L" or "RGB"), and a note when the conversion changed what the pixels
    mean (users see the notes in ``dabench data check``). 16- and 32-bit integer pixels are scaled to 8 bits
    by their bit depth (PIL's own convert clips them: a 16-bit face came out almost white); float pixels in
    0..1 are scaled by 255, in 0..255 kept; alpha that is not fully opaque is composited over black; a
    palette's transparency likewise; CMYK goes through PIL's CMYK -> RGB. Any other mode is refused."""
    note = ""
    if image.mode in _SIXTEEN_BIT or image.mode in ("I", "F"):
        image, note = _to_eight_bits(image)
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _WITH_ALPHA:
        image = image.convert("RGBA" if image.mode in ("RGBA", "PA", "RGBa") else "LA")
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            black = Image.new(image.mode, image.size)
            image = Image.alpha_composite(black, image) if image.mode == "RGBA" else _composite_la(image)
            note = f"{int((alpha < 255).sum())} transparent pixel(s) composited over black"
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    elif image.mode == "CMYK":
        note = "CMYK converted to RGB"
    elif image.mode not in ("L", "RGB", "1", "P", "RGBX", "YCbCr"):
        raise ValueError(f"pixel mode {image.mode} is not supported; save the image as 8-bit grayscale or RGB")
    return (image if image.mode == mode else image.convert(mode)), note


def _to_eight_bits(image: Image.Image) -> tuple[Image.Image, str]:
    pixels = np.asarray(image).astype(np.float64)
    if image.mode in _SIXTEEN_BIT:
        depth = 16
    elif image.mode == "F":
        if pixels.size and 0.0 <= pixels.min() and pixels.max() <= 1.0:
            return Image.fromarray(np.rint(pixels * 255).astype(np.uint8)), "float pixels in 0..1 scaled to 0..255"
        depth = 8
    else:  # "I": 32-bit integers holding 8 or 16 bits (PIL opens 16-bit PNGs so)
        depth = 8 if pixels.size == 0 or pixels.max() <= 255 else 16
    if pixels.size and (pixels.min() < 0 or pixels.max() > 2**depth - 1):
        raise ValueError(f"{image.mode} pixels in {pixels.min():g}..{pixels.max():g} fit no 8- or 16-bit range; "
                         "save the image as 8-bit grayscale or RGB")
    if depth == 8:
        return Image.fromarray(np.rint(pixels).astype(np.uint8)), ""
    return Image.fromarray(np.rint(pixels / 257).astype(np.uint8)), "16-bit pixels scaled to 8 bits"


def _composite_la(image: Image.Image) -> Image.Image:
    gray, alpha = (np.asarray(channel).astype(np.float64) for channel in image.split())
    return Image.fromarray(np.rint(gray * alpha / 255).astype(np.uint8)).convert("LA")
