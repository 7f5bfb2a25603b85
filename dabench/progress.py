"""Progress bars on a terminal, silence otherwise (a log file or a CI job gets no bar noise)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def _disabled() -> bool:
    # checked per bar, not once at import: a test or a caller may swap stderr
    return not sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, leave: bool = False) -> Iterable[T]:
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=_disabled(), dynamic_ncols=True)


def counter(total: int, desc: str, unit: str = "it", leave: bool = False) -> tqdm:
    """A bar advanced by hand (``bar.update(k)``), for loops whose steps are batches of ``unit``s;
    use it as a context manager so the bar is closed on errors too."""
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=_disabled(), dynamic_ncols=True)
