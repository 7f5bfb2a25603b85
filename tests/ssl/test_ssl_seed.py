"""ssl.seed: one SSL stage per target (the CluP paper's one checkpoint per target dataset) shared by
every run seed, or one per run seed with ``ssl.seed: run``."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.run.execute import execute, plan_run
from dabench.settings.recipes import SSLRecipe, ssl_seed
from dabench.store import paths

PAIR = "synth-lab:synth-wild"
TINY = ("data.target.n_train=120", "data.target.n_test=60", "data.source.n_train=120", "data.source.n_test=60",
        "source.epochs=1", "ssl.epochs=1", "ssl.batch_size=32", "ssl.prototypes=10", "ssl.hidden_dim=32",
        "ssl.projection_dim=16", "ssl.warmup_epochs=0", "ssl.small_crops=0", "prototypes=10", "epochs=1")


def _ssl_artifacts() -> list[str]:
    folder = paths.cache_dir("ssl")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.endswith(".tmp")) if folder.exists() else []


def test_seed_resolution() -> None:
    assert ssl_seed(SSLRecipe(), 7) == 0
    assert ssl_seed(SSLRecipe(seed=3), 7) == 3
    assert ssl_seed(SSLRecipe(seed="run"), 7) == 7


def test_two_run_seeds_share_one_ssl_artifact_by_default(registry, fresh_home) -> None:
    results = [execute(plan_run(registry, "cluster_pl", PAIR, seed=seed, sets=TINY), registry, device_name="cpu")
               for seed in (0, 1)]
    assert len(_ssl_artifacts()) == 1
    assert results[0]["source_model"]["sha256"] != results[1]["source_model"]["sha256"]  # the run seed still varies it


def test_ssl_seed_run_builds_one_artifact_per_run_seed(registry, fresh_home) -> None:
    for seed in (0, 1):
        execute(plan_run(registry, "cluster_pl", PAIR, seed=seed, sets=TINY + ("ssl.seed=run",)), registry,
                device_name="cpu")
    assert len(_ssl_artifacts()) == 2


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "true"])
def test_bad_ssl_seed_is_refused_at_plan_time(value: str, registry) -> None:
    with pytest.raises(DabenchError) as raised:
        plan_run(registry, "cluster_pl", PAIR, sets=(f"ssl.seed={value}",))
    shown = {"-1": "-1", "abc": "'abc'", "1.5": "1.5", "true": "True"}[value]
    assert str(raised.value) == f"config key 'ssl.seed' must be an int >= 0 or 'run', got {shown}"
