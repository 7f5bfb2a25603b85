"""Where each Ray attempt of a run ran and which attempts were lost with their node: the Ray launcher's
driver keeps it in ``$DABENCH_HOME/sweeps/attempts/<run_id>.json`` (not in the run folder, which each
attempt empties as it starts), and `dabench status` tells it: "lost on node X, retried on node Y".
Imports no Ray: `dabench status` reads it on a machine without the extra."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dabench.store import atomic, paths


def attempts_path(run_id: str) -> Path:
    return paths.home() / "sweeps" / "attempts" / f"{run_id}.json"


def node_words(name: str, node_id: str) -> str:
    """``worker-a (3f2a1b0c)``: the node's name (`ray start --node-name`, else its IP) and its Ray id's start."""
    return f"{name} ({node_id[:8]})" if node_id else name


class AttemptLog:
    """The driver's record of one sweep's attempts: per run, a list of ``{"node", "node_id", "pid", "started",
    "lost"}`` (``lost``: why, or ""), written through to the run's file at each change."""

    def __init__(self) -> None:
        self.runs: dict[str, list[dict[str, Any]]] = {}

    def submitted(self, run_id: str) -> None:
        """A run handed to Ray: its record starts afresh (an older sweep's attempts are not this one's)."""
        self.runs[run_id] = []
        attempts_path(run_id).unlink(missing_ok=True)

    def started(self, run_id: str, node: str, node_id: str, pid: int) -> dict[str, Any] | None:
        """An attempt began on ``node``; returns the attempt it follows when that one is now known lost
        (Ray starts another attempt only when the worker or node of the last one died)."""
        attempts = self.runs.setdefault(run_id, [])
        before = attempts[-1] if attempts else None
        if before is not None and not before["lost"]:
            before["lost"] = "its worker process or node died"
        attempts.append({"node": node, "node_id": node_id, "pid": pid, "started": _now(), "lost": ""})
        self._write(run_id)
        return before

    def node_lost(self, node_id: str, why: str) -> list[str]:
        """The node ``node_id`` left the cluster: the runs whose current attempt ran there (now marked lost)."""
        hit = []
        for run_id, attempts in self.runs.items():
            if attempts and attempts[-1]["node_id"] == node_id and not attempts[-1]["lost"] \
                    and not attempts[-1].get("ended"):
                attempts[-1]["lost"] = why
                attempts[-1]["lost_at"] = _now()
                hit.append(run_id)
                self._write(run_id)
        return hit

    def returned(self, run_id: str) -> None:
        """The run's task returned its outcome: a node that dies later did not take this run with it."""
        attempts = self.runs.get(run_id) or []
        if attempts:
            attempts[-1]["ended"] = True

    def gave_up(self, run_id: str, why: str) -> None:
        """Ray gave up on the run: its last attempt was lost too, and no retry is left."""
        attempts = self.runs.get(run_id) or []
        if attempts:
            attempts[-1]["lost"] = attempts[-1]["lost"] or why
            attempts[-1]["final"] = True
            self._write(run_id)

    def current(self, run_id: str) -> dict[str, Any] | None:
        attempts = self.runs.get(run_id)
        return attempts[-1] if attempts else None

    def _write(self, run_id: str) -> None:
        atomic.write_json(attempts_path(run_id), {"run_id": run_id, "attempts": self.runs[run_id]})


def read_attempts(run_id: str) -> list[dict[str, Any]]:
    try:
        return list(json.loads(attempts_path(run_id).read_text()).get("attempts") or [])
    except (OSError, ValueError, AttributeError):
        return []


def story(attempts: list[dict[str, Any]]) -> str:
    """What became of a run's attempts, or "" when none was lost: ``lost on node worker-a (3f2a1b0c) at
    21:30:05 (the node died), retried on node worker-b (9c2d11aa) at 21:30:07``."""
    if not any(attempt.get("lost") for attempt in attempts):
        return ""
    parts = []
    for index, attempt in enumerate(attempts):
        where = node_words(attempt.get("node", "?"), attempt.get("node_id", ""))
        if index:
            parts.append(f"retried on node {where} at {attempt.get('started', '?')}")
        if attempt.get("lost"):
            when = attempt.get("lost_at")
            parts.append(f"lost on node {where}" + (f" at {when}" if when else "") + f" ({attempt['lost']})")
    if attempts[-1].get("lost"):
        parts.append("Ray gave up on it" if attempts[-1].get("final") else "not retried yet")
    return ", ".join(parts)


def status_lines(entries: list[Any]) -> list[str]:
    """`dabench status`'s section for the runs of ``entries`` (sweep Entries) that lost an attempt with its node."""
    lines = []
    for entry in entries:
        told = story(read_attempts(entry.request.run_id))
        if told:
            lines.append(f"  {entry.request.label} (run {entry.request.run_id}), {entry.state}: {told}")
    return ["lost with their node (Ray):", *lines] if lines else []


class StartBoard:
    """Where each Ray task says, as it starts, which run it holds and on which node (a Ray actor on the
    driver's node; the driver takes the news every second)."""

    def __init__(self) -> None:
        self.news: list[tuple[str, str, int]] = []

    def started(self, run_id: str, node_id: str, pid: int) -> None:
        self.news.append((run_id, node_id, pid))

    def take(self) -> list[tuple[str, str, int]]:
        news, self.news = self.news, []
        return news


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
