"""Presets: the layer's place (over the method's YAML, under -c and --set), the run id and config that record
it, a --set that contradicts it, the sweep and source commands, the listing and the errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.run.plan import plan_run
from dabench.settings import presets
from dabench.sweep.plan import plan_sweep

PAIR = "synth-lab:synth-wild"
ROOT = Path(__file__).resolve().parents[2]


def test_the_preset_layer_sets_the_reference_recipe(registry) -> None:
    plan = plan_run(registry, "cluster_pl", PAIR, preset="clup-reference")
    config = plan.config
    assert (config["backbone"], config["image_size"]) == ("resnet18_stem1", 160)
    assert (config["source"]["epochs"], config["source"]["lr"], config["source"]["weight_decay"]) == (100, 0.01, 0.0)
    assert (config["ssl"]["epochs"], config["ssl"]["prototypes"], config["ssl"]["queue_length"]) == (1000, 5000, 3840)
    assert config["ssl"]["small_crops"] == 4  # the preset's, over synth-wild's own ssl_defaults (2)
    assert (plan.hparams.epochs, plan.hparams.lr, plan.hparams.batch_size, plan.hparams.mixup_alpha) == (50, 0.1, 32, 0.2)
    assert config["preset"] == {"name": "clup-reference", "version": 1, "overridden": {}}
    assert config["variant"] == "preset clup-reference v1"


def test_the_per_pair_values_apply_on_their_pair_only(registry) -> None:
    preset = presets.load("clup-reference")
    assert preset.layer("cluster_pl", "rafdb:expw")["prototypes"] == 250
    assert preset.layer("cluster_pl", "rafdb:expw")["fraction"] == 0.3
    assert "prototypes" not in preset.layer("cluster_pl", PAIR)  # the generated pair keeps its method YAML's P
    assert plan_run(registry, "cluster_pl", PAIR, preset="clup-reference").hparams.prototypes == 100


def test_method_values_reach_only_their_method(registry) -> None:
    shot = plan_run(registry, "shot", PAIR, preset="shot-reference")
    assert (shot.hparams.lr, shot.hparams.backbone_lr_mult, shot.config["source"]["epochs"]) == (0.01, 0.1, 20)
    nrc = plan_run(registry, "nrc", PAIR, preset="shot-reference")  # run settings only
    assert nrc.config["source"]["epochs"] == 20 and nrc.config["image_size"] == 224
    assert nrc.hparams == plan_run(registry, "nrc", PAIR, sets=("image_size=224",)).hparams
    assert plan_run(registry, "nrc", PAIR, preset="nrc-reference").hparams.lr == 0.001


def test_the_run_id_records_the_preset_name_and_version(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = plan_run(registry, "shot", PAIR)
    with_preset = plan_run(registry, "shot", PAIR, preset="shot-reference")
    assert with_preset.run_id != plain.run_id
    # the same values spelled as --set are another run: the preset's name and version are part of the id
    spelled = plan_run(registry, "shot", PAIR, sets=("image_size=224", "source.epochs=20", "source.backbone_lr_mult=0.1"))
    assert spelled.config["source"] == with_preset.config["source"] and spelled.run_id != with_preset.run_id
    original = presets.load
    monkeypatch.setattr(presets, "load", lambda name: dataclasses.replace(original(name), version=2))
    assert plan_run(registry, "shot", PAIR, preset="shot-reference").run_id != with_preset.run_id


def test_a_set_that_contradicts_the_preset_wins_and_the_config_says_so(registry) -> None:
    plan = plan_run(registry, "cluster_pl", PAIR, sets=("source.epochs=5", "lr=0.05"), preset="clup-reference")
    assert plan.config["source"]["epochs"] == 5 and plan.hparams.lr == 0.05
    assert plan.config["preset"]["overridden"] == {"source.epochs": {"preset": 100, "run": 5},
                                                   "lr": {"preset": 0.1, "run": 0.05}}
    assert plan.config["variant"] == "preset clup-reference v1; lr=0.05, source.epochs=5"
    assert presets.override_lines(plan.config["preset"]) == [
        "lr=0.05 overrides preset clup-reference v1 (lr=0.1)",
        "source.epochs=5 overrides preset clup-reference v1 (source.epochs=100)"]
    # a --set that repeats the preset's value changes nothing
    same = plan_run(registry, "cluster_pl", PAIR, sets=("source.epochs=100",), preset="clup-reference")
    assert same.run_id == plan_run(registry, "cluster_pl", PAIR, preset="clup-reference").run_id


def test_a_config_file_sits_above_the_preset(registry, tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("ssl:\n  epochs: 3\n")
    plan = plan_run(registry, "cluster_pl", PAIR, config_files=(path,), preset="clup-reference")
    assert plan.config["ssl"]["epochs"] == 3
    assert plan.config["preset"]["overridden"] == {"ssl.epochs": {"preset": 1000, "run": 3}}


def test_an_unknown_preset_names_the_known_ones(registry) -> None:
    message = ("unknown preset 'clup'; known presets: clup-reference, nrc-reference, shot-reference "
               "(dabench list presets; dabench preset show NAME)")
    with pytest.raises(DabenchError) as caught:
        plan_run(registry, "shot", PAIR, preset="clup")
    assert str(caught.value) == message
    result = CliRunner().invoke(cli, ["run", "--method", "shot", "--pair", PAIR, "--preset", "clup", "--dry-run"])
    assert result.exit_code != 0 and isinstance(result.exception, DabenchError)


def test_a_sweep_carries_the_preset_to_its_workers(registry) -> None:
    from dabench.sweep.worker import plan_run as worker_plan_run

    planned = plan_sweep(registry, ["shot", "cluster_pl"], [PAIR], [0], sets=("epochs=3",), preset="clup-reference")
    for plan, request in planned:
        assert request.preset == "clup-reference"
        again = worker_plan_run(registry, request.method, request.pair, request.seed, request.backbone, (),
                                request.sets, preset=request.preset)
        assert again.run_id == request.run_id == plan.run_id
    assert planned[1][0].config["preset"]["overridden"] == {"epochs": {"preset": 50, "run": 3}}


def test_source_train_takes_the_preset(registry) -> None:
    from dabench.cli.source import _dataset_source_spec, _pair_source_spec

    spec = _dataset_source_spec(registry, "synth-lab", 0, None, None, "clup-reference")
    assert (spec.backbone, spec.image_size, spec.recipe["epochs"], spec.recipe["weight_decay"]) == (
        "resnet18_stem1", 160, 100, 0.0)
    pair_spec = _pair_source_spec(registry, PAIR, 0, None, None, (), (), "clup-reference")
    assert pair_spec.recipe["epochs"] == 100 and pair_spec.image_size == 160


def test_list_and_show_presets() -> None:
    listed = CliRunner().invoke(cli, ["list", "presets"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()[2:]] == [
        "clup-reference", "nrc-reference", "shot-reference"]
    shown = CliRunner().invoke(cli, ["preset", "show", "clup-reference"])
    assert shown.exit_code == 0
    assert "pair rafdb:fer2013, method cluster_pl:\nfraction: 0.2\nprototypes: 1000" in shown.output
    assert "source lr schedule: the reference uses ExponentialLR gamma 0.99" in shown.output


def test_every_preset_loads_and_checks_against_the_run_settings(registry) -> None:
    for name in presets.known():
        preset = presets.load(name)
        for method in [*preset.methods, "source_only"]:
            plan_run(registry, method, PAIR, preset=name)  # every key known, every value of the right type
        assert preset.not_matched and preset.reference.startswith("github.com/")


def test_the_clup_preset_cites_the_readme_caveat_and_the_files_ship() -> None:
    text = (presets.PRESET_DIR / "clup-reference.yaml").read_text()
    assert "do not\n# perfectly match" in text or "do not perfectly match" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"dabench.settings" = ["presets/*.yaml"]' in pyproject
    assert '"dabench.run" = ["throughput/*.json"]' in pyproject


def test_run_and_sweep_say_which_preset_values_a_set_replaces(fresh_home) -> None:
    line = "dabench: source.epochs=5 overrides preset clup-reference v1 (source.epochs=100)"
    ran = CliRunner().invoke(cli, ["run", "--method", "shot", "--pair", PAIR, "--preset", "clup-reference",
                                   "--set", "source.epochs=5", "--dry-run"])
    assert ran.exit_code == 0, ran.output
    assert ran.stderr.splitlines() == [line]
    swept = CliRunner().invoke(cli, ["sweep", "--pairs", PAIR, "--methods", "shot,cluster_pl", "--seeds", "0,1",
                                     "--preset", "clup-reference", "--set", "source.epochs=5", "--dry-run"])
    assert swept.exit_code == 0, swept.output
    assert swept.stderr.splitlines() == [line]  # once, not once per run
