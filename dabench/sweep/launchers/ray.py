"""The Ray launcher: each run is a Ray task asking for one CPU, and one GPU for CUDA runs, so one sweep
command spreads over every machine of a Ray cluster. A task whose worker or node dies is retried by Ray
(at most MAX_RETRIES times) on a node still there; with a shared DABENCH_HOME it resumes from the run's
last epoch checkpoint. Each attempt's node is kept for `dabench status` (dabench.sweep.launchers.attempts).
Needs the ``dabench[ray]`` extra."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from dabench.errors import DabenchError
from dabench.run import provenance
from dabench.store.paths import OWN_DATA_PREFIX
from dabench.sweep.launchers.attempts import AttemptLog, StartBoard, node_words
from dabench.sweep.plan import RunRequest
from dabench.sweep.worker import Outcome, died, execute_request

# plugin selection travels with each task and wins, so that every machine resolves a run to the same plan
FORWARDED_ENV = ("DABENCH_LOAD_PLUGINS", "DABENCH_STRICT_PLUGINS")
# where the datasets and the home are: the driver's (when it set them) is each task's default, but a
# machine that has its own (exported before `ray start`, or a job runtime_env) keeps it, since paths
# can differ from machine to machine; likewise each dataset's own folder, DABENCH_DATA_<ID> (--data-root ID=PATH)
PATH_ENV = ("DABENCH_DATA", "DABENCH_HOME")
# Ray retries a task whose worker process or node died (a lost node, the OOM killer, a crash in native code),
# never one that raised: a run's own failure is returned as an Outcome, not raised, and rerunning it would fail
# again. Three retries outlast a node or two lost in one sweep; a run that kills its worker every time fails
# after four attempts.
MAX_RETRIES = 3
CONNECT_SECONDS = 5.0  # a cluster address that does not answer in this long is not a cluster
WATCH_SECONDS = 1.0  # how often the driver takes the tasks' start news and looks for lost nodes
# a retry can start on another node before the lost attempt's process is gone and has let go of the run's lock:
# a task that finds its run busy waits this long for it before it reports it busy
BUSY_WAIT_SECONDS = 60.0
# how long the runs left may wait for a node that can run them (every such node was lost) before the sweep ends
NODE_WAIT_ENV = "DABENCH_RAY_NODE_WAIT"
DEFAULT_NODE_WAIT = 600.0


def task_options(device: str, cluster_gpus: float) -> tuple[dict[str, Any], str]:
    """(Ray resource options of each run's task, the device the run uses): one CPU always, and one GPU with
    ``--device cuda`` (or ``auto`` on a cluster that has GPUs), so that Ray runs one run per GPU of a node."""
    use_gpu = device == "cuda" or (device == "auto" and cluster_gpus >= 1)
    return {"num_cpus": 1, "num_gpus": 1 if use_gpu else 0}, "cuda" if use_gpu else "cpu"


def resource_request(options: dict[str, Any]) -> dict[str, float]:
    """The resources one task asks of a node, in Ray's names (``{"CPU": 1, "GPU": 1}``)."""
    wanted = {"CPU": options.get("num_cpus", 0), "GPU": options.get("num_gpus", 0), **options.get("resources", {})}
    return {name: float(amount) for name, amount in wanted.items() if amount}


def check_resources(request: dict[str, float], nodes: list[dict[str, Any]]) -> None:
    """A DabenchError unless some live node has every resource a task asks for (else Ray waits forever)."""
    if any(_fits(request, node) for node in nodes):
        return
    missing = [name for name, amount in request.items()
               if not any(node["Resources"].get(name, 0) >= amount for node in nodes)]
    what = f"no node has {', '.join(missing)}" if missing else "no one node has all of them"
    have = "; ".join(f"{node_words(node.get('NodeName', '?'), node['NodeID'])}: {_amounts(node['Resources'], request)}"
                     for node in sorted(nodes, key=lambda node: (node.get("NodeName", ""), node["NodeID"]))) or "none"
    advice = ("Run with --device cpu, or add a node with a GPU (`ray start --address HEAD:PORT --num-gpus 1`)"
              if "GPU" in missing else "Add a node that has them (`ray start --address HEAD:PORT --num-cpus N`)")
    raise DabenchError(f"no node of the Ray cluster has what each run asks for ({_amounts(request, request)}): "
                       f"{what}. Its nodes have: {have}. {advice}")


def run_ray(requests: list[RunRequest], device: str, workers: int | None,
            on_outcome: Callable[[Outcome], None], address: str | None = "auto") -> None:
    ray = _import_ray()
    node_wait = node_wait_seconds()
    _connect(ray, address, workers)
    options, task_device = task_options(device, ray.cluster_resources().get("GPU", 0))
    check_resources(resource_request(options), _alive(ray.nodes()))
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    runtime_env = {"env_vars": env} if env else None
    task = ray.remote(_task).options(**options, max_retries=MAX_RETRIES, retry_exceptions=False,
                                     runtime_env=runtime_env)
    path_defaults = {name: value for name, value in os.environ.items()
                     if value and (name in PATH_ENV or name.startswith(OWN_DATA_PREFIX))}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    board = ray.remote(StartBoard).options(num_cpus=0, scheduling_strategy=here, runtime_env=runtime_env).remote()
    watch = _Watch(ray, board, AttemptLog(), resource_request(options))
    watch.labels = {request.run_id: request.label for request in requests}
    refs = {}
    for request in requests:
        watch.log.submitted(request.run_id)
        refs[task.remote(request, task_device, path_defaults, board)] = request
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=WATCH_SECONDS)
            for ref in ready:
                request = refs.pop(ref)
                try:
                    outcome = ray.get(ref)
                    watch.log.returned(request.run_id)
                except ray.exceptions.RayError as exc:  # every attempt's worker or node was lost
                    why = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                    watch.log.gave_up(request.run_id, why)
                    tries = len(watch.log.runs.get(request.run_id, []))
                    outcome = died(request, f"the Ray task died ({tries} attempt(s); Ray retries a lost worker or "
                                            f"node {MAX_RETRIES} times): {why}")
                on_outcome(outcome)
            watch.poll(pending=len(refs))
            if watch.stranded_for() > node_wait:
                for ref in refs:
                    ray.cancel(ref, force=True)
                raise DabenchError(f"no node left in the Ray cluster has what a run asks for "
                                   f"({_amounts(watch.request, watch.request)}) for {node_wait:g} s ({NODE_WAIT_ENV}): "
                                   f"{len(refs)} run(s) not finished. Start the sweep again once such a node has "
                                   "joined: finished runs are kept, the others resume")
    finally:
        ray.kill(board)


