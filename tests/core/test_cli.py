"""The command line end to end on small generated data, and its errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_dists import FAILING_HOOK_PLUGIN, fake_distribution, suite_plugin

from dabench.cli import cli
from dabench.host import registry as registry_module
from dabench.report import leaderboard as report
from dabench.report.selection import LAST

SMALL = ("--set", "data.source.n_train=300", "--set", "data.source.n_test=100", "--set", "data.target.n_train=300",
         "--set", "data.target.n_test=200", "--set", "source.epochs=2")


def dabench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script the way a user does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "dabench", *args], capture_output=True, text=True, env=full_env,
                          timeout=600)


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry_module.reset()
    yield
    registry_module.reset()


def test_run_json_then_leaderboard(fresh_home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--seed", "0",
                                 "--device", "cpu", "--json", *SMALL])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert set(record) == {"run_id", "method", "pair", "seed", "accuracy", "macro_f1", "per_class",
                           "source_accuracy", "oracle_accuracy", "seconds", "device"}
    assert record["method"] == "source_only" and record["pair"] == "synth-lab:synth-wild"
    assert record["accuracy"] == record["source_accuracy"]  # source_only is the source model
    assert 0.0 <= record["accuracy"] <= 1.0
    folder = fresh_home / "runs" / record["run_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "done", "log.txt", "result.json"]

    board = runner.invoke(cli, ["report", "leaderboard", "--format", "github"])
    assert board.exit_code == 0, board.output
    lines = board.output.strip().splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == [report.first_column(LAST), "synth-lab:synth-wild",
                                                                   "Avg"]
    cell = report.format_cell([100 * record["accuracy"]])
    # the row names the settings changed from the defaults; the only measured row is the best of its
    # column, so it is in bold
    label = ("source_only [data.source.n_test=100, data.source.n_train=300, data.target.n_test=200, "
             "data.target.n_train=300, source.epochs=2]")
    assert lines[2].split("|")[1].strip() == label and lines[2].split("|")[2].strip() == f"**{cell}**"

    # the same run again is recognised, not duplicated; the index can be rebuilt from the folders
    again = runner.invoke(cli, ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--seed", "0",
                                "--device", "cpu", "--json", *SMALL])
    assert json.loads(again.output.strip().splitlines()[-1])["run_id"] == record["run_id"]
    (fresh_home / "results.sqlite").unlink()
    board_again = runner.invoke(cli, ["report", "leaderboard", "--format", "csv"])
    assert board_again.output.splitlines()[1].startswith(f'"{label}",{cell}')


def test_list_and_plugins() -> None:
    runner = CliRunner()
    pairs = runner.invoke(cli, ["list", "pairs"])
    assert "synth-lab:synth-wild" in pairs.output.split()
    plugins = runner.invoke(cli, ["plugins"])
    assert plugins.exit_code == 0
    assert "dataset synth-lab, dataset synth-wild" in plugins.output
    assert "method source_only" in plugins.output


@pytest.mark.parametrize("args,message", [
    (["run", "--method", "nope", "--pair", "synth-lab:synth-wild"], "unknown method 'nope'; valid methods: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:nowhere"], "unknown dataset 'nowhere'; valid datasets: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--backbone", "vgg"],
     "unknown backbone 'vgg'; valid backbones: "),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--set", "source.epochs=many"],
     "config key 'source.epochs' must be int"),
    (["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--set", "bogus=1"],
     "unknown config key 'bogus'; valid keys: "),
    (["report", "leaderboard"], "no finished runs in"),
])
def test_user_errors_exit_2_with_one_message(args: list[str], message: str, fresh_home: Path) -> None:
    completed = dabench(*args)
    assert completed.returncode == 2
    assert completed.stderr.startswith("dabench: error: " + message)
    assert "Traceback" not in completed.stderr
    assert not (fresh_home / "runs").exists()  # nothing half-written


@pytest.mark.parametrize("setting,message", [
    ("image_size=abc", "config key 'image_size' must be int in 8..1024 (px) or null, got 'abc'"),
    ("image_size=-4", "config key 'image_size' must be int in 8..1024 (px) or null, got -4"),
    ("data.target.n_train=abc", "config key 'data.target.n_train' must be int, got 'abc'"),
    ("data.target.n_train=-5", "bad option for dataset 'synth-wild': n_train and n_test must be >= 1 (got -5, 1000)"),
    ("data.tgt.n_train=300", "unknown config key 'data.tgt'; valid keys: data.source, data.target (each a mapping "
                             "of that side's dataset options)"),
    ("backbone_weights=/nonexist.pt", "config key 'backbone_weights' must be the path of an existing file of "
                                      "backbone weights or null, got '/nonexist.pt'"),
    ("eval_batch_size=0", "config key 'eval_batch_size' must be int >= 1, got 0"),
    ("init=pretrained", "config key 'init' must be one of source, ssl, scratch or null, got 'pretrained'"),
])
def test_bad_set_values_are_refused_at_plan_time(setting: str, message: str, fresh_home: Path, capsys) -> None:
    """Before the fix each of these started the run: a traceback, and runs/<id>/ left with error.txt.
    In process through main() (what `python -m dabench` calls; the subprocess test above covers that)."""
    code, out, err = _main(capsys, "run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--device", "cpu",
                           "--set", setting)
    assert (code, err, out) == (2, f"dabench: error: {message}\n", "")
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir())
    assert not (fresh_home / "cache").exists()  # refused before any data was prepared


def _main(capsys, *args: str) -> tuple[int, str, str]:
    from dabench.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("args", [
    ["--debug", "run", "--method", "nope", "--pair", "synth-lab:synth-wild"],
    ["run", "--method", "nope", "--pair", "synth-lab:synth-wild", "--debug"],  # after the subcommand too
])
def test_debug_shows_the_traceback(args: list[str], fresh_home: Path) -> None:
    completed = dabench(*args)
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr and "unknown method 'nope'" in completed.stderr
    assert "No such option" not in completed.stderr


def test_debug_is_read_after_the_subcommand_in_process() -> None:
    from dabench.cli import _hoist_debug, main
    from dabench.errors import DabenchError

    assert _hoist_debug(["run", "-m", "x", "--debug"]) == (True, ["--debug", "run", "-m", "x"])
    assert _hoist_debug(["run", "--", "--debug"]) == (False, ["run", "--", "--debug"])  # after -- it is an argument
    result = CliRunner().invoke(cli, ["list", "suites", "--debug"])
    assert result.exit_code == 0 and "synthetic: synth-lab:synth-wild" in result.output
    with pytest.raises(DabenchError, match="unknown method 'nope'"):  # main() re-raises under --debug
        main(["run", "--debug", "--method", "nope", "--pair", "synth-lab:synth-wild"])


# plugins that break --------------------------------------------------------------------------------
def _with_plugins(root: Path, load: str, **extra: str) -> dict[str, str]:
    """The environment of a user who installed the fake distributions under ``root``."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "DABENCH_LOAD_PLUGINS": load, "DABENCH_STRICT_PLUGINS": "", **extra}


