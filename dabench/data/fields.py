"""Reading a dataset's own label files: every value is checked where it is read, and a bad one is one
:class:`FieldError` naming the file, the line and the field (what it holds, what was expected).

Built-in datasets parse their label lists, CSVs and box files with these; a plugin's ``items()`` should
too (docs/writing-plugins.md, "Reading label files")::

    for line, parts in fields.split_lines(folder / "labels.txt", "labels.txt"):
        line.count(parts, ("image", "emotion"))
        code = line.code(parts[1], "emotion", CODES)
"""

from __future__ import annotations

import codecs
import csv
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dabench.errors import DabenchError

# No image side exceeds this (JPEG's limit; far beyond any face photo): a larger box coordinate is a typo.
MAX_SIDE = 65_535
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)  # no nan, inf, 1_0


class FieldError(DabenchError, ValueError):
    """A label file that cannot be read, or a value in it that is not what the layout says. A DabenchError
    (uncaught, the CLI prints it as one line) and a ValueError (parsers that promise ValueError keep to
    it); a dataset's ``items()`` wraps it as ``self.missing(folder, str(error))`` to add the layout."""


@dataclass(frozen=True)
class Line:
    """Where a value was read: line ``number`` (from 1) of ``file`` (as messages name it: its path in the
    dataset folder). Its methods parse one field each and raise :class:`FieldError` naming this line."""

    file: str
    number: int

    def __str__(self) -> str:
        return f"line {self.number} of {self.file}"

    def error(self, what: str) -> FieldError:
        """``line N of FILE: what`` (``what`` starts with the field's name)."""
        return FieldError(f"{self}: {what}")

    def refuse(self, name: str, text: str, expected: str) -> FieldError:
        if not text.strip():
            return self.error(f"{name} is empty; expected {expected}")
        return self.error(f"{name} {text!r} is not {expected}")

    def count(self, parts: Sequence[str], names: Sequence[str], at_least: bool = False) -> None:
        """Refuse a line whose field count is not ``len(names)`` (or fewer, with ``at_least``)."""
        if len(parts) == len(names) or (at_least and len(parts) > len(names)):
            return
        expected = f"{'at least ' if at_least else ''}{len(names)} ({' '.join(names)})"
        raise FieldError(f"{self} has {len(parts)} field(s), expected {expected}")

    def integer(self, text: str, name: str, low: int | None = None, high: int | None = None,
                meaning: str = "", float_notation: bool = False) -> int:
        """A whole number in ``low``..``high`` (either may be None: unbounded). ``meaning`` names what it
        is ("a count"); ``float_notation`` also takes a whole number written as a float ("3.0e+00")."""
        expected = _described("a whole number", low, high, meaning)
        text = text.strip()
        if _INTEGER.fullmatch(text):
            value = int(text)
        elif float_notation and _NUMBER.fullmatch(text) and _finite(text) and float(text).is_integer():
            value = int(float(text))
        else:
            raise self.refuse(name, text, expected)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.refuse(name, text, expected)
        return value

    def decimal(self, text: str, name: str, low: float | None = None, high: float | None = None,
               meaning: str = "") -> float:
        """A finite decimal number (no nan or inf) in ``low``..``high`` (None: unbounded)."""
        expected = _described("a number", low, high, meaning)
        text = text.strip()
        if not _NUMBER.fullmatch(text) or not _finite(text):
            raise self.refuse(name, text, expected)
        value = float(text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.refuse(name, text, expected)
        return value

    def code(self, text: str, name: str, codes: Mapping[int, str], float_notation: bool = False) -> int:
        """An integer label code that is a key of ``codes`` (code -> class name)."""
        listing = ", ".join(f"{code} {label}" for code, label in codes.items())
        text = text.strip()
        value = None
        if _INTEGER.fullmatch(text):
            value = int(text)
        elif float_notation and _NUMBER.fullmatch(text) and _finite(text) and float(text).is_integer():
            value = int(float(text))
        if value not in codes:
            if not text:
                raise self.error(f"{name} is empty; expected a label code ({listing})")
            raise self.error(f"{name} {text!r} is an unknown label code; codes are {listing}")
        return value

    def integers(self, text: str, name: str, count: int, low: int, high: int) -> np.ndarray:
        """A field of ``count`` whitespace-separated whole numbers in ``low``..``high`` (FER2013's pixels),
        as int64; the first bad one is named by its position."""
        values = text.split()
        if len(values) != count:
            raise self.error(f"{name} holds {len(values)} value(s), expected {count}")
        try:
            array = np.array(values, dtype=np.int64)
        except (ValueError, OverflowError):
            array = None
        if array is None or (count and (array.min() < low or array.max() > high)):
            for index, value in enumerate(values, start=1):
                self.integer(value, f"{name} value {index}", low, high)
        assert array is not None
        return array

    def path(self, text: str, name: str, plain: bool = False) -> str:
        """A file's path relative to the dataset folder (``plain``: a bare file name): never empty,
        absolute, reaching out with ``..``, or holding a NUL."""
        parts = text.replace("\\", "/").split("/")
        if (not text or "\0" in text or text.startswith("/") or ".." in parts or "" in parts
                or (plain and len(parts) > 1)):
            what = "a file name" if plain else "a path inside the dataset folder"
            raise self.refuse(name, text, what)
        return text

    def choice(self, text: str, name: str, choices: Sequence[str]) -> str:
        """One of ``choices``, exactly."""
        if text.strip() not in choices:
            raise self.refuse(name, text, f"one of {', '.join(choices)}")
        return text.strip()

    def box(self, left: float, top: float, right: float, bottom: float) -> tuple[float, float, float, float]:
        """A face box (left, top, right, bottom) in px from corners read with :meth:`coordinate`: refused
        unless its corners are >= 0, left < right, top < bottom, and it is at least 2 px each way (what
        decoding can cut; whether it lies in its image is checked when the image is decoded)."""
        shown = f"(top {top:g}, left {left:g}, right {right:g}, bottom {bottom:g})"
        if min(left, top) < 0 or not left < right or not top < bottom:
            raise FieldError(f"{self} has an impossible face box {shown}: corners must be >= 0, left < right, "
                             "top < bottom")
        if right - left < 2 or bottom - top < 2:
            raise FieldError(f"{self} has a face box under 2 px wide or high {shown}; no face fits in it")
        return left, top, right, bottom

    def coordinate(self, text: str, name: str) -> float:
        """One coordinate of a face box in px: a number up to MAX_SIDE (a negative one is left to
        :meth:`box`, which names the whole box)."""
        return self.decimal(text, name, high=MAX_SIDE, meaning="a pixel coordinate")


def _finite(text: str) -> bool:
    return math.isfinite(float(text))


def _described(kind: str, low: float | None, high: float | None, meaning: str) -> str:
    if low is not None and high is not None:
        bounds = f"{kind} in {low:g}..{high:g}"
    elif low is not None:
        bounds = f"{kind} >= {low:g}"
    elif high is not None:
        bounds = f"{kind} <= {high:g}"
    else:
        bounds = kind
    return f"{meaning} ({bounds})" if meaning else bounds


def lines(path: Path, shown: str) -> Iterator[tuple[Line, str]]:
    """(Line, its text without the line break) for each line of a UTF-8 text file (a byte-order mark
    skipped), read as it goes. A file that cannot be read or is not UTF-8 is one FieldError naming it
    (and the line of the first bad byte)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number = 0
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = decoder.decode(raw)
                except UnicodeDecodeError as exc:
                    raise FieldError(f"line {number} of {shown} is not UTF-8 text (byte 0x{raw[exc.start]:02x} "
                                     f"at column {exc.start + 1}); save the file as UTF-8") from None
                yield Line(shown, number), text.rstrip("\r\n")
    except OSError as exc:
        raise unreadable(shown, exc) from None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FieldError(f"line {number} of {shown} ends inside a UTF-8 character (a truncated file?); "
                         "save the file as UTF-8") from None


def split_lines(path: Path, shown: str, header: Sequence[str] = ()) -> Iterator[tuple[Line, list[str]]]:
    """(Line, its whitespace-separated fields) for each non-blank line; a first line equal to ``header``
    (case-insensitively) is skipped."""
    wanted = [name.lower() for name in header]
    for line, text in lines(path, shown):
        parts = text.split()
        if not parts or (line.number == 1 and wanted and [p.lower() for p in parts] == wanted):
            continue
        yield line, parts


def csv_rows(path: Path, shown: str, delimiter: str = ",") -> Iterator[tuple[Line, list[str]]]:
    """(Line, its fields, stripped) for each non-blank CSV row (quoted fields as the csv module reads them;
    a row spanning several lines is named by its last)."""
    source = lines(path, shown)
    current = Line(shown, 0)

    def texts() -> Iterator[str]:
        nonlocal current
        for current, text in source:
            yield text + "\n"

    reader = csv.reader(texts(), delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a NUL byte, an unclosed quote at the end of the file
            raise FieldError(f"{current} is not a CSV row ({exc})") from None
        row = [value.strip() for value in row]
        if any(row):
            yield current, row


def no_rows(shown: str, expected: str) -> FieldError:
    """The error for a label file that lists nothing (empty, or a header alone)."""
    return FieldError(f"{shown} lists no images (it is empty or holds only a header); expected lines like {expected}")


def names_in(directory: Path, shown: str) -> set[str]:
    """The names in ``directory`` (one listing instead of a stat per file); a folder that cannot be listed is
    one FieldError naming it."""
    try:
        return set(os.listdir(directory))
    except OSError as exc:
        raise unreadable(shown, exc) from None


def read_text(path: Path, shown: str) -> str:
    """The whole of a small UTF-8 text file (a one-value label file), with FieldError as :func:`lines`."""
    return "\n".join(text for _, text in lines(path, shown))


def unreadable(shown: str | Path, exc: OSError) -> FieldError:
    """The one message for a file or folder that cannot be opened or listed (permissions, a link loop)."""
    reason = exc.strerror or type(exc).__name__
    return FieldError(f"cannot read {shown} ({reason}); check its permissions, or move it out of the dataset folder")
