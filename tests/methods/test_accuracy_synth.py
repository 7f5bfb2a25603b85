"""Accuracy on synth-lab:synth-wild over seeds 0, 1, 2: shot, nrc and aad must beat source_only's
mean by 3 points, and no seed of any adaptation method may fall 2 points below source_only's."""

from __future__ import annotations

import statistics

import pytest

from dabench.runner import execute, plan_run

SEEDS = (0, 1, 2)
METHODS = ("shot", "nrc", "aad", "tent", "adabn")
MUST_GAIN = ("shot", "nrc", "aad")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def accuracies() -> dict[str, dict[int, float]]:
    from dabench import registry as registry_module
    registry_module.reset()
    registry = registry_module.get_registry()
    table = {method: {seed: execute(plan_run(registry, method, "synth-lab:synth-wild", seed), registry,
                                    device_name="cpu")["accuracy"] for seed in SEEDS}
             for method in ("source_only", *METHODS)}
    registry_module.reset()
    return table


@pytest.mark.parametrize("method", MUST_GAIN)
def test_mean_gain_over_source_only(accuracies, method):
    source = statistics.mean(accuracies["source_only"].values())
    mean = statistics.mean(accuracies[method].values())
    assert mean >= source + 0.03, f"{method} {mean:.3f} vs source_only {source:.3f}: {accuracies}"


@pytest.mark.parametrize("method", METHODS)
def test_no_seed_much_worse_than_source_only(accuracies, method):
    for seed in SEEDS:
        assert accuracies[method][seed] >= accuracies["source_only"][seed] - 0.02, (method, seed, accuracies)
