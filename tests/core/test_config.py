"""Config resolution: --set parsing, deep merge, unknown keys and wrong types."""

from __future__ import annotations

from pathlib import Path

import pytest

from dabench.config import check_against, deep_merge, parse_set
from dabench.errors import DabenchError
from dabench.runner import plan_run


def test_parse_set_nests_and_parses_yaml() -> None:
    assert parse_set("source.epochs=3") == {"source": {"epochs": 3}}
    assert parse_set("lr=1e-3") == {"lr": 0.001}
    assert parse_set("augment=false") == {"augment": False}
    with pytest.raises(DabenchError, match="write it as key=value"):
        parse_set("epochs")


def test_deep_merge_keeps_siblings() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(DabenchError) as info:
        check_against({"epochs": 1, "source": {"lr": 0.1}}, {"source": {"lrr": 1}})
    assert str(info.value) == "unknown config key 'source.lrr'; valid keys: source.lr"


@pytest.mark.parametrize("value,ok", [(3, True), (3.0, False), ("3", False), (True, False)])
def test_int_keys_reject_other_types(value, ok) -> None:
    if ok:
        check_against({"epochs": 1}, {"epochs": value})
    else:
        with pytest.raises(DabenchError, match="config key 'epochs' must be int"):
            check_against({"epochs": 1}, {"epochs": value})


def test_plan_run_resolves_defaults_files_and_sets(registry, tmp_path: Path) -> None:
    config_file = tmp_path / "cfg.yaml"
    config_file.write_text("source:\n  epochs: 4\n  lr: 0.05\n")
    plan = plan_run(registry, "target_oracle", "synth-lab:synth-wild", seed=3, config_files=(config_file,),
                    sets=("source.epochs=2", "epochs=7"))
    assert plan.config["source"]["epochs"] == 2 and plan.config["source"]["lr"] == 0.05
    assert plan.hparams.epochs == 7
    assert plan.config["backbone"] == "small_cnn" and plan.config["image_size"] == 32
    assert plan.classes == ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
    assert plan.config["variant"] == "epochs=7, source.epochs=2, source.lr=0.05"  # the file's and --set's
    assert plan_run(registry, "cluster_pl", "synth-lab:synth-wild").config["variant"] == ""  # per-target YAML
    again = plan_run(registry, "target_oracle", "synth-lab:synth-wild", seed=3, config_files=(config_file,),
                     sets=("source.epochs=2", "epochs=7"))
    assert again.run_id == plan.run_id
    assert plan_run(registry, "target_oracle", "synth-lab:synth-wild", seed=4).run_id != plan.run_id


def test_plan_run_rejects_bad_values(registry) -> None:
    with pytest.raises(DabenchError, match="unknown config key 'epochz'; valid keys: .*backbone.*epochs"):
        plan_run(registry, "target_oracle", "synth-lab:synth-wild", sets=("epochz=3",))
    with pytest.raises(DabenchError, match="bad hyperparameters for method 'target_oracle': epochs and batch_size"):
        plan_run(registry, "target_oracle", "synth-lab:synth-wild", sets=("epochs=0",))
    with pytest.raises(DabenchError, match="unknown option.*n_trian for dataset 'synth-wild'; valid options: .*n_train"):
        plan_run(registry, "source_only", "synth-lab:synth-wild", sets=("data.target.n_trian=3",))
    with pytest.raises(DabenchError, match="'protocol' must be one of inductive, transductive"):
        plan_run(registry, "source_only", "synth-lab:synth-wild", sets=("protocol=both",))


def test_describe_changes_flattens_sorts_and_is_empty_for_defaults() -> None:
    from dabench.config import describe_changes

    assert describe_changes({}) == ""
    changes = {"source": {"lr": 0.1, "augment": False}, "epochs": 5, "init": "ssl"}
    assert describe_changes(changes) == "epochs=5, init=ssl, source.augment=false, source.lr=0.1"


def test_runs_with_changed_settings_get_their_own_leaderboard_row() -> None:
    from dabench.report import row_label

    assert row_label({"method": "shot", "variant": ""}) == "shot"
    assert row_label({"method": "shot", "variant": "epochs=5"}) == "shot [epochs=5]"
    assert row_label({"method": "shot"}) == "shot"  # runs recorded before variants existed
