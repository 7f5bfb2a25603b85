"""Prepared datasets in the cache: built once under a lock, checksummed, rebuilt when corrupt."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dabench.data.dataset import DataOptions, Dataset, PreparedDataset, Split
from dabench.errors import PluginError, blame_plugin
from dabench.store import atomic, paths
from dabench.store.artifacts import META, cached_artifact


def prepared_folder(dataset: Dataset, key: dict[str, Any]) -> Path:
    return paths.cache_dir("datasets") / f"{dataset.id}-{atomic.sha256_json(key)[:16]}"


def load_prepared(dataset: Dataset, options: DataOptions, data_root: Path | None = None) -> PreparedDataset:
    """The dataset's prepared splits, preparing them first if the cache lacks them or they are corrupt."""
    folder = paths.dataset_folder(dataset, data_root)  # data_root: a folder holding <id>/, else the usual lookup
    key = dataset.cache_key(folder, options)
    return cached_artifact(prepared_folder(dataset, key), "cached dataset",
                           load=lambda target: _read_verified(dataset, target),
                           build=lambda tmp: _build_into(dataset, folder, options, key, tmp))


def _build_into(dataset: Dataset, folder: Path | None, options: DataOptions, key: dict[str, Any], tmp: Path) -> None:
    started = time.perf_counter()
    with blame_plugin("dataset", dataset.id, dataset):
        splits = dataset.build(folder, options)
    if not isinstance(splits, dict) or not all(isinstance(split, Split) for split in splits.values()):
        raise PluginError(f"dataset '{dataset.id}' ({type(dataset).__module__}) returned {type(splits).__name__} "
                          "from build(); it must return {split name: dabench.data.Split(images, labels)}")
    seconds = time.perf_counter() - started
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    for name, split in splits.items():
        for part, array in (("images", split.images), ("labels", split.labels)):
            path = tmp / f"{name}_{part}.npy"
            np.save(path, np.ascontiguousarray(array))
            files[path.name] = atomic.sha256_file(path)
        counts[name] = len(split)
    meta = {"dataset": dataset.id, "classes": list(dataset.classes), "key": key, "files": files,
            "counts": counts, "build_seconds": round(seconds, 3), "split_hash": dataset.split_hash()}
    atomic.write_json(tmp / META, meta)


def _read_verified(dataset: Dataset, target: Path) -> PreparedDataset:
    """The cached dataset in ``target``, once every array matches its checksum (else ValueError)."""
    meta = json.loads((target / META).read_text())
    for file_name, digest in meta["files"].items():
        if atomic.sha256_file(target / file_name) != digest:
            raise ValueError(f"{file_name} does not match its checksum")
    splits = {}
    for name in meta["counts"]:
        images = np.load(target / f"{name}_images.npy")
        labels = np.load(target / f"{name}_labels.npy")
        splits[name] = Split(images, labels)
    return PreparedDataset(dataset.id, tuple(meta["classes"]), splits, target.name, meta)
