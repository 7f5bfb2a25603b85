"""What a run shows while it runs: a tqdm bar on a terminal, and one line per epoch (stage, epoch, loss,
label-free validator scores, elapsed and remaining time) in the run's ``log.txt`` as it goes, on stderr
when stderr is not a terminal, and in ``progress.json`` (rewritten atomically) for ``dabench status``."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
LOG = "log.txt"
STATE = "progress.json"


def _disabled() -> bool:
    # checked per bar, not once at import: a test or a caller may swap stderr
    return not sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, leave: bool = False) -> Iterable[T]:
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=_disabled(), dynamic_ncols=True)


def counter(total: int, desc: str, unit: str = "it", leave: bool = False) -> tqdm:
    """A bar advanced by hand (``bar.update(k)``), for loops whose steps are batches of ``unit``s;
    use it as a context manager so the bar is closed on errors too."""
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=_disabled(), dynamic_ncols=True)


@dataclass
class RunLog:
    """The live record of one run: lines appended (and flushed) to ``folder/log.txt``, the last epoch's
    state in ``folder/progress.json``. ``label`` prefixes the stderr lines (``shot synth-lab:synth-wild
    seed 0``), so a sweep's interleaved output stays readable."""

    folder: Path
    label: str
    started: float = field(default_factory=time.time)
    notes: dict[str, float] = field(default_factory=dict)

    def line(self, text: str) -> None:
        with open(self.folder / LOG, "a", encoding="utf-8") as log:
            log.write(text + "\n")
            log.flush()
        if _disabled():
            print(f"[{self.label}] {text}", file=sys.stderr, flush=True)

    def epoch(self, stage: str, epoch: int, epochs: int, stage_started: float, epochs_done: int) -> None:
        """One finished epoch (``epoch`` counts from 1) of ``stage``; ``epochs_done`` in this process."""
        now = time.time()
        per_epoch = (now - stage_started) / max(1, epochs_done)
        remaining = per_epoch * (epochs - epoch)
        values = " ".join(f"{name} {value:.4f}" for name, value in self.notes.items())
        self.line(f"{stage} epoch {epoch}/{epochs}{' ' + values if values else ''} "
                  f"elapsed {_duration(now - self.started)} eta {_duration(remaining)}")
        state = {"stage": stage, "epoch": epoch, "epochs": epochs, **self.notes,
                 "elapsed_s": round(now - self.started, 1), "eta_s": round(remaining, 1),
                 "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_json_atomically(self.folder / STATE, state)
        self.notes = {}


_current: ContextVar[RunLog | None] = ContextVar("dabench_run_log", default=None)


@contextlib.contextmanager
def run_log(folder: Path, label: str) -> Iterator[RunLog]:
    """Install the live log of the run in ``folder`` for the duration of the block."""
    log = RunLog(folder, label)
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)
        (folder / STATE).unlink(missing_ok=True)


def note(**values: float) -> None:
    """Values to show on the current epoch's line (``loss=0.41``, a validator's score); a no-op outside a
    run. Call it once the value is on the host (the loops read their loss once per epoch anyway)."""
    log = _current.get()
    if log is not None:
        log.notes.update({name: float(value) for name, value in values.items()})


def log_line(text: str) -> None:
    """A line for the run's log (``ctx.log``); a no-op outside a run."""
    log = _current.get()
    if log is not None:
        log.line(text)


def epochs(iterable: Iterable[int], stage: str, total: int | None = None) -> Iterator[int]:
    """An epoch loop: the bar on a terminal, and one line per finished epoch in the run's log.

    ``iterable`` yields epoch indices (``range(start, epochs)``, which may start past 0 on a resumed
    run); the line counts epochs from 1 out of the range's stop.
    """
    log = _current.get()
    stop = getattr(iterable, "stop", total)
    epochs_total = stop if stop is not None else total or 0
    started, done = time.time(), 0
    for epoch in progress(iterable, desc=stage, total=total):
        yield epoch
        done += 1
        if log is not None:
            log.epoch(stage, epoch + 1, epochs_total, started, done)


def read_state(folder: Path) -> dict[str, Any] | None:
    """A running run's last epoch state, or None (not started an epoch yet, or not running)."""
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None


def describe_state(state: dict[str, Any]) -> str:
    """``adapt epoch 3/15, loss 0.4120, 2m10s elapsed, ~7m05s left`` for ``dabench status``."""
    values = ", ".join(f"{name} {state[name]:.4f}" for name in state
                       if name not in {"stage", "epoch", "epochs", "elapsed_s", "eta_s", "updated"})
    return (f"{state['stage']} epoch {state['epoch']}/{state['epochs']}{', ' + values if values else ''}, "
            f"{_duration(state['elapsed_s'])} elapsed, ~{_duration(state['eta_s'])} left")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _write_json_atomically(path: Path, value: dict[str, Any]) -> None:
    # dabench.store.atomic's writer fsyncs (a result must survive a crash); a progress note need not, and
    # must stay cheap: write beside, then one rename
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)
