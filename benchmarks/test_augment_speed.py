"""Per-sample augmentation cost: the CluP reference's transform (``augment_reference``: flip, rotation
+-35 degrees, shift 0.15, zero fill, colour jitter) against dabench's default ``augment`` (flip, zoom,
rotation, shift; one grid_sample, no colour), on the same float batch, in one run, so the ratio can be read.

Baseline: ``augment``. Shapes: 256 x 3 x 48 x 48 (FER2013-size faces) and 64 x 3 x 112 x 112 (ExpW size).
Run: .venv/bin/pytest benchmarks/test_augment_speed.py --benchmark-only -s
DABENCH_BENCH_SIZE=gpu runs it on CUDA (skipped without one); DABENCH_BENCH_THREADS=N sets torch's CPU threads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import sync  # noqa: E402
from dabench.train.batches import augment, augment_reference  # noqa: E402

SIZE = os.environ.get("DABENCH_BENCH_SIZE", "cpu")
DEVICE = torch.device("cuda" if SIZE == "gpu" else "cpu")
SHAPES = [(256, 3, 48, 48), (64, 3, 112, 112)]
CALLS = 20  # batches per round: one call is too short to time on its own
RESULTS: dict[tuple[str, tuple[int, ...]], float] = {}

pytestmark = pytest.mark.skipif(SIZE == "gpu" and not torch.cuda.is_available(),
                                reason="DABENCH_BENCH_SIZE=gpu needs a CUDA device")


@pytest.fixture(scope="module", autouse=True)
def threads():
    if os.environ.get("DABENCH_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["DABENCH_BENCH_THREADS"]))
    yield
    _report()


@pytest.fixture(scope="module", params=SHAPES, ids=lambda shape: "x".join(map(str, shape)))
def batch(request) -> torch.Tensor:
    return torch.rand(*request.param, generator=torch.Generator().manual_seed(0)).to(DEVICE)


@pytest.mark.parametrize("name,transform", [("augment", augment), ("augment_reference", augment_reference)])
def test_augment_speed(benchmark, batch: torch.Tensor, name: str,
                       transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor]) -> None:
    generator = torch.Generator().manual_seed(0)

    def run() -> torch.Tensor:
        for _ in range(CALLS):
            out = transform(batch, generator)
        sync(DEVICE)
        return out

    out = benchmark.pedantic(run, rounds=5, warmup_rounds=1, iterations=1)
    assert out.shape == batch.shape and out.min() >= 0 and out.max() <= 1
    if benchmark.stats is not None:  # None under --benchmark-disable
        RESULTS[(name, tuple(batch.shape))] = benchmark.stats.stats.min


def _report() -> None:
    for shape in SHAPES:
        base, ours = RESULTS.get(("augment", shape)), RESULTS.get(("augment_reference", shape))
        if base and ours:
            images = CALLS * shape[0]
            print(f"\n{'x'.join(map(str, shape))} on {DEVICE}: augment {images / base:,.0f} img/s, "
                  f"augment_reference {images / ours:,.0f} img/s, ratio reference / augment {ours / base:.2f}x time")
