"""Sweeps: the runs of a sweep (planned in ``dabench.sweep.plan``), each one's state read from its
folder (done / running / failed / interrupted / pending), the unfinished ones handed to a launcher,
every outcome indexed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.store import atomic, paths, progress, results, searches
from dabench.store import run_lock as running
from dabench.sweep.plan import RunRequest, parse_seeds, plan_sweep  # noqa: F401 -- re-exported for dabench.sweep.execute's callers
from dabench.sweep.worker import Outcome, died, execute_request  # noqa: F401 -- re-exported

STATES = ("done", "running", "failed", "interrupted", "pending")
TO_RUN = ("pending", "interrupted")  # an interrupted run resumes from its checkpoint


@dataclass
class Entry:
    request: RunRequest
    state: str
    detail: str = ""  # failed: the error's last line; running: pid, host, start


# ---- state of each run, read from its folder ----------------------------------------------------
def run_state(folder: Path) -> tuple[str, str]:
    """(state, detail) of one run folder; see STATES."""
    if results.read_done(folder) is not None:
        return "done", ""
    marker = running.read_marker(folder)
    if marker is not None and running.marker_alive(marker, folder):
        state = progress.read_state(folder)
        where = f"{progress.describe_state(state)}; " if state is not None else ""
        return "running", f"{where}pid {marker.get('pid')} on {marker.get('host')} since {marker.get('started')}"
    if (folder / running.ERROR).exists():
        return "failed", running.last_error_line(folder)
    if marker is not None:
        return "interrupted", running.why_not_alive(marker, folder)
    if folder.is_dir() and any(folder.iterdir()):
        return "interrupted", "started but not finished"
    return "pending", ""


def sweep_status(requests: list[RunRequest]) -> list[Entry]:
    return [Entry(request, *run_state(results.run_dir(request.run_id))) for request in requests]


def folder_entries() -> list[Entry]:
    """Every run folder of this DABENCH_HOME with its state (no sweep given: nothing is 'pending')."""
    entries = []
    root = paths.runs_dir()
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            config = {}
        request = RunRequest(str(config.get("method", "?")), str(config.get("pair", "?")), int(config.get("seed", -1)),
                             config.get("backbone"), (), folder.name)
        entries.append(Entry(request, *run_state(folder)))
    return entries


def counts(entries: list[Entry]) -> dict[str, int]:
    return {state: sum(entry.state == state for entry in entries) for state in STATES}


def format_status(entries: list[Entry], title: str = "") -> str:
    tally = counts(entries)
    labels = point_labels([entry.request for entry in entries])  # a search's runs say their grid point
    lines = [title] if title else []
    lines.append(f"{len(entries)} runs: " + ", ".join(f"{tally[state]} {state}" for state in STATES))
    for state in ("failed", "running", "interrupted"):
        chosen = [entry for entry in entries if entry.state == state]
        if chosen:
            lines.append(f"{state}:")
            lines += [f"  {labels[e.request.run_id]} (run {e.request.run_id}): {e.detail}" for e in chosen]
    return "\n".join(lines)


# ---- the sweep itself -----------------------------------------------------------------------------
def save_selection(selection: dict[str, Any]) -> None:
    """Remember the last sweep's arguments so that a bare `dabench status` can show it."""
    atomic.write_json(paths.home() / "sweeps" / "last.json", selection)


def load_selection() -> dict[str, Any] | None:
    path = paths.home() / "sweeps" / "last.json"
    return json.loads(path.read_text()) if path.exists() else None


@dataclass
class Summary:
    entries: list[Entry]
    ran: int
    failed_now: list[str]
    busy: list[str]

    @property
    def exit_code(self) -> int:
        """1 unless every run of the sweep is done: a failed run, and also one still running elsewhere or
        left interrupted, means the results are not complete yet (a script must not go on to the report)."""
        return 0 if all(entry.state == "done" for entry in self.entries) else 1

    @property
    def message(self) -> str:
        """One line naming what is not done and what to do about it ('' when everything is done)."""
        tally = counts(self.entries)
        advice = {
            "failed": "failed (each folder's error.txt holds the traceback; fix the cause and rerun with "
                      "--retry-failed)",
            "running": "still running in another process or on another machine (start the sweep again once "
                       "they end, or see `dabench status`)",
            "interrupted": "interrupted (start the sweep again to resume them)",
            "pending": "not started (start the sweep again)",
        }
        parts = [f"{tally[state]} run(s) {text}" for state, text in advice.items() if tally[state]]
        if not parts:
            return ""
        return f"dabench: {len(self.entries) - tally['done']} of {len(self.entries)} runs not done: " + "; ".join(parts)


