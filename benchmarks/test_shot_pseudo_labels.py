"""Speed of SHOT's pseudo-labelling (soft + one hard centroid round, cosine) at FER2013's size:
dabench's torch version against the reference's numpy/scipy ``obtain_label`` step.

Run: .venv/bin/pytest benchmarks/test_shot_pseudo_labels.py --benchmark-only -s
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.train.pseudo_labels import centroid_pseudo_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.baselines.shot_reference import reference_pseudo_labels  # noqa: E402

N, DIM, CLASSES = 28_709, 256, 7
RESULTS: dict[str, float] = {}


def benchmark_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features from 7 well-separated Gaussian classes (no near-ties between float32 and float64)
    and softmax predictions that are right 60% of the time."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, CLASSES, N)
    centres = 3.0 * rng.normal(size=(CLASSES, DIM))
    features = (centres[label] + rng.normal(size=(N, DIM))).astype(np.float32)
    predicted = np.where(rng.random(N) < 0.6, label, rng.integers(0, CLASSES, N))
    logits = rng.normal(size=(N, CLASSES)) + 3.0 * np.eye(CLASSES)[predicted]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return features, probs.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return benchmark_data()


def test_reference_numpy_scipy(benchmark, data):
    features, probs = data
    labels = benchmark.pedantic(reference_pseudo_labels, args=(features, probs), rounds=5, iterations=1)
    RESULTS["reference"] = benchmark.stats.stats.min
    RESULTS["reference_labels"] = labels


def test_ours_torch(benchmark, data):
    features, probs = (torch.from_numpy(a) for a in data)
    labels = benchmark.pedantic(centroid_pseudo_labels, args=(features, probs), rounds=5, iterations=1)
    RESULTS["ours"] = benchmark.stats.stats.min
    assert np.array_equal(labels.numpy(), RESULTS.get("reference_labels", reference_pseudo_labels(*data)))
    if "reference" in RESULTS:
        ratio = RESULTS["reference"] / RESULTS["ours"]
        print(f"\nSHOT pseudo-labels, N={N}: reference {RESULTS['reference']:.3f} s, ours {RESULTS['ours']:.3f} s,"
              f" ratio {ratio:.1f}x")
