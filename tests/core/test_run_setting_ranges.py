"""Run settings that would record a "done" run at chance, or crash mid-run, are refused at plan time
with one message naming the key (the method hyperparameters already were)."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.run.execute import plan_run

PAIR = "synth-lab:synth-wild"


@pytest.mark.parametrize("setting, message", [
    ("source.epochs=0", "bad source recipe: source: epochs must be >= 1 and batch_size >= 2 (got 0, 64)"),
    ("source.batch_size=0", "bad source recipe: source: epochs must be >= 1 and batch_size >= 2 (got 15, 0)"),
    ("source.val_fraction=1.5", "bad source recipe: source: val_fraction must be in [0, 1) (the share held out to "
                                "pick the epoch), got 1.5"),
    ("source.val_fraction=1", "bad source recipe: source: val_fraction must be in [0, 1) (the share held out to "
                              "pick the epoch), got 1.0"),
    ("source.label_smoothing=-0.1", "bad source recipe: source: label_smoothing must be in [0, 1), got -0.1"),
    ("source.lr=0", "bad source recipe: source: lr must be > 0; backbone_lr_mult and weight_decay >= 0"),
])
def test_bad_source_recipe_is_refused(setting: str, message: str, registry) -> None:
    with pytest.raises(DabenchError) as raised:
        plan_run(registry, "source_only", PAIR, sets=(setting,))
    assert str(raised.value) == message


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999999999999])
def test_seed_out_of_range_is_refused(seed: int, registry) -> None:
    with pytest.raises(DabenchError) as raised:
        plan_run(registry, "source_only", PAIR, seed=seed)
    assert str(raised.value) == f"seed must be an integer in 0..4294967295 (NumPy's seed range), got {seed}"
