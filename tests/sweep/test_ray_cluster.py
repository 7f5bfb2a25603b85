"""`dabench sweep --launcher ray` on a real multi-node Ray cluster on this machine (ray.cluster_utils.Cluster:
a head without CPUs, where the driver's bookkeeping lives, and worker nodes of one CPU and a custom resource
each) that loses the node holding a running run between two epochs. With a shared DABENCH_HOME the run is
retried on the surviving node, resumes after its last checkpointed epoch and ends bit for bit as an
uninterrupted run; with one home per node the results still reach the driver, and the lost run restarts
from epoch 0. The driver is a `dabench sweep` process, as a user would start it; `dabench status` is read
while the run is held (test_plugin's ``held_shot``: SHOT, held before an epoch until the test lets it go)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PAIR, TINY, requests_for

from dabench.cli import cli, main
from dabench.store import results
from dabench.sweep.launchers.attempts import read_attempts
from dabench.sweep.worker import execute_request

ray = pytest.importorskip("ray", reason="the Ray launcher needs the optional extra: pip install 'dabench[ray]'")
from ray.cluster_utils import Cluster  # noqa: E402 -- only once Ray is known to be there

EPOCHS = 4
SETS = (*TINY, f"epochs={EPOCHS}")
HOLD_ENV = "DABENCH_TEST_HOLD_DIR"  # read by held_shot (tests/sweep/plugin_src/dabench_sweep_test.py)
DEADLINE = 240.0  # seconds for any one thing the test waits for; a loaded 2-core machine is slow, not this slow
SAME = ("accuracy", "macro_f1", "per_class", "confusion", "history", "source_accuracy")
_uninterrupted: dict[str, dict] = {}


@pytest.fixture(scope="module")
def head():
    """The head: no CPU (no run lands on it) and a quick health check, so a removed node is seen dead in seconds."""
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 0, "node_name": "head", "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 1000, "health_check_timeout_ms": 1000,
                           "health_check_failure_threshold": 5}})
    yield cluster
    cluster.shutdown()


@pytest.fixture
def add_workers(head: Cluster, monkeypatch: pytest.MonkeyPatch):
    """Start worker nodes named as given, each with its own DABENCH_HOME (its raylet and workers inherit the
    environment they start in); the driver's home is put back after. Removed again after the test."""
    def start(homes: dict[str, Path]) -> dict[str, object]:
        driver_home, nodes = os.environ["DABENCH_HOME"], {}
        for name, home in homes.items():
            monkeypatch.setenv("DABENCH_HOME", str(home))
            nodes[name] = head.add_node(num_cpus=1, node_name=name, resources={name: 1})
        monkeypatch.setenv("DABENCH_HOME", driver_home)
        head.wait_for_nodes()
        return nodes

    yield start
    for node in list(head.worker_nodes):
        head.remove_node(node, allow_graceful=False)
    head.wait_for_nodes()  # until the cluster sees them dead: the next test must not count on them


@pytest.fixture
def hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hold"
    folder.mkdir()
    monkeypatch.setenv(HOLD_ENV, str(folder))
    return folder


def _start_sweep(head: Cluster, home: Path, methods: str, seeds: str, logs: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "dabench", "sweep", "--pairs", PAIR, "--methods", methods, "--seeds", seeds,
            *[word for value in SETS for word in ("--set", value)],
            "--launcher", "ray", "--ray-address", head.address, "--device", "cpu"]
    env = {**os.environ, "DABENCH_HOME": str(home)}
    with open(logs / "driver.out", "w") as out, open(logs / "driver.err", "w") as err:
        return subprocess.Popen(args, env=env, stdout=out, stderr=err, cwd=logs)


def _driver_output(logs: Path) -> str:
    return (logs / "driver.out").read_text() + "\n--- stderr ---\n" + (logs / "driver.err").read_text()[-6000:]


