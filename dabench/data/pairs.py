"""A pair's data: both datasets prepared at the run's resolution and restricted to the shared classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dabench.data.cache import load_prepared
from dabench.data.dataset import Dataset, PreparedDataset, Split, restrict_to_classes


def prepare(dataset: Dataset, options: dict[str, Any], image_size: int, data_root: Path | None = None) -> PreparedDataset:
    """``dataset`` prepared at ``image_size`` px from ``data_root/<id>/`` when given, else from the folder
    :func:`dabench.store.paths.dataset_folder` finds (--data-root, DABENCH_DATA_<ID>, DABENCH_DATA, DABENCH_HOME/data)."""
    return load_prepared(dataset, dataset.options({**options, "resolution": image_size}), data_root)


def split_in_classes(prepared: PreparedDataset, split: str, classes: tuple[str, ...]) -> Split:
    """One split with labels re-indexed into ``classes`` (samples of other classes dropped)."""
    return restrict_to_classes(prepared.split(split), prepared.classes, classes)
