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

from dabench.sweep import Outcome, RunRequest, died, execute_request

PR_SET_PDEATHSIG = 1


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
        from dabench.registry import get_registry

        registry = get_registry()
        for request in requests:
            on_outcome(execute_request(request, device, registry))
        return
    _run_pool(deque(requests), "cuda" if gpus else device, workers, gpus, on_outcome)


def _run_pool(pending: deque[RunRequest], device: str, workers: int, gpus: list[str],
              on_outcome: Callable[[Outcome], None]) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fork would copy a CUDA context and torch's threads
    threads = max(1, (os.cpu_count() or 1) // workers)
    while pending:
        slots = context.Queue()
        for index in range(workers):
            slots.put(gpus[index % len(gpus)] if gpus else None)
        in_flight: dict[Future, RunRequest] = {}
        broken = False
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(slots, threads)) as pool:
            while (pending or in_flight) and not broken:
                while pending and len(in_flight) < workers:
                    request = pending.popleft()
                    in_flight[pool.submit(execute_request, request, device)] = request
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    request = in_flight.pop(future)
                    try:
                        on_outcome(future.result())
                    except BrokenProcessPool:
                        broken = True
                        on_outcome(died(request, "a worker process died while this run was in flight (out "
                                                 "of memory, or a crash in native code); see the sweep's stderr"))
            # a dead worker breaks the whole pool: the other runs in flight are lost too; run them again
            pending.extendleft(reversed(list(in_flight.values())))


def _init_worker(slots: Any, threads: int) -> None:
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
