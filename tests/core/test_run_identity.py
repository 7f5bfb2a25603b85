"""Run ids: the hash of what a run reads, pinned for a few configs, so a refactor that renames runs
(and so silently reruns every finished one) fails here first."""

from __future__ import annotations

import pytest

from dabench.run.execute import plan_run

PINNED = [
    ("source_only", "synth-lab:synth-wild", (), "7a1b657ec3696986"),
    ("shot", "synth-lab:synth-wild", (), "8f4f8b8ca0944d2d"),
    ("nrc", "fer2013:ckplus", (), "2d0a04f327350370"),  # holds the shared data's content digest
    ("cluster_pl", "synth-lab:synth-wild", (), "f5003878da5159a6"),
    ("shot", "synth-lab:synth-wild", ("init=ssl",), "6f4c21e2256b80e0"),
]


@pytest.mark.parametrize("method, pair, sets, run_id", PINNED)
def test_run_ids_are_pinned(method: str, pair: str, sets: tuple[str, ...], run_id: str, registry,
                            request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "fer2013" in pair:  # a real pair's id holds its data's content digest: the shared data's
        monkeypatch.setenv("DABENCH_DATA", str(request.getfixturevalue("shared_data")))
    assert plan_run(registry, method, pair, sets=sets).run_id == run_id


def test_a_run_that_never_reads_a_recipe_is_not_renamed_by_it(registry) -> None:
    plain = plan_run(registry, "shot", "synth-lab:synth-wild")
    assert "ssl" not in plain.config and "distil" not in plain.config
    for setting in ("ssl.epochs=3", "distil.epochs=3"):
        changed = plan_run(registry, "shot", "synth-lab:synth-wild", sets=(setting,))
        assert changed.run_id == plain.run_id and changed.config["variant"] == ""
    ssl_run = plan_run(registry, "shot", "synth-lab:synth-wild", sets=("init=ssl",))
    assert {"ssl", "distil"} <= set(ssl_run.config)
    assert plan_run(registry, "shot", "synth-lab:synth-wild", sets=("init=ssl", "ssl.epochs=3")).run_id != ssl_run.run_id
    # cluster_pl builds its own network from the SSL backbone: it reads ssl, never distil
    clup = plan_run(registry, "cluster_pl", "synth-lab:synth-wild")
    assert "ssl" in clup.config and "distil" not in clup.config
    assert plan_run(registry, "cluster_pl", "synth-lab:synth-wild", sets=("ssl.epochs=3",)).run_id != clup.run_id
