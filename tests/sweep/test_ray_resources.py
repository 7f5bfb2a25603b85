"""What the Ray launcher asks of a cluster and what it says when that goes wrong, without a cluster: the
resources of each run's task (one GPU with --device cuda: the request is tested here, no GPU needed), the
check that some node has them, an address where nothing listens, Ray missing, and the story of a run
lost with its node as `dabench status` tells it."""

from __future__ import annotations

import socket
import sys
from types import SimpleNamespace

import pytest

from dabench.errors import DabenchError
from dabench.sweep.launchers import ray as ray_launcher
from dabench.sweep.launchers.attempts import AttemptLog, read_attempts, story

NODE_A = "a" * 56
NODE_B = "b" * 56


def _node(name: str, node_id: str, alive: bool = True, **resources: float) -> dict:
    return {"NodeID": node_id, "NodeName": name, "Alive": alive, "Resources": resources}


@pytest.mark.parametrize(("device", "cluster_gpus", "gpus", "run_device"), [
    ("cuda", 0, 1, "cuda"),  # asked for: one GPU per task even where the cluster shows none yet
    ("auto", 8, 1, "cuda"),
    ("auto", 0, 0, "cpu"),
    ("cpu", 8, 0, "cpu"),
])
def test_each_task_asks_one_cpu_and_one_gpu_for_cuda(device: str, cluster_gpus: float, gpus: int, run_device: str) -> None:
    options, task_device = ray_launcher.task_options(device, cluster_gpus)
    assert options == {"num_cpus": 1, "num_gpus": gpus} and task_device == run_device
    assert ray_launcher.resource_request(options) == ({"CPU": 1.0, "GPU": 1.0} if gpus else {"CPU": 1.0})


def test_some_node_must_have_every_resource_a_task_asks_for() -> None:
    gpu_run = {"CPU": 1.0, "GPU": 1.0}
    ray_launcher.check_resources(gpu_run, [_node("head", NODE_A), _node("box", NODE_B, CPU=16, GPU=8)])
    with pytest.raises(DabenchError) as raised:  # a GPU on one node, CPUs on another: no node can run it
        ray_launcher.check_resources(gpu_run, [_node("head", NODE_A, GPU=1), _node("box", NODE_B, CPU=16)])
    assert str(raised.value) == (
        "no node of the Ray cluster has what each run asks for (CPU 1, GPU 1): no one node has all of them. Its "
        "nodes have: box (bbbbbbbb): CPU 16, no GPU; head (aaaaaaaa): no CPU, GPU 1. Add a node that has them "
        "(`ray start --address HEAD:PORT --num-cpus N`)")


def test_an_address_where_nothing_listens_is_one_message() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DabenchError) as raised:
        ray_launcher.check_reachable(f"127.0.0.1:{port}")
    assert str(raised.value) == (
        f"no Ray cluster answers at --ray-address 127.0.0.1:{port} (Connection refused): start its head with "
        f"`ray start --head --port {port}` there, or give the address `ray start --head` printed")
    with pytest.raises(DabenchError, match=r"^--ray-address nowhere: give the cluster's HOST:PORT"):
        ray_launcher.check_reachable("nowhere")


def test_the_sweep_command_says_it_without_waiting(fresh_home, capsys: pytest.CaptureFixture) -> None:
    """Through `dabench sweep`: one error line and exit 2 (Ray itself would retry the address for minutes)."""
    pytest.importorskip("ray")
    from dabench.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--pairs", "synth-lab:synth-wild", "--methods", "tent", "--launcher", "ray",
              "--ray-address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.endswith(f"dabench: error: no Ray cluster answers at --ray-address 127.0.0.1:{port} (Connection "
                        f"refused): start its head with `ray start --head --port {port}` there, or give the address "
                        "`ray start --head` printed\n")


def test_without_ray_the_message_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when it is not installed
    with pytest.raises(DabenchError) as raised:
        ray_launcher.run_ray([], "cpu", None, print)
    assert str(raised.value) == ("--launcher ray needs Ray: pip install 'dabench[ray]' (on every machine of the "
                                 "cluster), or use --launcher local")


def test_the_node_wait_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ray_launcher.NODE_WAIT_ENV, "soon")
    with pytest.raises(DabenchError, match=r"^DABENCH_RAY_NODE_WAIT='soon': give the seconds"):
        ray_launcher.node_wait_seconds()
    monkeypatch.setenv(ray_launcher.NODE_WAIT_ENV, "30")
    assert ray_launcher.node_wait_seconds() == 30.0


