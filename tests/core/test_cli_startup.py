"""The CLI starts at once: help and the reports never import torch (each case runs in a fresh interpreter,
so a top-level torch import anywhere on the CLI's path fails it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dabench.store import atomic, results

PROBE = """
import json, sys
from dabench.cli import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def probe(home: Path, *args: str, preamble: str = "") -> tuple[int, bool, str]:
    """(exit code, whether torch got imported, stderr) of ``main(args)`` in a new interpreter."""
    completed = subprocess.run([sys.executable, "-c", preamble + PROBE, *args], capture_output=True, text=True,
                               env={**os.environ, "DABENCH_HOME": str(home)}, timeout=120)
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    return outcome["code"], outcome["torch"], completed.stderr


def write_run(method: str, pair: str) -> None:
    """One finished run folder, named by its config's hash as the runner names it."""
    config = {"method": method, "pair": pair, "seed": 0, "variant": ""}
    record = {"run_id": atomic.sha256_json(config)[:16], "method": method, "pair": pair, "seed": 0,
              "protocol": "inductive", "accuracy": 0.5, "macro_f1": 0.45, "source_accuracy": 0.4,
              "classes": ["happiness", "sadness"], "per_class": {"happiness": 0.5, "sadness": 0.5},
              "confusion": [[5, 5], [5, 5]], "seconds": 1.0, "device": "cpu"}
    folder = results.run_dir(record["run_id"])
    folder.mkdir(parents=True)
    results.write_config(folder, config)
    results.finish_run(folder, record, [])


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["sweep", "--help"], ["report", "--help"],
                                  ["report", "leaderboard", "--help"], ["source", "train", "--help"],
                                  ["data", "prepare", "--help"], ["method", "show", "--help"]])
def test_help_imports_no_torch(args: list[str], fresh_home: Path) -> None:
    code, torch_imported, stderr = probe(fresh_home, *args)
    assert code == 0, stderr
    assert not torch_imported


def test_leaderboard_on_an_empty_home_imports_no_torch(fresh_home: Path) -> None:
    code, torch_imported, stderr = probe(fresh_home, "report", "leaderboard")
    assert (code, stderr.splitlines()[0]) == (2, f"dabench: error: no finished runs in {fresh_home / 'runs'}; "
                                                 "start one with `dabench run`")
    assert not torch_imported


def test_reports_of_finished_runs_read_files_not_models(fresh_home: Path) -> None:
    write_run("shot", "a:b")
    for args in (["report", "leaderboard", "--format", "csv"], ["report", "leaderboard", "--selection", "oracle"],
                 ["report", "per-class", "--method", "shot", "--pair", "a:b"], ["report", "reindex"]):
        code, torch_imported, stderr = probe(fresh_home, *args)
        assert code == 0, stderr
        assert not torch_imported, args


def test_the_probe_sees_torch_when_it_is_imported(fresh_home: Path) -> None:
    """Guards the check above: the same probe, after a torch import, reports it."""
    _, torch_imported, _ = probe(fresh_home, "--help", preamble="import torch\n")
    assert torch_imported
