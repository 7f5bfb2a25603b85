"""Test-only methods for the sweep tests, loaded like any third-party plugin (its dist-info sits beside
it): put this folder on PYTHONPATH and set DABENCH_LOAD_PLUGINS=sweep_test, in every worker process."""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field

import torch

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.store import paths
from dabench.train.loop import Batch, LossStep, Schedule


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
    """A slow method that trains through ``ctx.fit`` (no change to the model), so each epoch is checkpointed and a
    restarted run resumes after the last one."""

    id = "ticker"
    Hparams = TickerHparams

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        epochs_here: list[int] = []
        hp = self.hparams

        def tick(epoch: int) -> None:
            if not epochs_here and epoch == 0 and hp.wait_for:
                _wait_for_checkpoint(hp.wait_for)
            epochs_here.append(epoch)
            time.sleep(hp.tick_seconds)

        def no_change(net: torch.nn.Module, batch: Batch) -> torch.Tensor:
            return net(batch.images).sum() * 0.0

        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        ctx.fit(model, target.images, optimizer, LossStep(no_change, before_epoch=tick),
                Schedule(hp.ticks, len(target)), stage="ticker")
        ctx.record("first_epoch_in_this_process", epochs_here[0] if epochs_here else hp.ticks)
        return model


class KillsWorker(Method):
    """Ends its worker process abruptly (as the kernel's OOM killer or a segfault would). The first time,
    only once another run of the sweep has checkpointed an epoch, so that a healthy run is surely in
    flight when it does; when run again (its own checkpoint says so), at once."""

    id = "kills_worker"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        checkpoint = ctx.run.checkpoint
        if multiprocessing.parent_process() is None or checkpoint is None:  # never the test process
            raise RuntimeError("kills_worker only runs in a sweep's worker process")
        if checkpoint.load() is None:
            checkpoint.save(0)
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
