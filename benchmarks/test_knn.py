"""NRC's and AaD's neighbour search for one epoch at FER2013's size (N = 28,709, 256-d, K = KK = 5)
against the reference code's CPU-bank search (per batch of 64: batch x N distances, then for NRC a
B x K x N bmm for the neighbours' neighbours), timed two ways:

- as training runs it (``*_training_epoch``): one search per shuffled batch of 64, each batch's
  neighbours' lists searched again (NRC), exactly the reference's work, in chunks on the run's device;
- all N queries at once (``test_ours_chunked``): each distinct bank row searched once, so the
  neighbours' lists come from the same pass (what a per-epoch refresh would cost; training does not
  do this, since the bank changes after every batch).

Run: .venv/bin/pytest benchmarks/test_knn.py --benchmark-only -s   (DABENCH_BENCH_N=... for a smaller N)
Peak memory of ours is measured in a fresh subprocess (VmHWM - VmRSS before the search).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dabench.train.knn import nrc_neighbourhood, topk_neighbours

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.baselines.nrc_reference import reference_aad_epoch_search, reference_epoch_search  # noqa: E402

N = int(os.environ.get("DABENCH_BENCH_N", 28_709))
DIM, K, KK, CHUNK = 256, 5, 5, 1024
RESULTS: dict[str, object] = {}


def bank(seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(N, DIM, generator=torch.Generator().manual_seed(seed)), dim=1)


def ours(features: torch.Tensor):
    hood = nrc_neighbourhood(features, torch.arange(len(features)), K, KK, CHUNK)
    return hood.near, hood.affinity, hood.expanded


BATCH = 64


def batches(n: int) -> list[torch.Tensor]:
    """Training's batches: a fixed shuffle of range(n) in slices of 64 (drop_last, as dabench.train.loop.fit)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    return [order[start:start + BATCH] for start in range(0, n - n % BATCH, BATCH)]


def nrc_training_epoch(features: torch.Tensor):
    """One epoch of NRC's search as Nrc.adapt runs it: nrc_neighbourhood per batch."""
    hoods = [nrc_neighbourhood(features, index, K, KK, CHUNK) for index in batches(len(features))]
    return torch.cat([h.near for h in hoods]), torch.cat([h.affinity for h in hoods]), torch.cat([h.expanded for h in hoods])


def aad_training_epoch(features: torch.Tensor) -> torch.Tensor:
    """One epoch of AaD's search as Aad.adapt runs it: top-K of each batch against the bank."""
    return torch.cat([topk_neighbours(features[index], features, K, index, CHUNK)[1] for index in batches(len(features))])


def test_reference_nrc_training_epoch(benchmark):
    RESULTS["reference_nrc_training"] = benchmark.pedantic(
        lambda: reference_epoch_search(bank(), K, KK, order=torch.cat(batches(N))), rounds=1, iterations=1)
    RESULTS["reference_nrc_training_s"] = benchmark.stats.stats.min


def test_ours_nrc_training_epoch(benchmark):
    near, affinity, expanded = benchmark.pedantic(nrc_training_epoch, args=(bank(),), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.min
    if "reference_nrc_training" in RESULTS:
        ref_near, ref_weight, ref_expanded = RESULTS["reference_nrc_training"]
        assert torch.equal(near, ref_near) and torch.equal(affinity, ref_weight) and torch.equal(expanded, ref_expanded)
        print(f"\nNRC training epoch search, N={N}: reference {RESULTS['reference_nrc_training_s']:.2f} s, "
              f"ours {seconds:.2f} s, ratio {RESULTS['reference_nrc_training_s'] / seconds:.2f}x")


def test_reference_aad_training_epoch(benchmark):
    RESULTS["reference_aad"] = benchmark.pedantic(
        lambda: reference_aad_epoch_search(bank(), K, torch.cat(batches(N))), rounds=1, iterations=1)
    RESULTS["reference_aad_s"] = benchmark.stats.stats.min


def test_ours_aad_training_epoch(benchmark):
    near = benchmark.pedantic(aad_training_epoch, args=(bank(),), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.min
    if "reference_aad" in RESULTS:
        assert torch.equal(near, RESULTS["reference_aad"])
        print(f"\nAaD training epoch search, N={N}: reference {RESULTS['reference_aad_s']:.2f} s, ours {seconds:.2f} s, "
              f"ratio {RESULTS['reference_aad_s'] / seconds:.2f}x")


def test_reference_cpu_bank(benchmark):
    RESULTS["reference_out"] = benchmark.pedantic(reference_epoch_search, args=(bank(), K, KK), rounds=1,
                                                  iterations=1)
    RESULTS["reference"] = benchmark.stats.stats.min


def test_ours_chunked(benchmark):
    near, affinity, expanded = benchmark.pedantic(ours, args=(bank(),), rounds=2, iterations=1)
    RESULTS["ours"] = benchmark.stats.stats.min
    if "reference_out" in RESULTS:
        ref_near, ref_weight, ref_expanded = RESULTS["reference_out"]
        assert torch.equal(near, ref_near) and torch.equal(affinity, ref_weight)
        assert torch.equal(expanded, ref_expanded)
        ratio = RESULTS["reference"] / RESULTS["ours"]
        print(f"\nNRC epoch search, N={N}: reference {RESULTS['reference']:.2f} s, ours {RESULTS['ours']:.2f} s, "
              f"ratio {ratio:.1f}x")


PEAK_SCRIPT = """
import re, torch
torch.set_num_threads(1)
import sys; sys.path.insert(0, {root!r})
from benchmarks.test_knn import bank, ours
features = bank()
def status(key):
    return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))
before = status("VmRSS")
ours(features)
print((status("VmHWM") - before) / 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak memory")
def test_ours_peak_memory():
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(root=root)], capture_output=True, text=True,
                         check=True, env={**os.environ, "DABENCH_BENCH_N": str(N)})
    peak_mib = float(out.stdout.strip().splitlines()[-1])
    print(f"\nours: peak extra memory {peak_mib:.0f} MiB for N={N} (bank itself {N * DIM * 4 / 2**20:.0f} MiB)")
    assert peak_mib < 1024