def _wait_for(what: str, check, driver: subprocess.Popen, logs: Path):
    """Poll ``check`` until it returns something true; fail with the driver's output if the sweep ends first."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if driver.poll() is not None:
            pytest.fail(f"the sweep ended (exit {driver.returncode}) before {what}:\n{_driver_output(logs)}")
        time.sleep(0.1)
    driver.kill()
    pytest.fail(f"no {what} within {DEADLINE:.0f} s:\n{_driver_output(logs)}")


def _finish(driver: subprocess.Popen, logs: Path) -> str:
    try:
        driver.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        driver.kill()
        pytest.fail(f"the sweep did not end within {DEADLINE:.0f} s:\n{_driver_output(logs)}")
    assert driver.returncode == 0, _driver_output(logs)
    return _driver_output(logs)


def _status(home: Path) -> str:
    result = CliRunner().invoke(cli, ["status"], env={"DABENCH_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.output


def _status_saying(home: Path, *words: str) -> str | None:
    text = _status(home)
    return text if all(word in text for word in words) else None


def _held(hold: Path, seed: int, epoch: int) -> dict | None:
    path = hold / f"held-seed{seed}-epoch{epoch}"
    return json.loads(path.read_text()) if path.exists() else None


def _uninterrupted_result(request, registry, tmp_path: Path, shared_home: Path, monkeypatch) -> dict:
    """The same run made in one go, in this process, in a home of its own (the source model's cache shared)."""
    if request.run_id not in _uninterrupted:
        home = tmp_path / "uninterrupted"
        home.mkdir()
        (home / "cache").symlink_to(shared_home / "cache")
        with monkeypatch.context() as patch:
            patch.setenv("DABENCH_HOME", str(home))
            patch.delenv(HOLD_ENV, raising=False)
            outcome = execute_request(request, "cpu", registry)
        assert outcome.ok, outcome.traceback
        _uninterrupted[request.run_id] = outcome.result
    return _uninterrupted[request.run_id]


def _assert_same_run(result: dict, reference: dict) -> None:
    for key in SAME:
        assert result[key] == reference[key], key
    for key in ("weights_sha256", "epoch_loss"):
        assert result["method_records"][key] == reference["method_records"][key], key
    assert reference["method_records"]["first_epoch_in_this_process"] == 0


def test_a_cluster_without_what_each_run_asks_for_is_one_message(head, add_workers, sweep_home: Path, test_plugin,
                                                                 tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["sweep", "--pairs", PAIR, "--methods", "tent", *[w for v in SETS for w in ("--set", v)],
            "--launcher", "ray", "--ray-address", head.address]
    head_words = f"head ({head.head_node.node_id[:8]})"
    try:
        assert _user_error([*args, "--device", "cpu"], capsys) == (
            f"dabench: error: no node of the Ray cluster has what each run asks for (CPU 1): no node has CPU. Its "
            f"nodes have: {head_words}: no CPU. Add a node that has them (`ray start --address HEAD:PORT --num-cpus N`)")
        node = add_workers({"worker-e": tmp_path})["worker-e"]
        assert _user_error([*args, "--device", "cuda"], capsys) == (
            f"dabench: error: no node of the Ray cluster has what each run asks for (CPU 1, GPU 1): no node has GPU. "
            f"Its nodes have: {head_words}: no CPU, no GPU; worker-e ({node.node_id[:8]}): CPU 1, no GPU. Run with "
            "--device cpu, or add a node with a GPU (`ray start --address HEAD:PORT --num-gpus 1`)")
    finally:
        ray.shutdown()
    assert not any((sweep_home / "runs").glob("*/result.json"))


def _user_error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    """The one `dabench: error:` line a command ends with (exit 2, no traceback)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("dabench: error:")][-1]


def test_a_run_lost_with_its_node_resumes_on_a_surviving_node(head, add_workers, sweep_home: Path, shared_home: Path,
                                                              test_plugin, hold: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # held_shot seed 0 stops before epoch 2 (its node is removed there) and, retried, before epoch 3 (status is read)
    for epoch in (2, 3):
        (hold / f"hold-seed0-epoch{epoch}").touch()
    nodes = add_workers({"worker-a": sweep_home, "worker-b": sweep_home})
    requests = requests_for(test_plugin, ["held_shot", "tent"], [0, 1], sets=SETS)
    victim = next(r for r in requests if r.method == "held_shot" and r.seed == 0)
    driver = _start_sweep(head, sweep_home, "held_shot,tent", "0,1", tmp_path)

    first = _wait_for("held_shot seed 0 held before epoch 2", lambda: _held(hold, 0, 2), driver, tmp_path)
    lost = first["ray_node_name"]
    survivor = next(name for name in nodes if name != lost)
    timeline = [("held before epoch 2 on " + lost, _status(sweep_home))]
    head.remove_node(nodes[lost], allow_graceful=False)
    second = _wait_for("the retry held before epoch 3", lambda: _held(hold, 0, 3), driver, tmp_path)
    told = _wait_for("`dabench status` telling the loss", lambda: _status_saying(
        sweep_home, f"lost on node {lost}", f"retried on node {survivor}"), driver, tmp_path)
    timeline.append(("retry held before epoch 3 on " + survivor, told))
    (hold / "release-seed0-epoch3").touch()
    output = _finish(driver, tmp_path)
    after = _status(sweep_home)
    timeline.append(("after the sweep", after))
    print("\n\n".join(f"== {when}\n{text}" for when, text in timeline))

    assert second["ray_node_name"] == survivor and second["pid"] != first["pid"]
    # every run done exactly once: one 'done' line each, one row each in the index, no failure
    for request in requests:
        assert output.count(f" done {request.label}:") == 1, output
        assert results.read_done(results.run_dir(request.run_id)) is not None
    rows = sqlite3.connect(sweep_home / "results.sqlite").execute("SELECT run_id FROM runs").fetchall()
    assert sorted(row[0] for row in rows) == sorted(r.run_id for r in requests)
    assert "sweep finished:\n4 runs: 4 done, 0 running, 0 failed, 0 interrupted, 0 pending" in output
    # where each run ran, from result.json; the lost run finished on the survivor, resumed after epoch 1
    where = {r.label: results.read_done(results.run_dir(r.run_id))["node"]["ray_node_name"] for r in requests}
    print("where each run ran:", where)
    assert set(where.values()) <= set(nodes) and where[victim.label] == survivor
    result = results.read_done(results.run_dir(victim.run_id))
    assert result["method_records"]["first_epoch_in_this_process"] == 2
    assert "resumed from the checkpoint of epoch 1" in (results.run_dir(victim.run_id) / "log.txt").read_text()
    assert [(a["node"], bool(a["lost"])) for a in read_attempts(victim.run_id)] == [(lost, True), (survivor, False)]
    # the lost node held the victim alone (one CPU, one run): no other run was lost with it
    assert [r.label for r in requests if any(a["lost"] for a in read_attempts(r.run_id))] == [victim.label]
    assert f"retried on node {survivor} (" in output and "(attempt 2)" in output
    assert "lost with their node (Ray):" in after
    assert f"  held_shot {PAIR} seed 0 (run {victim.run_id}), done: lost on node {lost} (" in after
    assert f"retried on node {survivor} (" in after
    _assert_same_run(result, _uninterrupted_result(victim, test_plugin, tmp_path, shared_home, monkeypatch))


def test_without_a_shared_home_results_reach_the_driver_and_a_lost_run_restarts(
        head, add_workers, sweep_home: Path, shared_home: Path, test_plugin, hold: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    homes = {}
    for name in ("worker-c", "worker-d"):  # each node its own home (the prepared data and source model shared)
        homes[name] = tmp_path / name
        homes[name].mkdir()
        (homes[name] / "cache").symlink_to(shared_home / "cache")
    (hold / "hold-seed0-epoch2").touch()
    nodes = add_workers(homes)
    victim = requests_for(test_plugin, ["held_shot"], [0], sets=SETS)[0]
    driver = _start_sweep(head, sweep_home, "held_shot", "0", tmp_path)

    first = _wait_for("held_shot seed 0 held before epoch 2", lambda: _held(hold, 0, 2), driver, tmp_path)
    lost = first["ray_node_name"]
    survivor = next(name for name in nodes if name != lost)
    head.remove_node(nodes[lost], allow_graceful=False)
    output = _finish(driver, tmp_path)

    result = results.read_done(results.run_dir(victim.run_id))  # written here by the driver, from the task's return
    assert result is not None and result == results.read_done(homes[survivor] / "runs" / victim.run_id), output
    assert result["node"]["ray_node_name"] == survivor
    assert result["method_records"]["first_epoch_in_this_process"] == 0  # the checkpoint stayed on the lost node
    assert (homes[lost] / "runs" / victim.run_id / "checkpoint.pt").exists()
    assert "resumed from" not in (results.run_dir(victim.run_id) / "log.txt").read_text()
    status = _status(sweep_home)
    assert f"  held_shot {PAIR} seed 0 (run {victim.run_id}), done: lost on node {lost} (" in status
    _assert_same_run(result, _uninterrupted_result(victim, test_plugin, tmp_path, shared_home, monkeypatch))


@pytest.mark.slow  # ~35 s under load, mostly starting the driver and a worker: the watch itself is tested in CI
# (tests/sweep/test_ray_resources.py); this is the whole path, from a node loss to the sweep's end
def test_a_sweep_whose_last_capable_node_dies_ends_with_one_message(head, add_workers, sweep_home: Path, test_plugin,
                                                                    hold: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (hold / "hold-seed0-epoch2").touch()
    nodes = add_workers({"worker-f": sweep_home})
    monkeypatch.setenv("DABENCH_RAY_NODE_WAIT", "2")
    driver = _start_sweep(head, sweep_home, "held_shot", "0", tmp_path)
    _wait_for("held_shot seed 0 held before epoch 2", lambda: _held(hold, 0, 2), driver, tmp_path)
    head.remove_node(nodes["worker-f"], allow_graceful=False)
    try:
        driver.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        driver.kill()
        pytest.fail(f"the sweep waited on past its node wait:\n{_driver_output(tmp_path)}")
    output = _driver_output(tmp_path)
    assert driver.returncode == 2, output
    assert ("dabench: error: no node left in the Ray cluster has what a run asks for (CPU 1) for 2 s "
            "(DABENCH_RAY_NODE_WAIT): 1 run(s) not finished. Start the sweep again once such a node has joined: "
            "finished runs are kept, the others resume") in output
    assert "1 runs: 0 done, 0 running, 0 failed, 1 interrupted, 0 pending" in _status(sweep_home)
