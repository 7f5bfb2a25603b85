"""The canonical FER label space (RAF-DB's order, also CluP's) and pair label spaces."""

from __future__ import annotations

CANONICAL_CLASSES: tuple[str, ...] = (
    "surprise",
    "fear",
    "disgust",
    "happiness",
    "sadness",
    "anger",
    "neutral",
)


def pair_classes(source_classes: tuple[str, ...], target_classes: tuple[str, ...]) -> tuple[str, ...]:
    """Canonical classes both sides have, in canonical order (extras such as contempt are dropped)."""
    shared = set(source_classes) & set(target_classes)
    return tuple(name for name in CANONICAL_CLASSES if name in shared)
