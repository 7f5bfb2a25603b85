"""Test-only methods for the sweep tests, loaded like any third-party plugin (its dist-info sits beside
it): put this folder on PYTHONPATH and set DABENCH_LOAD_PLUGINS=sweep_test, in every worker process."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dabench
from dabench.methods import AdaptContext, Method, TargetImages
from dabench.models import ClassifierNet


class AlwaysFails(Method):
    """Raises in the middle of adaptation, as a buggy method would."""

    id = "always_fails"

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        raise RuntimeError("deliberate failure (dabench sweep tests)")


@dataclass(frozen=True)
class TickerHparams:
    ticks: int = field(default=20, metadata={"help": "epochs, each a short sleep then a checkpoint"})
    tick_seconds: float = field(default=0.2, metadata={"help": "seconds per epoch"})


class Ticker(Method):
    """A slow method that checkpoints every epoch through the AdaptContext API and resumes from it."""

    id = "ticker"
    Hparams = TickerHparams

    def adapt(self, model: ClassifierNet, target: TargetImages, ctx: AdaptContext) -> ClassifierNet:
        saved = ctx.load_checkpoint()
        start = saved[0] + 1 if saved else 0
        for epoch in range(start, self.hparams.ticks):
            time.sleep(self.hparams.tick_seconds)
            ctx.save_checkpoint(epoch, ticks_done=epoch + 1)
        ctx.record("first_epoch_in_this_process", start)
        return model


@dabench.hookimpl
def register_methods(register) -> None:
    register(AlwaysFails)
    register(Ticker)
