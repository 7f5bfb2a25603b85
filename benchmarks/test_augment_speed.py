"""Per-sample augmentation cost: the CluP reference's transform (``augment_reference``: flip, rotation
+-35 degrees, shift 0.15, zero fill, colour jitter) against dabench's default ``augment`` (flip, zoom,
rotation, shift; one grid_sample, no colour), on the same float batch, in one run, so the ratio can be read.

Baselines: ``augment``, and the reference's own way, torchvision's transforms image by image
(``per_image_reference``). Shapes: 256 x 3 x 48 x 48 (FER2013-size faces) and 64 x 3 x 112 x 112 (ExpW size).
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


def per_image_reference(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The reference's way: torchvision's flip, RandomAffine(35, translate 0.15) and ColorJitter(0.5, 0.5,
    0.5) image by image (v2 tensor transforms; torch's global RNG, not ``generator``)."""
    from torchvision.transforms import v2

    transform = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomAffine(degrees=35, translate=(0.15, 0.15)),
                            v2.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5)])
    return torch.stack([transform(image) for image in batch])


@pytest.mark.parametrize("name,transform", [("augment", augment), ("augment_reference", augment_reference),
                                            ("per_image_reference", per_image_reference)])
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
        loop = RESULTS.get(("per_image_reference", shape))
        if base and ours:
            images = CALLS * shape[0]
            print(f"\n{'x'.join(map(str, shape))} on {DEVICE}: augment {images / base:,.0f} img/s, "
                  f"augment_reference {images / ours:,.0f} img/s, ratio reference / augment {ours / base:.2f}x time")
            if loop:
                print(f"  per-image torchvision reference {images / loop:,.0f} img/s: augment_reference is "
                      f"{loop / ours:.1f}x faster")