def _row(output: str, *first_cells: str) -> str:
    return next((line for line in output.splitlines() if line.split()[:len(first_cells)] == list(first_cells)), "")


def test_plugin_whose_hook_raises_is_listed_and_the_rest_works(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "dabench-half", "0.1", {"half": "half_mod"}, {"half_mod": FAILING_HOOK_PLUGIN})
    error = "register_methods raised RuntimeError: boom in register_methods"
    listing = dabench("plugins", env=_with_plugins(tmp_path, "half"))
    assert listing.returncode == 0, listing.stderr
    assert _row(listing.stdout, "half").split(None, 4) == ["half", "dabench-half", "0.1", "BROKEN", error]
    assert "Traceback" not in listing.stderr
    assert listing.stderr.count("dabench: warning: plugin 'half' (dabench-half 0.1) failed in register_methods") == 1
    datasets = dabench("list", "datasets", env=_with_plugins(tmp_path, "half"))
    assert datasets.returncode == 0 and _row(datasets.stdout, "synth-lab", "synthetic")
    assert "half-registered" not in datasets.stdout  # registered before its other hook raised: discarded

    strict = dabench("list", "methods", env=_with_plugins(tmp_path, "half", DABENCH_STRICT_PLUGINS="1"))
    assert (strict.returncode, strict.stderr) == (2, f"dabench: error: plugin 'half' (dabench-half 0.1) failed in "
                                                     f"register_methods: {error} (DABENCH_STRICT_PLUGINS is set)\n")


def test_duplicate_ids_still_list_in_plugins_but_stop_other_commands(tmp_path: Path) -> None:
    fake_distribution(tmp_path / "a", "dabench-dup-a", "1.0", {"dup_a": "dup_a_mod"}, {"dup_a_mod": suite_plugin("twin")})
    fake_distribution(tmp_path / "b", "dabench-dup-b", "2.0", {"dup_b": "dup_b_mod"}, {"dup_b_mod": suite_plugin("twin")})
    root = f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"
    message = ("dabench: error: duplicate suite id 'twin': registered by plugin 'dup_a' and again by plugin 'dup_b'; "
               "uninstall one of them or rename the id\n")
    listing = dabench("plugins", env=_with_plugins(root, "dup_a,dup_b"))
    assert (listing.returncode, listing.stderr) == (2, message)
    assert _row(listing.stdout, "dup_a").split() == ["dup_a", "dabench-dup-a", "1.0", "ok", "suite", "twin"]
    assert _row(listing.stdout, "dup_b").split() == ["dup_b", "dabench-dup-b", "2.0", "ok"]
    assert "method source_only" in _row(listing.stdout, "source_only")
    suites = dabench("list", "suites", env=_with_plugins(root, "dup_a,dup_b"))
    assert (suites.returncode, suites.stderr, suites.stdout) == (2, message, "")


