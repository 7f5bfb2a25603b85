"""Feature extraction over a whole image set (issue 6): ``dabench.train.features.extract`` on
device-resident uint8 images (uint8 -> float, eval mode, inference mode, bf16 on CUDA, features and
logits gathered) against the baseline, a bare inference-mode forward on pre-made float batches.

Run: .venv/bin/pytest benchmarks/test_feature_extraction.py --benchmark-only -s
Sizes: DABENCH_BENCH_SIZE=cpu (default: small_cnn, 32 px, 8,192 images) or gpu (resnet18, 112 px, 73,000
images, CUDA; the ratio must be >= 0.85 there and the peak GPU memory of extract is printed).
DABENCH_BENCH_THREADS=N sets torch's CPU threads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import bare_inference, face_images, make_model, random_batches, sync  # noqa: E402
from dabench.train.features import extract  # noqa: E402

SIZE = os.environ.get("DABENCH_BENCH_SIZE", "cpu")
BACKBONE, IMAGE_SIZE, IMAGES = ("resnet18", 112, 73_000) if SIZE == "gpu" else ("small_cnn", 32, 8192)
DEVICE = torch.device("cuda" if SIZE == "gpu" else "cpu")
BATCH, ROUNDS = 512, 3
RESULTS: dict[str, float] = {}

pytestmark = pytest.mark.skipif(SIZE == "gpu" and not torch.cuda.is_available(),
                                reason="DABENCH_BENCH_SIZE=gpu needs a CUDA device")


@pytest.fixture(scope="module", autouse=True)
def threads():
    if os.environ.get("DABENCH_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["DABENCH_BENCH_THREADS"]))
    torch.backends.cudnn.benchmark = True
    yield
    _report()


@pytest.fixture(scope="module")
def model():
    return make_model(BACKBONE, DEVICE)


def test_bare_inference(benchmark, model) -> None:
    inputs = random_batches(8, BATCH, IMAGE_SIZE, DEVICE)

    def run() -> None:
        bare_inference(model, inputs, IMAGES)
        sync(DEVICE)

    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    RESULTS["bare"] = benchmark.stats.stats.min


def test_extract(benchmark, model) -> None:
    images = face_images(IMAGES, 4096, IMAGE_SIZE, DEVICE)

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        out = extract(model, images, BATCH)
        sync(DEVICE)
        return out

    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    features, logits = benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    assert features.shape == (IMAGES, 256) and logits.shape == (IMAGES, 7)
    assert not features.requires_grad and torch.isfinite(features).all()
    RESULTS["extract"] = benchmark.stats.stats.min
    if DEVICE.type == "cuda":
        RESULTS["peak_gib"] = torch.cuda.max_memory_allocated(DEVICE) / 2**30
        RESULTS["images_gib"] = images.numel() / 2**30


def _report() -> None:
    if "bare" in RESULTS and "extract" in RESULTS:
        bare, ours = IMAGES / RESULTS["bare"], IMAGES / RESULTS["extract"]
        print(f"\n{BACKBONE} {IMAGE_SIZE} px, {IMAGES} images, {DEVICE}: bare inference {bare:,.0f} img/s, "
              f"extract {ours:,.0f} img/s, ratio {ours / bare:.2f}")
        if "peak_gib" in RESULTS:
            print(f"peak GPU memory {RESULTS['peak_gib']:.2f} GiB (the uint8 images: {RESULTS['images_gib']:.2f} GiB)")
        if SIZE == "gpu":
            assert ours / bare >= 0.85, f"extract runs at {ours / bare:.2f} of bare inference (target 0.85)"
