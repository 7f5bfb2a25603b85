"""dabench.train.loop.fit: the hooks' order, the lr schedule, drop_last, state saved and restored, and every
stage that trains through it writing one progress line per epoch (SSL pretraining and target_oracle too)."""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch import nn

from dabench.run.execute import execute, plan_run
from dabench.store import results
from dabench.store.checkpoint import Checkpointer
from dabench.train.loop import Batch, LossStep, Schedule, Session, Step, by_progress, fit

PAIR = "synth-lab:synth-wild"
TINY = ("data.target.n_train=120", "data.target.n_test=60", "data.source.n_train=120", "data.source.n_test=60",
        "source.epochs=1")
TINY_SSL = ("ssl.epochs=2", "ssl.batch_size=32", "ssl.prototypes=10", "ssl.hidden_dim=32", "ssl.projection_dim=16",
            "ssl.warmup_epochs=0", "ssl.small_crops=0", "prototypes=10", "epochs=1")


class Recorder(Step):
    """Records every hook call and the lr each step ran at; the loss is the mean output."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer, self.calls, self.lrs, self.indices = optimizer, [], [], []

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        self.calls.append(("loss", batch.step))
        self.lrs.append(self.optimizer.param_groups[0]["lr"])
        self.indices.append(batch.index.tolist())
        return model(batch.images.flatten(1)).mean()

    def before_epoch(self, epoch: int) -> None:
        self.calls.append(("before_epoch", epoch))

    def after_step(self, batch: Batch) -> None:
        self.calls.append(("after_step", batch.step))

    def after_epoch(self, model: nn.Module, epoch: int) -> None:
        self.calls.append(("after_epoch", epoch))


def _setup(count: int = 10) -> tuple[nn.Module, torch.Tensor, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Linear(3 * 2 * 2, 1)
    images = torch.randint(0, 256, (count, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return model, images, torch.optim.SGD(model.parameters(), lr=1.0)


def test_hooks_run_in_order_and_the_last_incomplete_batch_is_dropped() -> None:
    model, images, optimizer = _setup(10)
    step = Recorder(optimizer)
    epochs_heard = []
    session = Session(torch.Generator().manual_seed(0), torch.device("cpu"),
                      on_epoch_end=lambda net, epoch: epochs_heard.append(epoch))
    losses = fit(model, images, optimizer, step, Schedule(epochs=2, batch_size=4), session)
    per_epoch = [("before_epoch", 0), ("loss", 0), ("after_step", 0), ("loss", 1), ("after_step", 1), ("after_epoch", 0),
                 ("before_epoch", 1), ("loss", 2), ("after_step", 2), ("loss", 3), ("after_step", 3), ("after_epoch", 1)]
    assert step.calls == per_epoch  # 10 images in batches of 4: 2 steps an epoch, 2 images left out
    assert epochs_heard == [0, 1] and len(losses) == 2
    assert all(len(index) == 4 for index in step.indices)
    assert len(set(step.indices[0] + step.indices[1])) == 8  # one epoch never repeats an image


def test_indices_train_on_a_subset_and_batches_name_positions_in_the_images() -> None:
    model, images, optimizer = _setup(12)
    step = Recorder(optimizer)
    subset = torch.tensor([1, 4, 5, 7, 10, 11])
    fit(model, images, optimizer, step, Schedule(epochs=2, batch_size=3), Session(torch.Generator().manual_seed(0),
        torch.device("cpu")), indices=subset)
    assert len(step.indices) == 4  # 6 images in batches of 3, two epochs
    assert sorted(step.indices[0] + step.indices[1]) == subset.tolist() == sorted(step.indices[2] + step.indices[3])


def test_the_schedule_sets_each_steps_lr_from_its_multiplier_and_decay() -> None:
    model, images, _ = _setup(8)
    optimizer = torch.optim.SGD([{"params": model.parameters(), "lr": 0.0, "lr_mult": 0.5}])
    step = Recorder(optimizer)
    schedule = Schedule(epochs=2, batch_size=4, lr=0.2, decay=lambda at, total: 1 - at / total)
    fit(model, images, optimizer, step, schedule, Session(torch.Generator().manual_seed(0), torch.device("cpu")))
    assert step.lrs == pytest.approx([0.1, 0.075, 0.05, 0.025])  # 0.2 * 0.5 * (1 - s / 4)
    assert by_progress(lambda p: 2 * p)(3, 4) == 1.5
    fixed = Recorder(optimizer)
    fit(model, images, optimizer, fixed, Schedule(epochs=1, batch_size=4), Session(torch.Generator(), torch.device("cpu")))
    assert fixed.lrs == [0.025, 0.025]  # no lr: the optimiser's is left alone


def test_a_loss_steps_state_is_saved_and_restored_in_place(tmp_path) -> None:
    model, images, optimizer = _setup(8)
    bank = torch.zeros(8)

    def loss(net: nn.Module, batch: Batch) -> torch.Tensor:
        bank[batch.index] += 1  # what a memory bank does between epochs
        return net(batch.images.flatten(1)).mean()

    generator = torch.Generator().manual_seed(0)
    checkpoint = Checkpointer(tmp_path / "checkpoint.pt", generator)
    fit(model, images, optimizer, LossStep(loss, state={"bank": bank}), Schedule(1, 4),
        Session(generator, torch.device("cpu"), checkpoint=checkpoint))
    bank.zero_()
    session = Session(generator, torch.device("cpu"), checkpoint=Checkpointer(tmp_path / "checkpoint.pt", generator))
    assert fit(model, images, optimizer, LossStep(loss, state={"bank": bank}), Schedule(1, 4), session) == [
        pytest.approx(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["states"]["epoch_losses"][0])]
    assert session.resumed_from == 0 and bank.tolist() == [1.0] * 8  # restored into the same tensor; nothing left to run
    with pytest.raises(RuntimeError, match=r"checkpoint state \['bank'\] does not match this loop's \['other'\]"):
        fit(model, images, optimizer, LossStep(loss, state={"other": bank}), Schedule(2, 4),
            Session(generator, torch.device("cpu"), checkpoint=Checkpointer(tmp_path / "checkpoint.pt", generator)))


def _log(run_id: str) -> str:
    return (results.run_dir(run_id) / "log.txt").read_text()


def test_target_oracle_writes_a_line_per_epoch_and_a_history(registry, fresh_home) -> None:
    plan = plan_run(registry, "target_oracle", PAIR, 0, sets=(*TINY, "epochs=2"))
    result = execute(plan, registry, "cpu")
    log = _log(plan.run_id)
    assert re.search(r"^target_oracle epoch 1/2 loss [0-9.]+ val_accuracy [0-9.]+ entropy", log, re.M)
    assert re.search(r"^target_oracle epoch 2/2 loss [0-9.]+ val_accuracy [0-9.]+ entropy", log, re.M)
    # one entry per epoch, then the model it returns (the best held-out epoch) when that is not the last one
    assert [entry["epoch"] for entry in result["history"]][:2] == [0, 1] and len(result["history"]) in (2, 3)
    saved = json.loads((results.run_dir(plan.run_id) / "result.json").read_text())
    assert saved["history"] == result["history"] and saved["oracle_accuracy"] is not None


def test_ssl_pretraining_writes_a_line_per_epoch(registry, fresh_home) -> None:
    plan = plan_run(registry, "cluster_pl", PAIR, 0, sets=(*TINY, *TINY_SSL))
    execute(plan, registry, "cpu")
    log = _log(plan.run_id)
    assert "ssl swav synth-wild epoch 1/2 loss" in log and "ssl swav synth-wild epoch 2/2 loss" in log
    assert "cluster_pl epoch 1/1 loss" in log


def test_a_context_session_times_the_loops_stages_only_when_asked() -> None:
    from dabench.methods import AdaptContext

    ctx = AdaptContext(device=torch.device("cpu"), seed=0, generator=torch.Generator().manual_seed(0), class_names=("a",))
    model, images, optimizer = _setup(8)
    fit(model, images, optimizer, Recorder(optimizer), Schedule(1, 4), ctx.session(timed=False))
    assert ctx.run.records.timings == {}  # the distillation: timed as a whole by its caller
    fit(model, images, optimizer, Recorder(optimizer), Schedule(1, 4), ctx.session())
    assert set(ctx.run.records.timings) == {"pseudo_labels", "train"}  # Recorder relabels: before_epoch is timed
