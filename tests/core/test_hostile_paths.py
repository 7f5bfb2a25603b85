"""Hostile paths and files on the command line: an unusable DABENCH_HOME, a binary -c file, --workers 0.
Each is one line on stderr, a non-zero exit and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dabench.cli import main

RUN = ["run", "--method", "source_only", "--pair", "synth-lab:synth-wild"]


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", [RUN, ["sweep", "--pairs", "synth-lab:synth-wild", "--methods", "source_only"],
                                     ["source", "train", "--dataset", "synth-lab"],
                                     ["data", "prepare", "synth-lab"]])
def test_a_home_that_is_a_file_is_one_error(command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    monkeypatch.setenv("DABENCH_HOME", str(home))
    code, err = _fails(command, capsys)
    assert (code, err) == (2, f"dabench: error: DABENCH_HOME={home} is a file, not a folder; point DABENCH_HOME "
                              "at a folder you can write\n")
    assert home.read_text() == "not a folder\n"


def test_a_home_under_a_file_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    home = tmp_path / "file" / "home"
    monkeypatch.setenv("DABENCH_HOME", str(home))
    code, err = _fails(RUN, capsys)
    assert (code, err) == (2, f"dabench: error: DABENCH_HOME={home} is not writable (Not a directory); point "
                              "DABENCH_HOME at a folder you can write\n")


def test_a_binary_config_file_is_one_error(fresh_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "weights.yaml"
    binary.write_bytes(bytes([0xA3, 0x00, 0xFF, 0x10]) * 8)
    code, err = _fails([*RUN, "-c", str(binary)], capsys)
    assert (code, err) == (2, f"dabench: error: config file {binary} is not UTF-8 text (byte 0); -c takes a YAML file\n")
    assert not (fresh_home / "runs").exists()


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_sweep_workers_below_one_is_refused(workers: str, fresh_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fails(["sweep", "--pairs", "synth-lab:synth-wild", "--methods", "source_only", "--workers", workers],
                       capsys)
    assert code == 2 and f"Invalid value for '--workers': {workers} is not in the range x>=1." in err
    assert "Traceback" not in err and not (fresh_home / "runs").exists()
