"""What a sweep's worker does with one run request: plan it, execute it, and report the outcome to the driver
(never raising for the run's own failure); and the outcome of a run whose worker died. Launchers call it."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from dabench.errors import DabenchError
from dabench.host.registry import Registry, get_registry
from dabench.run.execute import execute
from dabench.run.plan import plan_run
from dabench.store import results
from dabench.store import run_lock as running
from dabench.sweep.plan import RunRequest


@dataclass
class Outcome:
    """A run's end as a worker reports it; ``result``/``config``/``log`` let the driver write the
    folder itself when the worker's DABENCH_HOME is not shared with it."""

    run_id: str
    ok: bool
    busy: bool = False
    error: str = ""
    traceback: str = ""
    result: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    log: str = ""


def execute_request(request: RunRequest, device: str = "auto", registry: Registry | None = None) -> Outcome:
    """Plan and execute one run in this process; never raises for a run's own failure."""
    config = None
    try:
        registry = registry or get_registry()
        plan = plan_run(registry, request.method, request.pair, request.seed, request.backbone, (), request.sets,
                        preset=request.preset)
        config = plan.config
        if plan.run_id != request.run_id:
            raise DabenchError(f"this worker resolves {request.label} to run {plan.run_id}, the driver to "
                               f"{request.run_id}: install the same dabench and plugins on every machine")
        result = execute(plan, registry, device, request.force, record_user_errors=True, index=False)
        log_path = results.run_dir(plan.run_id) / "log.txt"
        log = log_path.read_text() if log_path.exists() else ""
        return Outcome(request.run_id, True, result=result, config=config, log=log)
    except running.RunBusy as exc:
        return Outcome(request.run_id, False, busy=True, error=str(exc))
    except Exception as exc:  # noqa: BLE001 -- a run's failure is data for the sweep, not the end of it
        text = "".join(traceback.format_exception(exc))
        last = f"{type(exc).__name__}: {exc}".splitlines()[0] if not isinstance(exc, DabenchError) else str(exc)
        return Outcome(request.run_id, False, error=last, traceback=text, config=config)


def died(request: RunRequest, why: str) -> Outcome:
    """The outcome of a run whose worker process vanished (out of memory, a crash in native code)."""
    finished = results.read_done(results.run_dir(request.run_id))
    if finished is not None:
        return Outcome(request.run_id, True, result=finished)
    return Outcome(request.run_id, False, error=why, traceback=why + "\n")
