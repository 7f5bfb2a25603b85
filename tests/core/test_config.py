"""Config resolution: --set parsing, deep merge, unknown keys and wrong types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from dabench.errors import DabenchError
from dabench.run.execute import plan_run
from dabench.settings.config import RUN_DEFAULTS, build_dataclass, check_against, deep_merge, parse_set, type_mismatch


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
    from dabench.settings.config import describe_changes

    assert describe_changes({}) == ""
    changes = {"source": {"lr": 0.1, "augment": False}, "epochs": 5, "init": "ssl"}
    assert describe_changes(changes) == "epochs=5, init=ssl, source.augment=false, source.lr=0.1"


def test_runs_with_changed_settings_get_their_own_leaderboard_row() -> None:
    from dabench.report.leaderboard import row_label

    assert row_label({"method": "shot", "variant": ""}) == "shot"
    assert row_label({"method": "shot", "variant": "epochs=5"}) == "shot [epochs=5]"
    assert row_label({"method": "shot"}) == "shot"  # runs recorded before variants existed


# run settings with a None default or a range ------------------------------------------------------
@pytest.mark.parametrize("values,message", [
    ({"image_size": "abc"}, "config key 'image_size' must be int in 8..1024 (px) or null, got 'abc'"),
    ({"image_size": 4}, "config key 'image_size' must be int in 8..1024 (px) or null, got 4"),
    ({"image_size": True}, "config key 'image_size' must be int in 8..1024 (px) or null, got True"),
    ({"image_size": 64.0}, "config key 'image_size' must be int in 8..1024 (px) or null, got 64.0"),
    ({"backbone": 18}, "config key 'backbone' must be str or null, got 18"),
    ({"backbone_weights": "/nonexist.pt"},
     "config key 'backbone_weights' must be the path of an existing file of backbone weights or null, got '/nonexist.pt'"),
    ({"backbone_weights": 3}, "config key 'backbone_weights' must be the path of a file of backbone weights (str) or "
                              "null, got 3"),
    ({"eval_batch_size": 0}, "config key 'eval_batch_size' must be int >= 1, got 0"),
    ({"eval_batch_size": "big"}, "config key 'eval_batch_size' must be int >= 1, got 'big'"),
    ({"init": "imagenet"}, "config key 'init' must be one of source, ssl, scratch or null, got 'imagenet'"),
    ({"protocol": None}, "config key 'protocol' must be one of inductive, transductive, got None"),
    ({"data": {"target": 5}}, "config key 'data.target' must be a mapping of dataset options"),
])
def test_run_settings_are_checked(values, message) -> None:
    with pytest.raises(DabenchError) as info:
        check_against(RUN_DEFAULTS, values)
    assert str(info.value) == message


def test_good_run_settings_pass(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    for values in ({"image_size": None}, {"image_size": 8}, {"image_size": 1024}, {"backbone_weights": str(weights)},
                   {"backbone_weights": None}, {"eval_batch_size": 1}, {"init": None}, {"init": "ssl"},
                   {"backbone": "resnet18"}, {"data": {"source": {"n_train": 5}, "target": {}}}):
        check_against(RUN_DEFAULTS, values)


@pytest.mark.parametrize("hint,value,wanted", [
    (int, 3, None), (int, "abc", "int"), (int, True, "int"), (int, 3.0, "int"),
    (float, 3, None), (float, "x", "float"), (bool, 1, "bool"), (str, 1, "str"),
    (float | None, None, None), (float | None, "x", "float or null"),
    (tuple[str, ...], ["a", "b"], None), (tuple[str, ...], ["a", 1], "a list of str"), (tuple[int, int], [1], "a list of int"),
    (Literal["a", "b"], "c", "one of a, b"), (Path, "/x", None), (Any, object(), None),
])
def test_type_mismatch_in_words(hint, value, wanted) -> None:
    assert type_mismatch(hint, value) == wanted


@dataclass(frozen=True)
class _Recipe:
    epochs: int = 3
    temperature: float | None = None  # a None default: only the annotation says what it takes


def test_build_dataclass_checks_field_types() -> None:
    assert build_dataclass(_Recipe, {"temperature": 2}, "recipe") == _Recipe(3, 2)
    with pytest.raises(DabenchError) as info:
        build_dataclass(_Recipe, {"temperature": "hot"}, "test recipe")
    assert str(info.value) == "bad test recipe: field 'temperature' must be float or null, got 'hot'"


def test_dataset_options_are_type_checked(registry) -> None:
    synth = registry.dataset("synth-wild")
    with pytest.raises(DabenchError) as info:
        synth.options({"n_train": "abc"})
    assert str(info.value) == "dataset 'synth-wild' option 'n_train' must be int, got 'abc'"
    with pytest.raises(DabenchError) as info:
        synth.options({"rgb": "yes"}, where="data.target.")
    assert str(info.value) == "config key 'data.target.rgb' must be bool, got 'yes'"
    assert synth.options({"n_train": 5, "rgb": True}).n_train == 5
    with pytest.raises(DabenchError) as info:  # the Options class's own checks become the same kind of error
        registry.dataset("ckplus").options({"crop": "tight"})
    assert str(info.value).startswith("bad option for dataset 'ckplus': crop must be one of ")


def _bool_settings(registry) -> list[tuple[str, str]]:
    """(method, dotted key) of every bool a run of the generated pair reads: run settings, stage recipes,
    each method's hyperparameters, the datasets' options; found from the defaults, not listed."""
    found = []
    for method_id, method_cls in sorted(registry.methods.items()):
        plan = plan_run(registry, method_id, "synth-lab:synth-wild")
        for key, value in _leaves(plan.config):
            if isinstance(value, bool) and key.split(".")[0] not in ("variant", "splits"):
                found.append((method_id, key))
    for side in ("source", "target"):
        options = registry.dataset("synth-lab").options({})
        found += [("source_only", f"data.{side}.{name}") for name, value in vars(options).items()
                  if isinstance(value, bool)]
    return found


def _leaves(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    leaves = []
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves += _leaves(value, f"{prefix}{key}.")
        else:
            leaves.append((f"{prefix}{key}", value))
    return leaves


# YAML 1.1 reads these as booleans; a researcher typing them may mean anything
YAML11_WORDS = ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "Y", "N"]


def test_a_bool_setting_takes_true_or_false_and_refuses_other_words(registry) -> None:
    settings = _bool_settings(registry)
    assert len({key for _, key in settings}) >= 5, settings  # amp, compile, source recipe bools, rgb, ...
    for index, (method, key) in enumerate(settings):
        word = YAML11_WORDS[index % len(YAML11_WORDS)]
        with pytest.raises(DabenchError, match=rf"'{key}' must be bool.*, got '{word}'"):
            plan_run(registry, method, "synth-lab:synth-wild", sets=(f"{key}={word}",))
        for value, meant in (("true", True), ("False", False)):
            config = plan_run(registry, method, "synth-lab:synth-wild", sets=(f"{key}={value}",)).config
            leaf = config
            for part in key.split("."):
                leaf = leaf[part]
            assert leaf is meant, (method, key)
    assert parse_set("note=on") == {"note": "on"}  # a string setting keeps the word
