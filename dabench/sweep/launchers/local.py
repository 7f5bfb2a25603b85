"""The local launcher: runs in this process (one worker), or in spawned worker processes, one per GPU
when several are visible (each pinned by CUDA_VISIBLE_DEVICES) or N CPU workers sharing the cores."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dabench.errors import DabenchError
from dabench.sweep.plan import RunRequest
from dabench.sweep.worker import Outcome, died, execute_request

PR_SET_PDEATHSIG = 1
WORKER_START_SECONDS = 600.0  # spawning a worker imports torch: slow on a loaded machine, not this slow
_started: Any = None  # in a worker: the barrier every worker of its pool meets before the first run


def visible_gpus(device: str) -> list[str]:
    """The GPU ids to spread workers over (none for CPU runs or a single GPU)."""
    if device == "cpu":
        return []
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [item.strip() for item in visible.split(",") if item.strip()] if visible else [str(i) for i in range(count)]
    return ids[:count] if count > 1 else []


def run_local(requests: list[RunRequest], device: str, workers: int | None,
              on_outcome: Callable[[Outcome], None]) -> None:
    gpus = visible_gpus(device)
    workers = workers or max(1, len(gpus))
    if workers == 1 and not gpus:
        from dabench.host.registry import get_registry

        registry = get_registry()
        for request in requests:
            on_outcome(execute_request(request, device, registry))
        return
    _run_pool(deque(requests), "cuda" if gpus else device, workers, gpus, on_outcome)


def _run_pool(pending: deque[RunRequest], device: str, workers: int, gpus: list[str],
              on_outcome: Callable[[Outcome], None]) -> None:
    """Run ``pending`` on ``workers`` processes. A worker that dies (killed for memory, a crash in native
    code, ``os._exit``) breaks the whole pool and every run in flight with it, though only one of them
    caused it: those runs are *suspects*, run again one at a time, each alone in a fresh pool, before
    the others go on in parallel. A suspect that breaks its pool alone is the culprit and fails; the
    rest resume (from their checkpoints) and finish."""
    suspects: deque[RunRequest] = deque()
    while pending or suspects:
        alone = bool(suspects)
        lost = _pool_pass(suspects if alone else pending, device, 1 if alone else workers, gpus, on_outcome)
        if not lost:
            continue
        if alone:
            on_outcome(died(lost[0], "its worker process died while it ran alone (out of memory, or a crash "
                                     "in native code); see the sweep's stderr"))
        else:
            print(f"dabench: a worker process died with {len(lost)} run(s) in flight; running each of them "
                  "again alone to find the one that killed it", file=sys.stderr)
            suspects.extend(lost)


def _pool_pass(queue: deque[RunRequest], device: str, workers: int, gpus: list[str],
               on_outcome: Callable[[Outcome], None]) -> list[RunRequest]:
    """Take runs from ``queue`` into one pool until the queue is empty (returns []) or the pool breaks
    (returns the runs that were in flight, whose outcomes were lost with it)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fork would copy a CUDA context and torch's threads
    threads = max(1, (os.cpu_count() or 1) // workers)
    slots = context.Queue()
    for index in range(workers):
        slots.put(gpus[index % len(gpus)] if gpus else None)
    started = context.Barrier(workers, timeout=WORKER_START_SECONDS)
    in_flight: dict[Future, RunRequest] = {}
    lost: list[RunRequest] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(slots, threads, started)) as pool:
        _start_every_worker(pool, workers)
        while (queue or in_flight) and not lost:
            while queue and len(in_flight) < workers:
                request = queue.popleft()
                in_flight[pool.submit(execute_request, request, device)] = request
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                request = in_flight.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    lost.append(request)
                    continue
                on_outcome(outcome)
        for future, request in in_flight.items():  # a broken pool fails every future it still holds
            try:
                outcome = future.result()
            except BrokenProcessPool:
                lost.append(request)
                continue
            on_outcome(outcome)  # finished just before the breakage
    return lost


def _start_every_worker(pool: ProcessPoolExecutor, workers: int) -> None:
    """Spawn all of the pool's workers before the first run and let its manager thread see them.

    ProcessPoolExecutor spawns workers one per ``submit`` and wakes its manager thread *before* spawning,
    so the manager may be waiting on the sentinels of the older workers only: a newest worker that dies
    then goes unnoticed until some other run returns (and forever if none is left to). One task per
    worker that waits until every worker holds one spawns them all, and their results wake the manager,
    which from then on waits on every worker; no worker is spawned after that."""
    warm_ups = [pool.submit(_meet_the_other_workers) for _ in range(workers)]
    try:
        for future in warm_ups:
            future.result()
    except BrokenProcessPool as error:
        raise DabenchError(f"one of the sweep's {workers} worker processes died while starting (out of memory, "
                           "or a crash importing torch); run the sweep again, or with fewer --workers") from error
    except threading.BrokenBarrierError as error:
        raise DabenchError(f"the sweep's {workers} worker processes did not all start within "
                           f"{WORKER_START_SECONDS:.0f} s; run the sweep again, or with fewer --workers") from error


def _meet_the_other_workers() -> None:
    _started.wait()


def _init_worker(slots: Any, threads: int, started: Any) -> None:
    global _started
    _started = started
    _die_with_parent()
    gpu = slots.get()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # before torch touches CUDA in this process
    import torch

    torch.set_num_threads(threads)


def _die_with_parent() -> None:
    """A worker must not outlive a killed sweep (it would go on writing a run the restarted sweep reruns)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="dabench-parent-watch").start()
