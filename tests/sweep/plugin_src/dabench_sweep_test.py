"""Test-only methods for the sweep tests, loaded like any third-party plugin (its dist-info sits beside
it): put this folder on PYTHONPATH and set DABENCH_LOAD_PLUGINS=sweep_test, in every worker process."""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.store import paths


class AlwaysFails(Method):
    """Raises in the middle of adaptation, as a buggy method would."""

    id = "always_fails"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        raise RuntimeError("deliberate failure (dabench sweep tests)")


@dataclass(frozen=True)
class TickerHparams:
    ticks: int = field(default=20, metadata={"help": "epochs, each a short sleep then a checkpoint"})
    tick_seconds: float = field(default=0.2, metadata={"help": "seconds per epoch"})
    wait_for: str = field(default="", metadata={
        "help": "on a fresh start, first wait until a live run of this method has checkpointed"})


class Ticker(Method):
    """A slow method that checkpoints every epoch through the AdaptContext API and resumes from it."""

    id = "ticker"
    Hparams = TickerHparams

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        saved = ctx.load_checkpoint()
        start = saved[0] + 1 if saved else 0
        if saved is None and self.hparams.wait_for:
            _wait_for_checkpoint(self.hparams.wait_for)
        for epoch in range(start, self.hparams.ticks):
            time.sleep(self.hparams.tick_seconds)
            ctx.save_checkpoint(epoch, ticks_done=epoch + 1)
        ctx.record("first_epoch_in_this_process", start)
        return model


class KillsWorker(Method):
    """Ends its worker process abruptly (as the kernel's OOM killer or a segfault would). The first time,
    only once another run of the sweep has checkpointed an epoch, so that a healthy run is surely in
    flight when it does; when run again (its own checkpoint says so), at once."""

    id = "kills_worker"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        if multiprocessing.parent_process() is None or ctx.checkpointer is None:  # never the test process
            raise RuntimeError("kills_worker only runs in a sweep's worker process")
        if ctx.load_checkpoint() is None:
            ctx.save_checkpoint(0)
            _wait_for_checkpoint("ticker")
        os._exit(3)


def _wait_for_checkpoint(method: str, seconds: float = 120) -> None:
    """Until a run of ``method`` in this home holds a checkpoint and a running marker: the killer and
    the ticker each wait for the other's, so the killer dies while the ticker is mid-run, however slowly
    either worker process started."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in paths.runs_dir().glob("*/checkpoint.pt"):
            try:
                if f"method: {method}" in (path.parent / "config.yaml").read_text() and (path.parent / "running").exists():
                    return
            except OSError:
                continue
        time.sleep(0.05)


@dabench.hookimpl
def register_methods(register) -> None:
    register(AlwaysFails)
    register(Ticker)
    register(KillsWorker)
