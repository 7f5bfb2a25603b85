"""`dabench method show` and `dabench list methods --hparams`: what a method declares, and what a pair's
per-target / per-pair defaults change."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.cli import cli, main
from dabench.host import registry as registry_module
from dabench.methods import Method


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry_module.reset()
    yield
    registry_module.reset()


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def table_rows(output: str) -> dict[str, list[str]]:
    """Rows of the simple table after its dashed rule, keyed by hyperparameter; cells split on 2+ spaces."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = {}
    for line in lines[rule + 1:]:
        if not line.startswith((" ", "*", "change ", "run setting")) and line.strip():
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = cells
    return rows


def test_nrc_on_fer2013_ckplus_shows_the_ckplus_neighbourhood(fresh_home: Path) -> None:
    output = invoke("method", "show", "nrc", "--pair", "fer2013:ckplus")
    lines = output.splitlines()
    assert lines[0].startswith("method nrc (plugin nrc): Exploiting the Intrinsic Neighborhood Structure")
    header = next(line for line in lines if line.startswith("hyperparameter"))
    assert re.split(r"\s{2,}", header.strip()) == ["hyperparameter", "type", "default", "fer2013:ckplus", "from", "help"]
    rows = table_rows(output)
    assert rows["K"] == ["K", "int", "5", "3 *", "targets: ckplus", "nearest neighbours per sample"]
    assert rows["KK"][:5] == ["KK", "int", "5", "2 *", "targets: ckplus"]
    assert rows["lr"] == ["lr", "float", "0.01", "0.01", "base learning rate (bottleneck/classifier)"]  # no origin
    assert rows["augment"][:4] == ["augment", "bool", "true", "true"]
    assert "*: differs from the default on fer2013:ckplus" in lines


def test_without_a_pair_only_the_declaration(fresh_home: Path) -> None:
    output = invoke("method", "show", "nrc")
    rows = table_rows(output)
    assert rows["K"] == ["K", "int", "5", "nearest neighbours per sample"]
    header = next(line for line in output.splitlines() if line.startswith("hyperparameter"))
    assert re.split(r"\s{2,}", header.strip()) == ["hyperparameter", "type", "default", "help"] and "*:" not in output
    # a target with no override: every value is the default, none marked
    assert "*" not in "".join(row[3] for row in table_rows(invoke("method", "show", "nrc", "-p", "ckplus:fer2013")).values())


@dataclass(frozen=True)
class TwoHparams:
    K: int = field(default=5, metadata={"help": "neighbours"})
    ratios: tuple[float, ...] = field(default=(0.5, 1.0), metadata={"help": "ratios"})
    name: str | None = field(default=None, metadata={"help": "a name"})


def test_pairs_win_over_targets_and_say_so(fresh_home: Path, tmp_path: Path) -> None:
    defaults = tmp_path / "two.yaml"
    defaults.write_text("targets:\n  synth-wild: {K: 3, ratios: [0.5, 1.0], distil: {epochs: 2}}\n"
                        "pairs:\n  synth-lab:synth-wild: {K: 7}\n")

    class Two(Method):
        """Two things: a method registered in process.

        More docstring."""

        id = "two"
        Hparams = TwoHparams
        defaults_file = defaults

    registry_module.get_registry().add("methods", Two, "test")
    output = invoke("method", "show", "two", "--pair", "synth-lab:synth-wild")
    assert output.splitlines()[0] == "method two (plugin test): Two things: a method registered in process."
    rows = table_rows(output)
    assert rows["K"] == ["K", "int", "5", "7 *", "pairs: synth-lab:synth-wild", "neighbours"]
    # given in the YAML but equal to the default (a tuple against a YAML list): where it comes from, no mark
    assert rows["ratios"] == ["ratios", "tuple[float, ...]", "[0.5, 1.0]", "[0.5, 1.0]", "targets: synth-wild", "ratios"]
    assert rows["name"] == ["name", "str | None", "null", "null", "a name"]
    assert "run setting on synth-lab:synth-wild: distil.epochs=2 (targets: synth-wild)" in output.splitlines()


def _main(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("method,pair,message", [
    ("nope", "synth-lab:synth-wild", "unknown method 'nope'; valid methods: "),
    ("nrc", "fer2013", "bad pair 'fer2013': write it as SOURCE:TARGET, e.g. synth-lab:synth-wild"),
    ("nrc", "fer2013:nowhere", "unknown dataset 'nowhere'; valid datasets: "),
    ("nrc", "fer2013:fer2013", "bad pair 'fer2013:fer2013': source and target are the same dataset"),
])
def test_unknown_method_or_bad_pair_is_the_run_commands_error(method: str, pair: str, message: str,
                                                              fresh_home: Path, capsys) -> None:
    shown = _main(capsys, "method", "show", method, "--pair", pair)
    ran = _main(capsys, "run", "--method", method, "--pair", pair)
    assert shown == ran
    code, out, err = shown
    assert (code, out) == (2, "") and err.startswith(f"dabench: error: {message}") and err.count("\n") == 1


def test_list_methods_hparams(fresh_home: Path, capsys) -> None:
    rows = [re.split(r"\s{2,}", line.strip()) for line in invoke("list", "methods", "--hparams").splitlines()]
    assert rows[0] == ["method", "hyperparameter", "type", "default", "help"]
    assert ["nrc", "K", "int", "5", "nearest neighbours per sample"] in rows
    assert not any(row[0] == "source_only" for row in rows)  # no hyperparameters, no rows
    assert _main(capsys, "list", "pairs", "--hparams") == (2, "", "dabench: error: --hparams goes with "
                                                                  "`dabench list methods`\n")