class _Watch:
    """The driver's eye on the cluster while tasks run: where each attempt started (the board's news), which
    nodes died (``ray.nodes()``), and whether a live node can still run the runs left; each said once on stderr."""

    def __init__(self, ray: Any, board: Any, log: AttemptLog, request: dict[str, float]) -> None:
        self.ray, self.board, self.log, self.request = ray, board, log, request
        self.labels: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.dead: set[str] = set()
        self.stranded_since: float | None = None

    def poll(self, pending: int) -> None:
        nodes = self.ray.nodes()
        self.names.update({node["NodeID"]: node.get("NodeName", "?") for node in nodes})
        for run_id, node_id, pid in self.ray.get(self.board.take.remote()):
            before = self.log.started(run_id, self.names.get(node_id, "?"), node_id, pid)
            if before is not None:
                attempt = len(self.log.runs[run_id])
                _say(f"{self._run(run_id)} retried on node {self._node(node_id)} (attempt {attempt}); it was lost on "
                     f"node {node_words(before['node'], before['node_id'])}: {before['lost']}")
        for node in nodes:
            if node["Alive"] or node["NodeID"] in self.dead:
                continue
            self.dead.add(node["NodeID"])
            why = "the node left the cluster" + (f": {node['DeathReasonMessage']}" if node.get("DeathReasonMessage") else "")
            for run_id in self.log.node_lost(node["NodeID"], why):
                _say(f"{self._run(run_id)} lost on node {self._node(node['NodeID'])} ({why}); Ray retries it on a "
                     f"node still there (at most {MAX_RETRIES} retries)")
        stranded = pending > 0 and not any(_fits(self.request, node) for node in _alive(nodes))
        if stranded and self.stranded_since is None:
            _say(f"no node left in the cluster has what a run asks for ({_amounts(self.request, self.request)}): "
                 f"{pending} run(s) wait for one to join (at most {NODE_WAIT_ENV} seconds)")
        self.stranded_since = (self.stranded_since or time.monotonic()) if stranded else None

    def stranded_for(self) -> float:
        """Seconds since no live node could run the runs left (0 while one can)."""
        return time.monotonic() - self.stranded_since if self.stranded_since is not None else 0.0

    def _run(self, run_id: str) -> str:
        return f"{self.labels.get(run_id, '?')} (run {run_id})"

    def _node(self, node_id: str) -> str:
        return node_words(self.names.get(node_id, "?"), node_id)


