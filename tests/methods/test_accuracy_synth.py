"""The generated pair synth-lab:synth-wild over seeds 0, 1, 2, every built-in method trained once per
seed (module fixture), held to the bounds that hold on every CPU we measured.

Training a small CNN from scratch is chaotic: the same code, seed and data give other numbers under
other floating-point kernels (on one machine, AVX-512 vs AVX2 kernels move SHOT's seed-0 accuracy from
59.8% to 72.5%). In the three full tables measured (two machines, and one of them again with AVX2
kernels; docs/results.md, "The generated pair"; SHOT-IM in the two it was run in), these held every
time, with margins of several points:

- a real domain shift: source_only's mean at least 15 points below target_oracle's, every seed 10
  points above chance and above always answering the target's most frequent class (issue 2);
- nrc, aad, tent, adabn and SHOT-IM (shot with cls_par=0) beat source_only's mean by 3 points; no seed
  of nrc, tent, adabn or SHOT-IM falls 2 points below source_only's (issues 3 and 4).

SHOT's and cluster_pl's per-seed results swing by 15-20 points with the numerics: their pseudo-labels
come from the source model's feature geometry (SHOT's centroids, CluP's clusters), which on this pair
labels worse than the source model's own predictions, so their 3-seed means are not held to a gain
here (SHOT-IM, the same method without the pseudo-label term, is, above). SHOT's every seed must still
land far above chance (a broken loss or wrong pseudo-labels collapse to ~20%). cluster_pl is left out:
with nothing robust to assert on this pair, its 5 minutes of training would buy one weak floor; its
whole pipeline runs in tests/methods/test_smoke.py and tests/methods/test_cluster_pl.py, and its numbers
are in docs/results.md.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from dabench.data.cache import load_prepared
from dabench.host import registry as registry_module
from dabench.run.execute import execute, plan_run

PAIR = "synth-lab:synth-wild"
SEEDS = (0, 1, 2)
ADAPTATION = ("shot", "nrc", "aad", "tent", "adabn")
VARIANTS = {"shot_im": ("shot", ("cls_par=0",))}  # SHOT's information maximisation alone
MUST_GAIN = {"nrc": 0.03, "aad": 0.03, "tent": 0.03, "adabn": 0.03, "shot_im": 0.03}
NEVER_MUCH_WORSE = ("nrc", "tent", "adabn", "shot_im")
NO_COLLAPSE = 0.5  # every seed of every method: 7 classes, chance 14.3%, majority class 20%

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accuracies(shared_home) -> dict[str, dict[int, float]]:
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the per-test home fixture
        patch.setenv("DABENCH_HOME", str(shared_home))
        registry_module.reset()
        registry = registry_module.get_registry()
        runs = {method: (method, ()) for method in ("source_only", "target_oracle", *ADAPTATION)} | VARIANTS
        table = {name: {seed: execute(plan_run(registry, method, PAIR, seed, sets=sets), registry,
                                      device_name="cpu")["accuracy"] for seed in SEEDS}
                 for name, (method, sets) in runs.items()}
        registry_module.reset()
    return table


def _mean(accuracies, method: str) -> float:
    return statistics.mean(accuracies[method].values())


def test_source_only_is_well_below_the_oracle(accuracies):
    gap = _mean(accuracies, "target_oracle") - _mean(accuracies, "source_only")
    assert gap >= 0.15, (accuracies["source_only"], accuracies["target_oracle"])


def test_source_only_beats_chance_and_the_majority_class(accuracies, registry):
    target = registry.dataset("synth-wild")
    labels = load_prepared(target, target.Options()).split("test").labels
    majority = np.bincount(labels).max() / len(labels)
    for seed in SEEDS:
        assert accuracies["source_only"][seed] >= 1 / 7 + 0.10
        assert accuracies["source_only"][seed] > majority, (seed, majority)


@pytest.mark.parametrize("method", sorted(MUST_GAIN))
def test_mean_gain_over_source_only(accuracies, method):
    gain = _mean(accuracies, method) - _mean(accuracies, "source_only")
    assert gain >= MUST_GAIN[method], f"{method} gains {gain:.3f}: {accuracies}"


@pytest.mark.parametrize("method", NEVER_MUCH_WORSE)
def test_no_seed_much_worse_than_source_only(accuracies, method):
    for seed in SEEDS:
        assert accuracies[method][seed] >= accuracies["source_only"][seed] - 0.02, (method, seed, accuracies)


@pytest.mark.parametrize("method", [*ADAPTATION, *VARIANTS])
def test_no_method_collapses(accuracies, method):
    assert min(accuracies[method].values()) >= NO_COLLAPSE, (method, accuracies[method])