def test_the_story_of_a_run_lost_with_its_node(fresh_home) -> None:
    log = AttemptLog()
    log.submitted("r1")
    assert log.started("r1", "worker-a", NODE_A, 11) is None
    assert log.node_lost(NODE_B, "the node left the cluster") == []
    assert log.node_lost(NODE_A, "the node left the cluster") == ["r1"]
    before = log.started("r1", "worker-b", NODE_B, 22)
    assert before is not None and before["node"] == "worker-a"
    attempts = read_attempts("r1")  # as the driver wrote them for `dabench status`
    assert [(a["node"], a["pid"], a["lost"]) for a in attempts] == [
        ("worker-a", 11, "the node left the cluster"), ("worker-b", 22, "")]
    lost_at, started = attempts[0]["lost_at"], attempts[1]["started"]
    assert story(attempts) == (f"lost on node worker-a (aaaaaaaa) at {lost_at} (the node left the cluster), "
                               f"retried on node worker-b (bbbbbbbb) at {started}")
    log.started("r1", "worker-a", NODE_A, 33)  # a third start: Ray retried it again, so the second was lost
    log.gave_up("r1", "NodeDiedError: ...")
    assert story(read_attempts("r1")).endswith(
        f"retried on node worker-b (bbbbbbbb) at {started}, lost on node worker-b (bbbbbbbb) (its worker process or "
        f"node died), retried on node worker-a (aaaaaaaa) at {read_attempts('r1')[2]['started']}, lost on node "
        "worker-a (aaaaaaaa) (NodeDiedError: ...), Ray gave up on it")
    assert story([{"node": "worker-a", "node_id": NODE_A, "started": "t", "lost": ""}]) == ""
    log.submitted("r2")  # a run that returned before its node died was not lost with it
    log.started("r2", "worker-b", NODE_B, 44)
    log.returned("r2")
    assert log.node_lost(NODE_B, "the node left the cluster") == [] and story(read_attempts("r2")) == ""


class _Cluster:
    """What the driver's watch reads of Ray: ``nodes()``, and the board's news through ``get``."""

    def __init__(self) -> None:
        self.now: list[dict] = []
        self.news: list[tuple[str, str, int]] = []
        self.board = SimpleNamespace(take=SimpleNamespace(remote=self._take))

    def nodes(self) -> list[dict]:
        return self.now

    def get(self, value):
        return value

    def _take(self) -> list[tuple[str, str, int]]:
        news, self.news = self.news, []
        return news


def test_the_driver_watch_tells_a_lost_node_a_stranded_run_and_its_retry(fresh_home, capsys) -> None:
    cluster = _Cluster()
    watch = ray_launcher._Watch(cluster, cluster.board, AttemptLog(), {"CPU": 1.0})
    watch.labels = {"r1": "shot a:b seed 0"}
    watch.log.submitted("r1")
    cluster.now = [_node("head", NODE_B), _node("worker-a", NODE_A, CPU=1)]
    cluster.news = [("r1", NODE_A, 11)]
    watch.poll(pending=1)
    assert watch.stranded_for() == 0.0 and capsys.readouterr().err == ""
    dead = {**_node("worker-a", NODE_A, alive=False, CPU=1), "DeathReasonMessage": "health check failed"}
    cluster.now = [_node("head", NODE_B), dead]
    watch.poll(pending=1)
    assert capsys.readouterr().err == (
        "dabench: shot a:b seed 0 (run r1) lost on node worker-a (aaaaaaaa) (the node left the cluster: health check "
        "failed); Ray retries it on a node still there (at most 3 retries)\n"
        "dabench: no node left in the cluster has what a run asks for (CPU 1): 1 run(s) wait for one to join (at most "
        "DABENCH_RAY_NODE_WAIT seconds)\n")
    assert watch.stranded_for() > 0.0  # run_ray ends the sweep once this passes DABENCH_RAY_NODE_WAIT
    cluster.now = [_node("head", NODE_B), dead, _node("worker-c", "c" * 56, CPU=2)]
    cluster.news = [("r1", "c" * 56, 22)]
    watch.poll(pending=1)
    assert watch.stranded_for() == 0.0
    assert capsys.readouterr().err == (
        "dabench: shot a:b seed 0 (run r1) retried on node worker-c (cccccccc) (attempt 2); it was lost on node "
        "worker-a (aaaaaaaa): the node left the cluster: health check failed\n")
