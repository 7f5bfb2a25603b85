"""Training-loop throughput against a bare train step (issue 6).

Baseline: forward, cross-entropy, backward and an SGD step of the ClassifierNet on pre-made
device-resident random float batches (no data path at all). Ours, same model shape, batch and precision:
one epoch of the real ``Shot.adapt`` (index sampler, uint8 -> float, per-sample augmentation, SHOT's loss
and lr decay) and one epoch of cluster_pl's training phase (the same data path plus mixup), on
device-resident uint8 images. SHOT's labelling pass is part of the timed epoch but its time is read
apart from the run's stage timings; the SHOT ratio uses the ``train`` stage only.

Run: .venv/bin/pytest benchmarks/test_train_step.py --benchmark-only -s
Sizes: DABENCH_BENCH_SIZE=cpu (default: small_cnn, 32 px, batch 64, 1,536 images, CPU) or gpu (resnet18,
112 px, batch 256, 28,709 images, CUDA with bf16 autocast + channels_last; there the ratios must be >= 0.85).
DABENCH_BENCH_THREADS=N sets torch's CPU threads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import (  # noqa: E402
    bare_train_steps,
    cluster_pl_epoch,
    face_images,
    make_model,
    random_batches,
    shot_epoch,
    sync,
)
from dabench.labels import CANONICAL_CLASSES  # noqa: E402
from dabench.train.schedule import sgd  # noqa: E402

SIZE = os.environ.get("DABENCH_BENCH_SIZE", "cpu")
BACKBONE, IMAGE_SIZE, BATCH, IMAGES = ("resnet18", 112, 256, 28_709) if SIZE == "gpu" else ("small_cnn", 32, 64, 1536)
DEVICE = torch.device("cuda" if SIZE == "gpu" else "cpu")
STEPS = IMAGES // BATCH  # one epoch, drop_last
ROUNDS = 3
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
def images() -> torch.Tensor:
    return face_images(IMAGES, 4096, IMAGE_SIZE, DEVICE)


def test_bare_train_step(benchmark) -> None:
    model = make_model(BACKBONE, DEVICE)
    optimizer = sgd([(model.parameters(), 1.0)], lr=1e-3, weight_decay=1e-3)
    inputs = random_batches(4, BATCH, IMAGE_SIZE, DEVICE)
    labels = torch.randint(len(CANONICAL_CLASSES), (BATCH,), device=DEVICE)

    def run() -> None:
        bare_train_steps(model, optimizer, inputs, labels, STEPS)
        sync(DEVICE)

    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    RESULTS["bare"] = benchmark.stats.stats.min


def test_shot_epoch(benchmark, images) -> None:
    model = make_model(BACKBONE, DEVICE)
    stages: list[dict[str, float]] = []
    benchmark.pedantic(lambda: stages.append(shot_epoch(model, images, BATCH, DEVICE)), rounds=ROUNDS,
                       warmup_rounds=1, iterations=1)
    measured = stages[1:]  # the warm-up round is called first
    RESULTS["shot_train"] = min(s["train"] for s in measured)
    RESULTS["shot_labelling"] = min(s["labelling"] for s in measured)
    benchmark.extra_info.update(train_s=RESULTS["shot_train"], labelling_s=RESULTS["shot_labelling"])


def test_cluster_pl_training_epoch(benchmark, images) -> None:
    network = make_model(BACKBONE, DEVICE)
    benchmark.pedantic(cluster_pl_epoch, args=(network, images, BATCH, DEVICE), rounds=ROUNDS, warmup_rounds=1,
                       iterations=1)
    RESULTS["cluster_pl_train"] = benchmark.stats.stats.min


def _report() -> None:
    if "bare" not in RESULTS:
        return
    per_epoch = STEPS * BATCH
    bare = per_epoch / RESULTS["bare"]
    print(f"\n{BACKBONE} {IMAGE_SIZE} px, batch {BATCH}, {DEVICE}: bare train step {bare:,.0f} img/s")
    for name in ("shot_train", "cluster_pl_train"):
        if name in RESULTS:
            speed = per_epoch / RESULTS[name]
            print(f"{name}: {speed:,.0f} img/s, {speed / bare:.2f} of the bare step")
            if SIZE == "gpu":
                assert speed / bare >= 0.85, f"{name} runs at {speed / bare:.2f} of the bare step (target 0.85)"
    if "shot_labelling" in RESULTS:
        print(f"SHOT labelling pass over {IMAGES} images: {RESULTS['shot_labelling']:.3f} s")
