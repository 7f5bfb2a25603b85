"""A run records the code that made it (result.json's ``code``, never its run id); `dabench run` says
when it reuses a finished run, warns when the method's code changed since, and --rerun-changed reruns it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fake_dists import fake_distribution

from dabench.cli import cli
from dabench.host import registry as registry_module
from dabench.run import provenance
from dabench.store import results

TINY = ("--set", "data.source.n_train=120", "--set", "data.source.n_test=40", "--set", "data.target.n_train=120",
        "--set", "data.target.n_test=40", "--set", "source.epochs=1")
PROBE = '''
import dabench
from dabench.methods import Method


class Probe(Method):
    """A method that returns the source model as it is (its source file is what the test edits)."""

    id = "probe"

    def adapt(self, model, target, ctx):
        ctx.end_epoch(model, 0)
        return model


@dabench.hookimpl
def register_methods(register):
    register(Probe)
'''


@pytest.fixture
def probe_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `probe` plugin installed as a third-party distribution (dabench-probe 0.3); returns its module file."""
    root = fake_distribution(tmp_path / "site", "dabench-probe", "0.3", {"probe": "dabench_probe"},
                             {"dabench_probe": PROBE})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DABENCH_LOAD_PLUGINS", "probe")
    registry_module.reset()
    provenance.clear_cache()
    yield root / "dabench_probe.py"
    registry_module.reset()
    provenance.clear_cache()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*extra: str) -> tuple[str, str]:
    out = CliRunner().invoke(cli, ["run", "-m", "probe", "-p", "synth-lab:synth-wild", "--device", "cpu", *TINY,
                                   *extra])
    assert out.exit_code == 0, out.output
    return out.stdout, out.stderr


def test_the_code_record_names_plugin_distribution_version_and_source(fresh_home: Path, probe_plugin: Path) -> None:
    stdout, stderr = run()
    assert "reused" not in stdout and "changed" not in stderr
    run_id = re.search(r"run ([0-9a-f]{16}) in", stdout).group(1)
    folder = results.run_dir(run_id)
    result = json.loads((folder / "result.json").read_text())
    assert result["code"]["method"] == {"id": "probe", "plugin": "probe", "distribution": "dabench-probe",
                                        "version": "0.3", "source_sha256": sha256(probe_plugin)}
    assert result["code"]["backbone"]["plugin"] == "small_cnn"
    assert {name: entry["plugin"] for name, entry in result["code"]["datasets"].items()} == \
        {"synth-lab": "synthetic", "synth-wild": "synthetic"}
    assert result["code"]["backbone"]["distribution"] == "dabench"
    # not part of the run's identity: config.yaml (whose hash is the run id) holds no code record
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert "code" not in config and results.run_id_of(config) == run_id

    # reused, and said so before the usual line
    stdout, stderr = run()
    lines = stdout.splitlines()
    when = results.finished_at(folder, result)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", when)
    assert lines[0] == f"reused finished run {run_id} (from {when}; --force reruns)"
    assert lines[1].startswith("probe on synth-lab:synth-wild (seed 0, inductive): accuracy")
    assert stderr == ""

    # the method's code changes: the run is still reused, with one warning naming both hashes
    before = sha256(probe_plugin)
    probe_plugin.write_text(PROBE + "\n# a change\n")
    provenance.clear_cache()
    after = sha256(probe_plugin)
    stdout, stderr = run()
    assert stdout.splitlines()[0] == f"reused finished run {run_id} (from {when}; --force reruns)"
    assert stderr.splitlines() == [
        f"dabench: warning: method 'probe' changed since run {run_id} was made (code sha256 {before[:12]}… then, "
        f"{after[:12]}… now); rerun with --force, or --rerun-changed"]
    assert json.loads((folder / "result.json").read_text()) == result

    # --rerun-changed reruns exactly it (through --force's path: no copy left aside once done)
    stdout, stderr = run("--rerun-changed")
    assert "reused" not in stdout
    assert stderr.splitlines()[0].endswith(f"{after[:12]}… now); rerunning it (--rerun-changed)")
    rerun = json.loads((folder / "result.json").read_text())
    assert rerun["code"]["method"]["source_sha256"] == after and rerun["run_id"] == run_id
    assert not any((fresh_home / "runs.previous").iterdir())
    stdout, stderr = run("--rerun-changed")
    assert stdout.startswith(f"reused finished run {run_id}") and stderr == ""

    # a run made before runs recorded code: unknown, not changed; said only with --rerun-changed
    legacy = {key: value for key, value in rerun.items() if key not in ("code", "finished_at", "settings_sha256")}
    results.finish_run(folder, legacy, [])
    stdout, stderr = run()
    assert stdout.startswith(f"reused finished run {run_id} (from ") and stderr == ""
    stdout, stderr = run("--rerun-changed")
    assert stdout.startswith(f"reused finished run {run_id}")
    assert stderr.splitlines() == [
        f"run {run_id} was made before dabench recorded method code, so whether 'probe' changed is unknown; "
        "--rerun-changed leaves it (--force reruns it)"]
    assert "code" not in json.loads((folder / "result.json").read_text())


def test_a_method_package_is_hashed_whole(registry) -> None:
    import dabench_methods.cluster_pl as package

    root = Path(package.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    record = provenance.unit_code(registry, "methods", "cluster_pl")
    assert record["source_sha256"] == digest.hexdigest()
    assert (record["plugin"], record["distribution"]) == ("cluster_pl", "dabench")
    import dabench_methods.shot as shot

    assert provenance.unit_code(registry, "methods", "shot")["source_sha256"] == sha256(Path(shot.__file__))


def test_change_message_names_several_runs() -> None:
    runs = [{"run_id": f"run{i}", "code": {"method": {"source_sha256": ("a" if i < 3 else "b") * 64}}}
            for i in range(5)]
    assert provenance.change_message("shot", runs, {"source_sha256": "c" * 64}) == (
        f"method 'shot' changed since runs run0, run1, run2 (+2 more) were made (code sha256 {'a' * 12}…, "
        f"{'b' * 12}… then, {'c' * 12}… now)")
