"""The generated pair synth-lab:synth-wild over seeds 0, 1, 2, every built-in method trained once per
seed (module fixture), then held to the bounds of the issues:

- a real domain shift: source_only at least 15 points below target_oracle, 10 points above chance and
  above always answering the target's most frequent class (issue 2);
- shot, nrc and aad beat source_only's mean by 3 points, and no seed of an adaptation method falls 2
  points below source_only's (issue 3); cluster_pl beats it by 5 points (issue 4).
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from dabench import registry as registry_module
from dabench.data.cache import load_prepared
from dabench.runner import execute, plan_run

PAIR = "synth-lab:synth-wild"
SEEDS = (0, 1, 2)
ADAPTATION = ("shot", "nrc", "aad", "tent", "adabn", "cluster_pl")
MUST_GAIN = {"shot": 0.03, "nrc": 0.03, "aad": 0.03, "cluster_pl": 0.05}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accuracies(shared_home) -> dict[str, dict[int, float]]:
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the per-test home fixture
        patch.setenv("DABENCH_HOME", str(shared_home))
        registry_module.reset()
        registry = registry_module.get_registry()
        table = {method: {seed: execute(plan_run(registry, method, PAIR, seed), registry, device_name="cpu")["accuracy"]
                          for seed in SEEDS}
                 for method in ("source_only", "target_oracle", *ADAPTATION)}
        registry_module.reset()
    return table


def _mean(accuracies, method: str) -> float:
    return statistics.mean(accuracies[method].values())


def test_source_only_is_well_below_the_oracle(accuracies):
    for seed in SEEDS:
        gap = accuracies["target_oracle"][seed] - accuracies["source_only"][seed]
        assert gap >= 0.15, (seed, accuracies["source_only"], accuracies["target_oracle"])


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


@pytest.mark.parametrize("method", ADAPTATION)
def test_no_seed_much_worse_than_source_only(accuracies, method):
    for seed in SEEDS:
        assert accuracies[method][seed] >= accuracies["source_only"][seed] - 0.02, (method, seed, accuracies)