def node_wait_seconds() -> float:
    """``DABENCH_RAY_NODE_WAIT`` (default 600): how long runs left without a node that can run them may wait."""
    text = os.environ.get(NODE_WAIT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_NODE_WAIT
    except ValueError:
        value = -1.0
    if value < 0:
        raise DabenchError(f"{NODE_WAIT_ENV}={text!r}: give the seconds a sweep may wait for a lost node's "
                           f"replacement, e.g. {DEFAULT_NODE_WAIT:g}")
    return value


def _task(request: RunRequest, device: str, path_defaults: dict[str, str] | None = None, board: Any = None) -> Outcome:
    import ray
    import torch

    node_id = ray.get_runtime_context().get_node_id()
    if board is not None:  # no ray.get: a task blocked in one lends its CPU, and Ray would start another run here
        board.started.remote(request.run_id, node_id, os.getpid())
    names = {node["NodeID"]: node.get("NodeName", "") for node in ray.nodes()}
    provenance.set_node(ray_node_id=node_id, ray_node_name=names.get(node_id, ""))
    apply_path_defaults(path_defaults or {})
    # Ray gives a task one CPU; torch would otherwise start a thread per core of the node
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1)))
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        outcome = execute_request(request, device)
        if not outcome.busy or time.monotonic() >= deadline:
            return outcome
        time.sleep(1.0)


def apply_path_defaults(defaults: dict[str, str]) -> None:
    """Give this worker the driver's DABENCH_DATA / DABENCH_DATA_<ID> / DABENCH_HOME where it has none of its own."""
    for name, value in defaults.items():
        if not os.environ.get(name):
            os.environ[name] = value


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DabenchError("--launcher ray needs Ray: pip install 'dabench[ray]' (on every machine of the "
                           "cluster), or use --launcher local") from None
    return ray


def _connect(ray: Any, address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``; 'auto' finds one started with `ray start`, else starts a local one."""
    if ray.is_initialized():
        return
    if address and address != "auto":
        check_reachable(address)
        ray.init(address=address)
        return
    try:
        ray.init(address="auto")
    except ConnectionError:
        ray.init(num_cpus=workers or None)


def check_reachable(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """A DabenchError within ``seconds`` unless something listens at ``address`` (HOST:PORT, or ray://HOST:PORT):
    Ray itself retries an address where nothing listens for minutes."""
    bare = address.split("://", 1)[-1]
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        raise DabenchError(f"--ray-address {address}: give the cluster's HOST:PORT (the address `ray start --head` "
                           "printed, e.g. 10.0.0.1:6379), or 'auto' on a machine of the cluster")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise DabenchError(f"no Ray cluster answers at --ray-address {address} ({exc.strerror or exc}): start its "
                           f"head with `ray start --head --port {port}` there, or give the address `ray start --head` "
                           "printed") from None


def _alive(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [node for node in nodes if node.get("Alive")]


def _fits(request: dict[str, float], node: dict[str, Any]) -> bool:
    return all(node["Resources"].get(name, 0) >= amount for name, amount in request.items())


def _amounts(resources: dict[str, float], request: dict[str, float]) -> str:
    """``CPU 1, GPU 1`` for the resources a task asks for, as ``resources`` holds them (``no GPU`` when absent)."""
    return ", ".join(f"{name} {resources[name]:g}" if resources.get(name) else f"no {name}" for name in request)


def _say(line: str) -> None:
    print(f"dabench: {line}", file=sys.stderr, flush=True)
