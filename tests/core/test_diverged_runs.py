"""A loss gone NaN or inf ends the training (dabench.train.loop.Diverged) at the end of the epoch it happened
in, before that epoch is scored or checkpointed; under `dabench run` the run fails with that one message and
leaves nothing a report could rank."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dabench.methods import Method
from dabench.run.execute import execute, plan_run
from dabench.store import results
from dabench.store.checkpoint import Checkpointer
from dabench.train.loop import Batch, Diverged, LossStep, Schedule, Session, fit

SMALL = ("data.source.n_train=200", "data.source.n_test=50", "data.target.n_train=150", "data.target.n_test=60",
         "source.epochs=1")


def _poisoned(bad_step: int, value: float):
    """A loss that is finite until step ``bad_step``, then ``value`` times a finite loss (NaN, inf or -inf)."""

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        finite = model(batch.images.flatten(1)).pow(2).mean()
        return finite * value if batch.step == bad_step else finite

    return loss


# 10 images, batches of 4: 2 steps an epoch (the last 2 images dropped), 3 epochs = steps 0..5
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("bad_step", range(6))
def test_a_non_finite_loss_at_any_step_stops_the_fit_in_its_epoch(value: float, bad_step: int, tmp_path) -> None:
    torch.manual_seed(0)
    model = nn.Linear(12, 1)
    images = torch.randint(0, 256, (10, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scored: list[int] = []
    checkpoint = Checkpointer(tmp_path / "checkpoint.pt")
    session = Session(torch.Generator().manual_seed(0), torch.device("cpu"), amp=False, checkpoint=checkpoint,
                      on_epoch_end=lambda net, epoch: scored.append(epoch))
    with pytest.raises(Diverged) as caught:
        fit(model, images, optimizer, LossStep(_poisoned(bad_step, value)), Schedule(epochs=3, batch_size=4), session,
            stage="probe")
    epoch = bad_step // 2
    assert caught.value.epoch == epoch
    assert str(caught.value).startswith(f"probe epoch {epoch + 1}/3: the mean loss is ")
    assert "the training diverged; the run ends here as failed and no report ranks it" in str(caught.value)
    assert scored == list(range(epoch))  # the diverged epoch is never scored...
    saved = checkpoint.load()
    assert (saved[0] if saved else None) == (epoch - 1 if epoch else None)  # ...nor checkpointed


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_broken_by_an_epochs_last_step_stop_the_fit_though_its_loss_was_finite(value: float) -> None:
    """The loss of the step that breaks the weights was computed before it: only the weights show it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 4), nn.BatchNorm1d(4))
    images = torch.randint(0, 256, (10, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    step = LossStep(lambda net, batch: net(batch.images.flatten(1)).pow(2).mean())

    def break_weights(batch: Batch) -> None:
        if batch.step == 3:  # epoch 2's last step
            with torch.no_grad():
                model[1].running_var[0] = value  # a buffer counts as much as a parameter

    step.after_step = break_weights
    session = Session(torch.Generator().manual_seed(0), torch.device("cpu"), amp=False)
    with pytest.raises(Diverged) as caught:
        fit(model, images, optimizer, step, Schedule(epochs=3, batch_size=4), session, stage="probe")
    assert caught.value.epoch == 1 and math.isfinite(caught.value.loss)
    assert str(caught.value).startswith("probe epoch 2/3: the model's weights hold NaN or inf after the epoch (mean "
                                        "loss ")


class Diverging(Method):
    """Trains through ctx.fit with a loss that goes NaN in its second epoch."""

    id = "diverging"

    def adapt(self, model, target, ctx):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)

        def loss(net: nn.Module, batch: Batch) -> torch.Tensor:
            out = net(batch.images).logsumexp(1).mean()
            return out * float("nan") if batch.progress >= 0.5 else out

        ctx.fit(model, target.images, optimizer, LossStep(loss), Schedule(epochs=2, batch_size=32))
        return model


def test_a_diverged_run_fails_with_one_message_and_leaves_no_result(registry) -> None:
    registry.add("methods", Diverging, "test")
    plan = plan_run(registry, "diverging", "synth-lab:synth-wild", sets=SMALL)
    with pytest.raises(Diverged, match=r"^train epoch 2/2: the mean loss is nan"):
        execute(plan, registry, "cpu")
    assert results.read_done(results.run_dir(plan.run_id)) is None
    assert plan.run_id not in {record["run_id"] for record in results.load_results()}
