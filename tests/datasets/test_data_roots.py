"""Where a dataset's folder is found: --data-root ID=PATH, then a bare --data-root PATH, then
DABENCH_DATA_<ID> (the dataset's own folder, named anyhow), then $DABENCH_DATA/<id>, then
$DABENCH_HOME/data/<id>; bad --data-root values are one clear error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from native_fixtures import write_image

from dabench.cli import main
from dabench.data.identity import folder_identity
from dabench.data.pairs import prepare
from dabench.errors import DabenchError
from dabench.store import paths


def fer2013_folders(folder: Path) -> Path:
    """A tiny fer2013 in its class-folder layout at ``folder`` (a folder of any name)."""
    write_image(folder / "train" / "happy" / "Training_1.jpg", 48, 48, 120)
    write_image(folder / "train" / "sad" / "Training_2.jpg", 48, 48, 80)
    write_image(folder / "test" / "happy" / "PrivateTest_1.jpg", 48, 48, 120)
    return folder


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, fresh_home: Path) -> Path:
    """No DABENCH_DATA nor DABENCH_DATA_<ID> from the machine; the environment is put back after the test."""
    for name in [name for name in os.environ if name == paths.DATA_ENV or name.startswith(paths.OWN_DATA_PREFIX)]:
        monkeypatch.delenv(name)
    return fresh_home


def test_env_var_names_the_dataset_own_folder(tmp_path: Path, clean_env: Path, registry,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = registry.dataset("fer2013")
    with pytest.raises(DabenchError, match=f"folder not found in {clean_env / 'data' / 'fer2013'}"):
        paths.dataset_folder(dataset)
    shared = fer2013_folders(tmp_path / "shared" / "fer2013")
    monkeypatch.setenv("DABENCH_DATA", str(tmp_path / "shared"))
    assert paths.dataset_folder(dataset) == shared
    own = fer2013_folders(tmp_path / "FER-2013 copy")  # not named like the id
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(own))
    assert paths.dataset_folder(dataset) == own  # DABENCH_DATA_<ID> wins over DABENCH_DATA
    assert paths.dataset_folder(dataset, tmp_path / "shared") == shared  # an explicit root wins over both
    assert paths.dataset_folder(registry.dataset("synth-lab")) is None  # generated: no folder, whatever is set
    assert paths.dataset_env_var("synth-lab") == "DABENCH_DATA_SYNTH_LAB"

    # the folder's content, not its place, is in the prepared data's cache key: two copies of the same
    # files share one cache; a copy with another image is another cache
    from_own = prepare(dataset, {}, 16)
    monkeypatch.delenv("DABENCH_DATA_FER2013")
    from_shared = prepare(dataset, {}, 16)
    assert from_own.key == from_shared.key and from_own.meta["key"]["files"].startswith("sha256:")
    write_image(shared / "train" / "sad" / "Training_2.jpg", 48, 48, 81)
    edited = prepare(dataset, {}, 16)
    assert edited.key != from_own.key


def test_env_var_naming_a_missing_folder_says_which_variable(tmp_path: Path, clean_env: Path, registry,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(tmp_path / "nowhere"))
    with pytest.raises(DabenchError) as info:
        paths.dataset_folder(registry.dataset("fer2013"))
    assert str(info.value).startswith(f"dataset 'fer2013': folder named by DABENCH_DATA_FER2013 not found in "
                                      f"{tmp_path / 'nowhere'}.\nExpected layout under {tmp_path / 'nowhere'}:")


def test_command_line_roots_in_their_order(tmp_path: Path, clean_env: Path, registry,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = registry.dataset("fer2013")
    every = fer2013_folders(tmp_path / "every" / "fer2013").parent
    own = fer2013_folders(tmp_path / "mine")
    from_env = fer2013_folders(tmp_path / "from-env")
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(from_env))
    roots = paths.parse_data_roots([str(every)], registry.datasets)
    assert roots == (every, {})
    with paths.data_roots_in_environment(*roots):
        assert paths.dataset_folder(dataset) == every / "fer2013"  # a bare --data-root wins over DABENCH_DATA_<ID>
    roots = paths.parse_data_roots([str(every), f"fer2013={own}"], registry.datasets)
    with paths.data_roots_in_environment(*roots):
        assert paths.dataset_folder(dataset) == own  # ID=PATH wins over a bare --data-root
        assert os.environ["DABENCH_DATA_FER2013"] == str(own)  # what worker processes inherit
    assert os.environ["DABENCH_DATA_FER2013"] == str(from_env) and "DABENCH_DATA" not in os.environ  # put back


def test_data_check_with_data_root_id_equals_path(tmp_path: Path, clean_env: Path, registry,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    own = fer2013_folders(tmp_path / "FER-2013 copy")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "fer2013", "--data-root", f"fer2013={own}"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"fer2013: layout found in {own}: ")
    assert "DABENCH_DATA_FER2013" not in os.environ  # only while the command ran


def test_data_check_with_the_env_var(tmp_path: Path, clean_env: Path, registry, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    own = fer2013_folders(tmp_path / "elsewhere")
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(own))
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", "fer2013"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"fer2013: layout found in {own}: ")


def test_data_prepare_with_data_root_id_equals_path(tmp_path: Path, clean_env: Path, registry,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    own = fer2013_folders(tmp_path / "FER-2013 copy")
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "prepare", "fer2013", "--resolution", "16", "--data-root", f"fer2013={own}"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("fer2013: prepared at 16 px (test 1, train 2, val 0) in ")
    meta = json.loads((Path(out.strip().rsplit(" in ", 1)[1]) / "meta.json").read_text())
    assert meta["key"]["files"] == folder_identity(own)


def _bad_values(tmp_path: Path) -> list[tuple[list[str], str]]:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n")
    every = "give the folder that holds one folder per dataset (<id>/), or ID=PATH for one dataset's own folder"
    own = "give the folder of dataset 'fer2013' itself (the one holding its files) as --data-root fer2013=PATH"
    return [
        ([f"{tmp_path / 'nowhere'}"], f"--data-root {tmp_path / 'nowhere'}: no such folder; {every}"),
        ([f"{a_file}"], f"--data-root {a_file}: a file, not a folder; {every}"),
        ([f"fer2013={tmp_path / 'nowhere'}"], f"--data-root fer2013={tmp_path / 'nowhere'}: no such folder; {own}"),
        ([f"fer2013={a_file}"], f"--data-root fer2013={a_file}: a file, not a folder; {own}"),
        ([f"fer2031={tmp_path}"], f"--data-root fer2031={tmp_path}: unknown dataset 'fer2031'; valid datasets: afe, "
                                  "affectnet, ckplus, expw, fer2013, ferplus, jaffe, rafdb, sfew"),
        ([f"synth-lab={tmp_path}"], f"--data-root synth-lab={tmp_path}: dataset 'synth-lab' is generated from code "
                                    "and reads no folder; leave it out"),
        (["fer2013="], "--data-root fer2013=: no folder after '='; write --data-root fer2013=PATH, PATH being the "
                       "folder of dataset 'fer2013' itself"),
        ([f"fer2013={tmp_path}", f"fer2013={tmp_path}/x"],
         f"--data-root given twice for dataset 'fer2013' ({tmp_path} and {tmp_path}/x); give each dataset one folder"),
        ([str(tmp_path), str(tmp_path)], f"--data-root given two folders for every dataset ({tmp_path} and {tmp_path}); "
                                         "give one, and ID=PATH for a dataset kept elsewhere"),
    ]


def test_bad_data_roots_are_one_clear_error(tmp_path: Path, registry) -> None:
    for values, message in _bad_values(tmp_path):
        with pytest.raises(DabenchError) as info:
            paths.parse_data_roots(values, registry.datasets)
        assert str(info.value) == message


@pytest.mark.parametrize("command", [["data", "check", "fer2013"], ["data", "prepare", "fer2013"],
                                     ["run", "--method", "source_only", "--pair", "fer2013:ckplus"],
                                     ["sweep", "--pairs", "fer2013:ckplus", "--methods", "source_only", "--dry-run"]])
def test_bad_data_root_on_the_command_line_exits_2(tmp_path: Path, registry, capsys: pytest.CaptureFixture[str],
                                                   command: list[str]) -> None:
    for values, message in _bad_values(tmp_path)[::4]:
        with pytest.raises(SystemExit) as exit_info:
            main([*command, *(part for value in values for part in ("--data-root", value))])
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == f"dabench: error: {message}\n"


def test_a_path_with_an_equals_sign_is_a_bare_root(tmp_path: Path, registry) -> None:
    odd = fer2013_folders(tmp_path / "a=b" / "fer2013").parent
    assert paths.parse_data_roots([str(odd)], registry.datasets) == (odd, {})


def test_the_option_reaches_the_processes_a_command_starts(tmp_path: Path, clean_env: Path, registry) -> None:
    """What `dabench run` and `sweep` rely on: their workers (processes, Ray tasks) inherit the environment."""
    import subprocess
    import sys

    import click
    from click.testing import CliRunner

    from dabench.cli.data import data_root_option

    own = fer2013_folders(tmp_path / "mine")

    @click.command()
    @data_root_option
    def command() -> None:
        child = subprocess.run([sys.executable, "-c", "from dabench.store import paths; print(paths.dataset_path('fer2013'))"],
                               capture_output=True, text=True, check=True)
        click.echo(child.stdout.strip())

    result = CliRunner().invoke(command, ["--data-root", f"fer2013={own}"])
    assert (result.exit_code, result.output.strip()) == (0, str(own))
    assert "DABENCH_DATA_FER2013" not in os.environ
