"""`dabench sweep` keeps finished runs whose method's code changed (one warning per method) and reruns
exactly those with --rerun-changed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import PAIR, TINY

from dabench.cli import cli
from dabench.host import registry as registry_module
from dabench.run import provenance
from dabench.store import results

SWEEP = ["sweep", "--pairs", PAIR, "--methods", "source_only", "--seeds", "0,1", "--device", "cpu",
         *(arg for s in TINY for arg in ("--set", s))]


def sweep(*extra: str):
    out = CliRunner().invoke(cli, [*SWEEP, *extra])
    assert out.exit_code == 0, out.output
    return out


def test_rerun_changed_reruns_exactly_the_runs_whose_method_changed(sweep_home: Path, monkeypatch) -> None:
    registry_module.reset()
    first = sweep()
    assert first.stdout.startswith("sweep: 2 runs; 0 already done, 2 to run")
    done = {path.name: json.loads((path / "result.json").read_text()) for path in (sweep_home / "runs").iterdir()}
    old = {result["code"]["method"]["source_sha256"] for result in done.values()}
    assert len(old) == 1 and None not in old

    # seed 1's run made before dabench recorded code: unknown, not changed
    legacy_id = next(run_id for run_id, result in done.items() if result["seed"] == 1)
    legacy = {k: v for k, v in done[legacy_id].items() if k != "code"}
    results.finish_run(results.run_dir(legacy_id), legacy, [])
    changed_id = next(run_id for run_id in done if run_id != legacy_id)

    real = provenance._module_sha256
    monkeypatch.setattr(provenance, "_module_sha256",
                        lambda module, unit: "f" * 64 if module == "dabench_methods.source_only" else real(module, unit))
    kept = sweep()
    assert kept.stdout.startswith("sweep: 2 runs; 2 already done, 0 to run\n")
    assert kept.stderr.splitlines() == [
        f"dabench: warning: method 'source_only' changed since run {changed_id} was made (code sha256 "
        f"{next(iter(old))[:12]}… then, ffffffffffff… now); rerun with --rerun-changed"]

    dry = sweep("--rerun-changed", "--dry-run")
    assert "would rerun it (--rerun-changed)" in dry.stderr
    assert json.loads((results.run_dir(changed_id) / "result.json").read_text()) == done[changed_id]

    rerun = sweep("--rerun-changed")
    assert rerun.stdout.startswith("sweep: 2 runs; 2 already done, 1 to run (1 of the done ones again: their "
                                   "method's code changed)\n")
    assert rerun.stderr.splitlines()[:2] == [  # then the rerun's own progress lines
        f"method 'source_only' changed since run {changed_id} was made (code sha256 {next(iter(old))[:12]}… then, "
        "ffffffffffff… now); rerunning it (--rerun-changed)",
        "1 finished run(s) of 'source_only' were made before dabench recorded method code, so whether it changed "
        "is unknown; --rerun-changed leaves them"]
    now = json.loads((results.run_dir(changed_id) / "result.json").read_text())
    assert now["code"]["method"]["source_sha256"] == "f" * 64 and now["finished_at"] >= done[changed_id]["finished_at"]
    assert "code" not in json.loads((results.run_dir(legacy_id) / "result.json").read_text())
    assert not any((sweep_home / "runs.previous").iterdir())
    assert [r["code"]["method"]["source_sha256"] for r in results.load_results() if "code" in r] == ["f" * 64]

    again = sweep("--rerun-changed")
    assert again.stdout.startswith("sweep: 2 runs; 2 already done, 0 to run\n")
    registry_module.reset()
