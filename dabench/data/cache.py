"""Prepared datasets in the cache: built once under a lock, checksummed, rebuilt when corrupt."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from dabench import atomic, paths
from dabench.data.dataset import DataOptions, Dataset, PreparedDataset, Split
from dabench.errors import DabenchError

META = "meta.json"


def prepared_folder(dataset: Dataset, key: dict[str, Any]) -> Path:
    return paths.cache_dir("datasets") / f"{dataset.id}-{atomic.sha256_json(key)[:16]}"


def load_prepared(dataset: Dataset, options: DataOptions, data_root: Path | None = None) -> PreparedDataset:
    """The dataset's prepared splits, preparing them first if the cache lacks them or they are corrupt."""
    folder = dataset.locate(data_root or paths.data_root())
    key = dataset.cache_key(folder, options)
    target = prepared_folder(dataset, key)
    prepared = _read_verified(dataset, target, quiet=True)
    if prepared is not None:
        return prepared
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):  # only the lock holder warns and publishes over a corrupt copy
        prepared = _read_verified(dataset, target)  # another process may have built it meanwhile
        if prepared is None:
            _build_into(dataset, folder, options, key, target)
            prepared = _read_verified(dataset, target)
    if prepared is None:
        raise DabenchError(f"prepared dataset {target} failed its checksum right after it was written; "
                           "check the disk holding DABENCH_HOME")
    return prepared


def _build_into(dataset: Dataset, folder: Path | None, options: DataOptions, key: dict[str, Any],
                target: Path) -> None:
    started = time.perf_counter()
    splits = dataset.build(folder, options)
    seconds = time.perf_counter() - started
    tmp = atomic.temp_dir_beside(target)
    try:
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
        atomic.publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_verified(dataset: Dataset, target: Path, quiet: bool = False) -> PreparedDataset | None:
    """The cached dataset, or None when absent or corrupt (reported unless ``quiet``, the look taken
    before the lock). A corrupt copy is never deleted here: the rebuild publishes over it atomically, so
    no reader can remove arrays another process has just written."""
    meta_path = target / META
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        for file_name, digest in meta["files"].items():
            if atomic.sha256_file(target / file_name) != digest:
                raise ValueError(f"{file_name} does not match its checksum")
        splits = {}
        for name in meta["counts"]:
            images = np.load(target / f"{name}_images.npy")
            labels = np.load(target / f"{name}_labels.npy")
            splits[name] = Split(images, labels)
    except (OSError, ValueError, KeyError) as exc:
        if not quiet:
            print(f"dabench: warning: cached dataset {target} is corrupt ({exc}); rebuilding it", file=sys.stderr)
        return None
    return PreparedDataset(dataset.id, tuple(meta["classes"]), splits, target.name, meta)