def run_sweep(requests: list[RunRequest], launcher: str = "local", workers: int | None = None,
              device: str = "auto", retry_failed: bool = False, ray_address: str | None = "auto",
              echo: Callable[[str], None] = print) -> Summary:
    """Index the finished runs, run the unfinished ones through ``launcher``, return the final states."""
    entries = sweep_status(requests)
    for entry in entries:
        if entry.state == "done":  # also repairs an index that missed a run finished just before a crash
            results.index_result(results.read_done(results.run_dir(entry.request.run_id)))
    wanted = TO_RUN + (("failed",) if retry_failed else ())
    todo = [entry.request for entry in entries
            if entry.state in wanted or (entry.state == "done" and entry.request.force)]
    tally = counts(entries)
    forced = sum(entry.state == "done" and entry.request.force for entry in entries)
    echo(f"sweep: {len(entries)} runs; {tally['done']} already done, {len(todo)} to run"
         + (f" ({forced} of the done ones again: their method's code changed)" if forced else "")
         + (f", {tally['failed']} failed before (skipped; --retry-failed reruns them)"
            if tally["failed"] and not retry_failed else "")
         + (f", {tally['running']} running in another process" if tally["running"] else ""))
    record_searches(requests)
    failed_now: list[str] = []
    busy: list[str] = []
    finished = 0
    by_id = {request.run_id: request for request in todo}
    names = point_labels(requests)

    def on_outcome(outcome: Outcome) -> None:
        nonlocal finished
        finished += 1
        request = by_id[outcome.run_id]
        prefix = f"[{finished}/{len(todo)}]"
        label = names[request.run_id]
        if outcome.busy:
            busy.append(label)
            echo(f"{prefix} skipped {label}: {outcome.error}")
        elif outcome.ok:
            record_success(outcome)
            result = outcome.result or {}
            echo(f"{prefix} done {label}: accuracy {100 * result['accuracy']:.2f}% "
                 f"({result.get('seconds', 0):.1f} s on {result.get('device')})")
        else:
            record_failure(outcome)
            failed_now.append(label)
            echo(f"{prefix} FAILED {label} (run {request.run_id}): {outcome.error}")

    if todo:
        launch(launcher, todo, device, workers, on_outcome, ray_address)
    final = sweep_status(requests)
    summary = Summary(final, len(todo), failed_now, busy)
    echo(format_status(final, "sweep finished:"))
    return summary


def _points(requests: list[RunRequest]) -> dict[str, tuple[str, ...]]:
    """Per run id, the settings that tell its run apart from the others of its (method, pair, seed) in this
    sweep: its search point (--grid/--random); () for a run that is the only one of its (method, pair, seed)."""
    groups: dict[str, list[RunRequest]] = {}
    for request in requests:
        groups.setdefault(request.label, []).append(request)
    points = {}
    for group in groups.values():
        shared = set.intersection(*(set(request.sets) for request in group)) if len(group) > 1 else None
        for request in group:
            points[request.run_id] = () if shared is None else tuple(s for s in request.sets if s not in shared)
    return points


def point_labels(requests: list[RunRequest]) -> dict[str, str]:
    """Each run's progress label: ``tent a:b seed 0``, with its grid point when the sweep holds several runs of
    that (method, pair, seed): ``tent a:b seed 0 [lr=0.01, epochs=5]``."""
    points = _points(requests)
    return {r.run_id: r.label + (f" [{', '.join(points[r.run_id])}]" if points[r.run_id] else "") for r in requests}


def record_searches(requests: list[RunRequest]) -> None:
    """A sweep with several settings of one (method, pair, seed) is a search: its runs are recorded as one
    (dabench.store.searches.record_search), so that `report search` lists them and no run made outside it."""
    points = _points(requests)
    searched = [request.run_id for request in requests if points[request.run_id]]
    if searched:
        searches.record_search(searched)


def launch(launcher: str, requests: list[RunRequest], device: str, workers: int | None,
           on_outcome: Callable[[Outcome], None], ray_address: str | None) -> None:
    if launcher == "local":
        from dabench.sweep.launchers.local import run_local

        run_local(requests, device, workers, on_outcome)
    elif launcher == "ray":
        from dabench.sweep.launchers.ray import run_ray

        run_ray(requests, device, workers, on_outcome, ray_address)
    else:
        raise DabenchError(f"unknown launcher '{launcher}'; valid launchers: local, ray")


def record_success(outcome: Outcome) -> None:
    """Write the folder if the worker's home is not this one (a remote machine), then index the run."""
    folder = results.run_dir(outcome.run_id)
    finished = results.read_done(folder)
    # a forced rerun (--rerun-changed) made on another machine replaces the finished run held here
    stale = finished is not None and outcome.result is not None and \
        finished.get("finished_at") != outcome.result.get("finished_at")
    if (finished is None or stale) and outcome.result is not None:
        folder.mkdir(parents=True, exist_ok=True)
        if stale:
            (folder / results.LOG).unlink(missing_ok=True)
        if outcome.config is not None:
            results.write_config(folder, outcome.config)
        results.finish_run(folder, outcome.result, outcome.log.splitlines())
        (folder / running.ERROR).unlink(missing_ok=True)
    results.index_result(outcome.result)


def record_failure(outcome: Outcome) -> None:
    folder = results.run_dir(outcome.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    if outcome.config is not None and not (folder / "config.yaml").exists():
        results.write_config(folder, outcome.config)
    atomic.write_text(folder / running.ERROR, outcome.traceback or outcome.error + "\n")


