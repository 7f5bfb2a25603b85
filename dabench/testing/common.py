"""Shared pieces of the conformance checks: the error type, the id rules, the tiny resolution."""

from __future__ import annotations

import re

METHOD_ID = re.compile(r"^[a-z][a-z0-9_]*$")  # lower_snake
DATASET_ID = re.compile(r"^[a-z][a-z0-9_-]*$")  # lower case; hyphens allowed (synth-lab)
EXTRA_CLASSES = ("contempt",)  # kept by datasets, dropped from pair label spaces
RESOLUTION = 16


class ConformanceError(AssertionError):
    """A plugin breaks the dabench contract; the message says what and how to fix it."""


class ConformanceWarning(UserWarning):
    """What is wrong for most plugins but can be right for some (the message says which); tests that want it
    fatal use ``-W error::dabench.testing.ConformanceWarning``."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


