"""The Ray launcher: each run is a Ray task asking for one GPU (CUDA runs) or one CPU, so one sweep
command spreads over every machine of a Ray cluster. Needs the ``dabench[ray]`` extra."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dabench.errors import DabenchError
from dabench.store.paths import OWN_DATA_PREFIX
from dabench.sweep.plan import RunRequest
from dabench.sweep.worker import Outcome, died, execute_request

# plugin selection travels with each task and wins, so that every machine resolves a run to the same plan
FORWARDED_ENV = ("DABENCH_LOAD_PLUGINS", "DABENCH_STRICT_PLUGINS")
# where the datasets and the home are: the driver's (when it set them) is each task's default, but a
# machine that has its own (exported before `ray start`, or a job runtime_env) keeps it, since paths
# can differ from machine to machine; likewise each dataset's own folder, DABENCH_DATA_<ID> (--data-root ID=PATH)
PATH_ENV = ("DABENCH_DATA", "DABENCH_HOME")


def run_ray(requests: list[RunRequest], device: str, workers: int | None,
            on_outcome: Callable[[Outcome], None], address: str | None = "auto") -> None:
    ray = _import_ray()
    _connect(ray, address, workers)
    use_gpu = device == "cuda" or (device == "auto" and ray.cluster_resources().get("GPU", 0) >= 1)
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    task = ray.remote(_task).options(num_cpus=1, num_gpus=1 if use_gpu else 0, max_retries=0,
                                     runtime_env={"env_vars": env} if env else None)
    path_defaults = {name: value for name, value in os.environ.items()
                     if value and (name in PATH_ENV or name.startswith(OWN_DATA_PREFIX))}
    refs = {task.remote(request, "cuda" if use_gpu else "cpu", path_defaults): request for request in requests}
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        for ref in ready:
            request = refs.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died or the node was lost
                outcome = died(request, f"the Ray task died: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            on_outcome(outcome)


def _task(request: RunRequest, device: str, path_defaults: dict[str, str] | None = None) -> Outcome:
    import torch

    apply_path_defaults(path_defaults or {})
    # Ray gives a task one CPU; torch would otherwise start a thread per core of the node
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1)))
    return execute_request(request, device)


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
        ray.init(address=address)
        return
    try:
        ray.init(address="auto")
    except ConnectionError:
        ray.init(num_cpus=workers or None)