def test_entry_point_named_like_a_builtin_is_listed_broken(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "dabench-shot", "0.2", {"shot": "impostor_mod"},
                      {"impostor_mod": "raise RuntimeError('the impostor was imported')\n"})
    listing = dabench("plugins", env=_with_plugins(tmp_path, "shot"))
    assert listing.returncode == 0, listing.stderr
    assert _row(listing.stdout, "shot", "dabench").split()[3:5] == ["ok", "method"]
    broken = _row(listing.stdout, "shot", "dabench-shot").split(None, 4)
    assert broken[3:] == ["BROKEN", "entry-point name 'shot' is already taken by dabench 0.1.0 (dabench_methods.shot); "
                                    "rename the entry point in dabench-shot's [project.entry-points.dabench] or "
                                    "uninstall one of them"]
    assert "Traceback" not in listing.stderr and "impostor was imported" not in listing.stdout + listing.stderr


def test_missing_dataset_folder_names_folder_and_layout(tmp_path: Path, registry) -> None:
    from dabench.data import Dataset
    from dabench.data.pairs import prepare
    from dabench.errors import DabenchError

    class OnDisk(Dataset):
        id = "ondisk"
        classes = ("happiness", "sadness")
        layout = "labels.txt and images/*.png"
        request = "https://example.org/ondisk"

    with pytest.raises(DabenchError) as info:
        prepare(OnDisk(), {}, 32, data_root=tmp_path)
    assert str(info.value) == (f"dataset 'ondisk': folder not found in {tmp_path / 'ondisk'}.\n"
                               f"Expected layout under {tmp_path / 'ondisk'}:\n  labels.txt and images/*.png\n"
                               "This dataset is licence-gated; request it from its owners: https://example.org/ondisk\n"
                               "Set DABENCH_DATA (or --data-root) to the folder that holds it.")


# source train --pair ------------------------------------------------------------------------------
SOURCE_SMALL = ("--set", "data.source.n_train=300", "--set", "data.source.n_test=100", "--set", "source.epochs=2")


def _four_class_dataset():
    """A generated target with 4 canonical classes (plus contempt, which pairs drop), registered in process."""
    import numpy as np

    from dabench.data import Split
    from dabench.data.synth import generate_faces
    from dabench.labels import CANONICAL_CLASSES
    from dabench_datasets.synthetic import SynthWild

    class FourClasses(SynthWild):
        id = "synth-four"
        classes = ("happiness", "sadness", "anger", "neutral", "contempt")

        def build(self, folder, options):
            splits = {}
            for offset, (name, count) in enumerate((("train", options.n_train), ("test", options.n_test))):
                images, labels = generate_faces(count, "wild", options.resolution, seed=options.seed * 1000 + offset)
                names = [CANONICAL_CLASSES[label] for label in labels]
                keep = np.array([n in self.classes for n in names])
                own = np.array([self.classes.index(n) for n, k in zip(names, keep, strict=True) if k], dtype=np.int64)
                splits[name] = Split(np.ascontiguousarray(images[keep]), own)
            return splits

    return FourClasses()


def test_source_train_pair_trains_the_model_a_run_reuses(fresh_home: Path) -> None:
    registry_module.get_registry().add("datasets", _four_class_dataset(), "test")
    runner = CliRunner()
    trained = runner.invoke(cli, ["source", "train", "--pair", "synth-lab:synth-four", "--device", "cpu", *SOURCE_SMALL])
    assert trained.exit_code == 0, trained.output
    assert "source model synth-lab/small_cnn/32px seed 0 (4 classes of synth-lab:synth-four, trained now)" in trained.output
    models = [p for p in (fresh_home / "cache" / "source_models").iterdir() if p.is_dir()]
    assert len(models) == 1
    meta = json.loads((models[0] / "meta.json").read_text())
    assert meta["spec"]["classes"] == ["happiness", "sadness", "anger", "neutral"]  # the pair's, canonical order

    ran = runner.invoke(cli, ["run", "--method", "source_only", "--pair", "synth-lab:synth-four", "--device", "cpu",
                              "--json", *SOURCE_SMALL, "--set", "data.target.n_train=200", "--set", "data.target.n_test=100"])
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.output.strip().splitlines()[-1])["run_id"]
    result = json.loads((fresh_home / "runs" / run_id / "result.json").read_text())
    assert result["source_model"]["sha256"] == meta["sha256"]  # reused, not trained again
    assert [p for p in (fresh_home / "cache" / "source_models").iterdir() if p.is_dir()] == models


@pytest.mark.parametrize("args,message", [
    ([], "give one of --dataset NAME (all of its classes) or --pair SOURCE:TARGET (the pair's shared classes, "
         "the source model `dabench run` on that pair uses)"),
    (["--dataset", "synth-lab", "--pair", "synth-lab:synth-wild"], "give one of --dataset NAME"),
    (["--dataset", "synth-lab", "--set", "source.epochs=2"], "-c and --set go with --pair (they are run settings"),
    (["--pair", "synth-lab:synth-wild", "--set", "source.epochs=many"], "config key 'source.epochs' must be int"),
])
def test_source_train_refuses_bad_arguments(args: list[str], message: str, fresh_home: Path, capsys) -> None:
    code, out, err = _main(capsys, "source", "train", "--device", "cpu", *args)
    assert code == 2 and err.startswith(f"dabench: error: {message}") and err.count("\n") == 1 and out == ""
    assert not (fresh_home / "cache" / "source_models").exists()
