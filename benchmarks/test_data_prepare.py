"""Preparing FER2013 from its folder layout (35,887 JPEGs) and loading the prepared arrays.

Run: .venv/bin/pytest benchmarks/test_data_prepare.py --benchmark-only. Skipped without ../shared/data.
The baseline is the same decode on one thread; the claim is the ratio, measured in the same run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dabench.data.cache import load_prepared
from dabench.data.images import decode_items
from dabench_datasets.fer2013 import Fer2013

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED_DATA / "fer2013").is_dir(),
                                reason=f"real FER data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def fer2013_items():
    dataset = Fer2013()
    return dataset, dataset.items(SHARED_DATA / "fer2013", dataset.options({"resolution": 48}))


@pytest.mark.parametrize("workers", [1, None], ids=["one_thread_baseline", "thread_pool"])
def test_decode_fer2013(benchmark, fer2013_items, workers) -> None:
    dataset, items = fer2013_items
    crop = dataset.crop_spec(dataset.options({}))
    images, _ = benchmark.pedantic(decode_items, args=(items, 48, "L", crop), kwargs={"workers": workers},
                                   rounds=2, iterations=1)
    assert images.shape == (35887, 48, 48, 1)


def test_prepare_fer2013_into_cache(benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """List + decode + hash + write + verify, into an empty DABENCH_HOME each round."""
    dataset = Fer2013()
    counter = iter(range(100))

    def prepare() -> int:
        monkeypatch.setenv("DABENCH_HOME", str(tmp_path / f"home{next(counter)}"))
        return sum(len(s) for s in load_prepared(dataset, dataset.options({"resolution": 48}), SHARED_DATA).splits.values())

    assert benchmark.pedantic(prepare, rounds=2, iterations=1) == 35887


def test_load_prepared_fer2013(benchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_HOME", str(tmp_path))
    dataset = Fer2013()
    options = dataset.options({"resolution": 48})
    load_prepared(dataset, options, SHARED_DATA)
    prepared = benchmark.pedantic(load_prepared, args=(dataset, options, SHARED_DATA), rounds=5, iterations=1)
    assert len(prepared.split("train")) == 28709
