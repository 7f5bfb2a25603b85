"""Test-only methods for the sweep tests, loaded like any third-party plugin (its dist-info sits beside
it): put this folder on PYTHONPATH and set DABENCH_LOAD_PLUGINS=sweep_test, in every worker process."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet
from dabench.run import provenance
from dabench.store import paths
from dabench.train.loop import Batch, LossStep, Schedule
from dabench_methods.shot import Shot


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


HOLD_ENV = "DABENCH_TEST_HOLD_DIR"


class HeldShot(Shot):
    """SHOT, unchanged, that a test can hold between two epochs: before epoch E of seed S, when
    ``$DABENCH_TEST_HOLD_DIR/hold-seedS-epochE`` exists and ``held-seedS-epochE`` does not yet, it writes
    ``held-seedS-epochE`` (its pid and node) and waits for ``release-seedS-epochE``. Records the first epoch
    this process trained and a sha256 of the adapted weights, so a test can tell a resumed run from a
    restarted one and compare it bit for bit with an uninterrupted one."""

    id = "held_shot"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        epochs_here: list[int] = []
        adapted = super().adapt(model, target, _HeldContext(ctx, epochs_here))
        ctx.record("first_epoch_in_this_process", epochs_here[0] if epochs_here else None)
        digest = hashlib.sha256()
        for name, tensor in sorted(adapted.state_dict().items()):
            digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
        ctx.record("weights_sha256", digest.hexdigest())
        return adapted


class _HeldContext:
    """The run's context, with a hold (and a note of each epoch trained here) before each epoch of ``fit``."""

    def __init__(self, ctx: AdaptContext, epochs_here: list[int]) -> None:
        self._ctx, self._epochs_here = ctx, epochs_here

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def fit(self, model, images, optimizer, step, schedule, stage: str = "train") -> list[float]:
        inner = step.before_epoch

        def before_epoch(epoch: int) -> None:
            self._epochs_here.append(epoch)
            _hold(self._ctx.seed, epoch)
            inner(epoch)

        step.before_epoch = before_epoch
        return self._ctx.fit(model, images, optimizer, step, schedule, stage=stage)


def _hold(seed: int, epoch: int, seconds: float = 300) -> None:
    folder = os.environ.get(HOLD_ENV)
    name = f"seed{seed}-epoch{epoch}"
    if not folder or not (Path(folder) / f"hold-{name}").exists() or (Path(folder) / f"held-{name}").exists():
        return
    note = Path(folder) / f".held-{name}.{os.getpid()}"
    note.write_text(json.dumps({"pid": os.getpid(), **provenance.node_record()}))
    os.replace(note, Path(folder) / f"held-{name}")
    deadline = time.monotonic() + seconds
    while not (Path(folder) / f"release-{name}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


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
    register(HeldShot)
