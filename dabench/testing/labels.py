"""The conformance kit's label watch: the tiny target is also prepared where dabench keeps prepared datasets
(in a temporary DABENCH_HOME), so a method that reaches for labels on disk finds them there and is seen."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from dabench.data.dataset import DataOptions, Dataset, Split
from dabench.labels import CANONICAL_CLASSES
from dabench.run.watch import LabelWatch, run_roots, watching
from dabench.testing.common import RESOLUTION


class _TinyTarget(Dataset):
    """The kit's tiny target as a prepared dataset: named like the generated target a run adapts to."""

    id = "synth-wild"
    classes = CANONICAL_CLASSES
    generated = True
    description = "the conformance kit's tiny target (a decoy: methods must never read it)"

    def __init__(self, splits: dict[str, Split]) -> None:
        self._splits = splits

    def build(self, folder: Path | None, options: DataOptions) -> dict[str, Split]:
        return self._splits


def _split(images: torch.Tensor, labels: torch.Tensor) -> Split:
    return Split(images.permute(0, 2, 3, 1).contiguous().numpy(), labels.numpy())


@contextmanager
def watched_adapt(target_images: torch.Tensor, target_labels: torch.Tensor, test_images: torch.Tensor,
                  test_labels: torch.Tensor) -> Iterator[LabelWatch]:
    """Watch the block as a run watches ``adapt`` (dabench.run.watch), with DABENCH_HOME pointing at a
    temporary home that holds the tiny target prepared; the user's own cache and data folders are
    watched too. The environment is restored afterwards."""
    from dabench.data.cache import load_prepared

    user_roots, user_folders = run_roots()
    before = os.environ.get("DABENCH_HOME")
    with tempfile.TemporaryDirectory(prefix="dabench-conformance-") as home:
        os.environ["DABENCH_HOME"] = home
        try:
            splits = {"train": _split(target_images, target_labels), "test": _split(test_images, test_labels)}
            load_prepared(_TinyTarget(splits), DataOptions(resolution=RESOLUTION))
            decoy_roots, decoy_folders = run_roots()
            with watching([*user_roots, *decoy_roots], [*user_folders, *decoy_folders]) as seen:
                yield seen
        finally:
            if before is None:
                os.environ.pop("DABENCH_HOME", None)
            else:
                os.environ["DABENCH_HOME"] = before


def label_access_message(method_id: str, events: list[str]) -> str:
    """The conformance failure for a method seen reaching for labels: the first event, then the rest."""
    more = f" (then: {'; '.join(events[1:])})" if len(events) > 1 else ""
    return (f"{method_id} reached for target labels during adapt(): {events[0]}{more}. A source-free method may "
            f"use only the model, TargetImages and ctx it is handed; a run that does this is recorded with "
            f"label_access.detected = true in result.json and kept off the leaderboard's measured rows "
            f"(docs/writing-plugins.md, section 3, 'What dabench prevents, detects, and cannot see')")
