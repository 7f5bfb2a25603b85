"""Speed of CluP's whole pseudo-labelling step (normalise, k-means, purity, per-class top-q):
dabench's torch version against the reference-faithful baseline (sklearn KMeans n_init=10,
k-means++, max_iter 300, then the per-cluster Python loop), on a Gaussian mixture of FER2013's size.

Run: .venv/bin/pytest benchmarks/test_cluster_pl_labels.py --benchmark-only -s
The ratio and both inertias are printed at the end (a speed claim is a ratio from one run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.train.cluster_labels import select_by_clusters

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.baselines.clup_reference import reference_pseudo_labels  # noqa: E402

CLASSES, FRACTION, COMPONENTS = 7, 0.2, 300
RESULTS: dict[str, dict[str, float]] = {}


def mixture(n: int, dim: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, dim) float32 from a Gaussian mixture of overlapping components, and 'source
    predictions' (n,) that follow the component 70% of the time."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(COMPONENTS, dim)).astype(np.float32)
    component = rng.integers(0, COMPONENTS, n)
    features = centres[component] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    predictions = np.where(rng.random(n) < 0.7, component % CLASSES, rng.integers(0, CLASSES, n))
    return features, predictions.astype(np.int64)


def ours(features: np.ndarray, predictions: np.ndarray, clusters: int, device: str = "cpu") -> dict[str, object]:
    selection = select_by_clusters(torch.from_numpy(features).to(device), torch.from_numpy(predictions).to(device),
                                   clusters, FRACTION, CLASSES, torch.Generator().manual_seed(0))
    if device == "cuda":
        torch.cuda.synchronize()
    return {"indices": selection.indices, "inertia": selection.rounds[0]["inertia"],
            "iterations": selection.rounds[0]["iterations"]}


@pytest.fixture(scope="module", autouse=True)
def threads():
    torch.set_num_threads(max(1, torch.get_num_threads()))  # both sides use every core sklearn uses
    yield
    _report()


@pytest.mark.parametrize("n,clusters", [(28_709, 250)])
def test_reference_baseline(benchmark, n: int, clusters: int) -> None:
    features, predictions = mixture(n)
    out = benchmark.pedantic(reference_pseudo_labels, args=(features, predictions, clusters, FRACTION, CLASSES),
                             rounds=1, iterations=1)
    RESULTS[f"reference N={n} P={clusters}"] = {"seconds": benchmark.stats.stats.mean, "inertia": out["inertia"]}


@pytest.mark.parametrize("n,clusters", [(28_709, 250), (28_709, 1000), (73_000, 1000)])
def test_dabench_torch(benchmark, n: int, clusters: int) -> None:
    features, predictions = mixture(n)
    rounds = 2 if n * clusters < 10_000_000 else 1  # the big cases take tens of seconds on 2 cores
    out = benchmark.pedantic(ours, args=(features, predictions, clusters), rounds=rounds, iterations=1)
    RESULTS[f"dabench N={n} P={clusters}"] = {"seconds": benchmark.stats.stats.mean, "inertia": out["inertia"],
                                               "iterations": out["iterations"]}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dabench_torch_cuda(benchmark) -> None:
    features, predictions = mixture(73_000)
    ours(features[:4096], predictions[:4096], 100, "cuda")  # CUDA context and kernels warmed up
    out = benchmark.pedantic(ours, args=(features, predictions, 1000, "cuda"), rounds=5, iterations=1)
    RESULTS["dabench cuda N=73000 P=1000"] = {"seconds": benchmark.stats.stats.mean, "inertia": out["inertia"],
                                                "iterations": out["iterations"]}


def _report() -> None:
    for name, row in RESULTS.items():
        print(f"\n{name}: {row['seconds']:.3f} s, inertia {row['inertia']:.2f}, iterations {row.get('iterations', '-')}")
    reference, mine = RESULTS.get("reference N=28709 P=250"), RESULTS.get("dabench N=28709 P=250")
    if reference and mine:
        print(f"speed-up at N=28709 P=250: {reference['seconds'] / mine['seconds']:.1f}x; "
              f"inertia ours / reference: {mine['inertia'] / reference['inertia']:.4f}")
        assert mine["inertia"] <= 1.01 * reference["inertia"], "dabench's clustering is more than 1% worse"
