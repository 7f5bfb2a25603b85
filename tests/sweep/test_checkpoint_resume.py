"""Per-epoch checkpoints: a run killed part-way resumes from its last epoch and ends exactly where an
uninterrupted run ends (CPU, same seed); the checkpoint goes when the run finishes."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import PAIR, TINY

from dabench.methods import AdaptContext, RunLink, TargetImages
from dabench.models import ClassifierNet, build_model
from dabench.run.execute import execute, plan_run
from dabench.store import results
from dabench.store.checkpoint import Checkpointer
from dabench.train.loop import Session
from dabench.train.supervised import SupervisedRecipe, train_supervised


class Killed(BaseException):
    """Stands in for SIGKILL inside one process (not an Exception: nothing may catch and record it)."""


def _kill_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    original = Checkpointer.save

    def save_then_die(self, saved_epoch, **states):
        original(self, saved_epoch, **states)
        if saved_epoch == epoch:
            raise Killed()

    monkeypatch.setattr(Checkpointer, "save", save_then_die)


def test_checkpointer_restores_every_rng(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(3)
    checkpointer = Checkpointer(tmp_path / "checkpoint.pt", generator, owner="run")
    checkpointer.save(4, weights={"w": torch.arange(3.0)})
    expected = (torch.rand(3, generator=generator), torch.rand(2), np.random.rand(), random.random())
    generator.manual_seed(99), torch.manual_seed(99), np.random.seed(99), random.seed(99)
    epoch, states = Checkpointer(tmp_path / "checkpoint.pt", generator, owner="run").load()
    assert epoch == 4 and torch.equal(states["weights"]["w"], torch.arange(3.0))
    again = (torch.rand(3, generator=generator), torch.rand(2), np.random.rand(), random.random())
    assert torch.equal(again[0], expected[0]) and torch.equal(again[1], expected[1]) and again[2:] == expected[2:]
    assert Checkpointer(tmp_path / "checkpoint.pt", generator, owner="another run").load() is None


def test_train_supervised_resumes_bit_for_bit(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    images = torch.randint(0, 256, (96, 1, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    labels = torch.arange(96) % 3
    recipe = SupervisedRecipe(epochs=2, batch_size=16)

    def train(checkpoint: Checkpointer | None) -> tuple[dict, dict]:
        torch.manual_seed(0)
        model = build_model(registry.backbone("small_cnn"), 3)
        generator = torch.Generator().manual_seed(0)
        if checkpoint is not None:
            checkpoint.generator = generator
        outcome = train_supervised(model, images, labels, recipe, Session(generator, torch.device("cpu"), checkpoint=checkpoint))
        return model.state_dict(), outcome

    reference_state, reference = train(None)
    path = tmp_path / "checkpoint.pt"
    with monkeypatch.context() as patch:
        _kill_after(patch, 0)
        with pytest.raises(Killed):
            train(Checkpointer(path))
    resumed = Checkpointer(path)
    state, outcome = train(resumed)
    assert resumed.resumed_from == 0 and outcome == reference
    assert all(torch.equal(state[key], reference_state[key]) for key in reference_state)


CLASSES = ("a", "b", "c")
TARGET = TargetImages(torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8,
                                    generator=torch.Generator().manual_seed(0)))
SFUDA = {  # tiny settings: 3 epochs of 3 batches; the kNN methods with a few neighbours
    "shot": {"epochs": 3, "batch_size": 16},
    "nrc": {"epochs": 3, "batch_size": 16, "K": 3, "KK": 3},
    "aad": {"epochs": 3, "batch_size": 16, "K": 3},
    "tent": {"epochs": 3, "batch_size": 16},
    "cluster_pl": {"epochs": 3, "batch_size": 8, "prototypes": 8, "fraction": 0.5},
}


def _tiny_model(registry, seed: int) -> ClassifierNet:
    torch.manual_seed(seed)
    return build_model(registry.backbone("small_cnn"), len(CLASSES))


def _adapt(registry, method_id: str, checkpoint: Path | None) -> tuple[dict, AdaptContext, list[int]]:
    """One run of ``method_id`` from the same seeds; returns (final state_dict, context, epochs it ran).
    With ``checkpoint``, the context saves each epoch there and resumes from it, as in a runner's run."""
    source, scratch = _tiny_model(registry, 0), _tiny_model(registry, 1)  # cluster_pl trains a fresh network
    generator = torch.Generator().manual_seed(0)
    epochs_run: list[int] = []
    link = RunLink(on_epoch_end=lambda model, epoch: epochs_run.append(epoch),
                   initial_model=lambda _: copy.deepcopy(scratch),
                   checkpoint=Checkpointer(checkpoint, generator) if checkpoint is not None else None)
    ctx = AdaptContext(device=torch.device("cpu"), seed=0, generator=generator, class_names=CLASSES, amp=False, run=link)
    method_cls = registry.method(method_id)
    adapted = method_cls(method_cls.Hparams(**SFUDA[method_id])).adapt(source, TARGET, ctx)
    return adapted.state_dict(), ctx, epochs_run


def _pseudo_labels(ctx: AdaptContext) -> list[tuple[Any, ...]]:
    return [(entry["stage"], entry["indices"].tolist(), entry["labels"].tolist()) for entry in ctx.run.records.pseudo_labels]


@pytest.mark.parametrize("method_id", list(SFUDA))
def test_sfuda_method_resumes_bit_for_bit(method_id: str, tmp_path: Path, registry,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after epoch 1 of 3, the run resumes with the model, optimiser, RNG states and the method's own
    state (memory banks, pseudo-labels) of that epoch, runs only epoch 2 and ends on the uninterrupted
    run's exact weights, losses and records."""
    reference_state, reference, reference_epochs = _adapt(registry, method_id, None)
    assert reference_epochs == [0, 1, 2]
    path = tmp_path / "checkpoint.pt"
    with monkeypatch.context() as patch:
        _kill_after(patch, 1)
        with pytest.raises(Killed):
            _adapt(registry, method_id, path)
    state, resumed, epochs_run = _adapt(registry, method_id, path)
    assert resumed.run.checkpoint.resumed_from == 1 and epochs_run == [2]
    assert resumed.run.records.log_lines[-1] == "resumed from the checkpoint of epoch 1"
    assert resumed.run.records.values == reference.run.records.values and _pseudo_labels(resumed) == _pseudo_labels(reference)
    assert state.keys() == reference_state.keys()
    assert all(torch.equal(state[key], reference_state[key]) for key in reference_state)


def test_killed_run_resumes_to_the_same_accuracy(sweep_home: Path, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_run(registry, "target_oracle", PAIR, 0, sets=(*TINY, "epochs=3"))
    uninterrupted = execute(plan, registry, "cpu", force=True)
    folder = results.run_dir(plan.run_id)
    with monkeypatch.context() as patch:
        _kill_after(patch, 1)
        with pytest.raises(Killed):
            execute(plan, registry, "cpu", force=True)
    assert (folder / "checkpoint.pt").exists() and not (folder / "done").exists()
    resumed = execute(plan, registry, "cpu")
    assert "resumed from the checkpoint of epoch 1" in (folder / "log.txt").read_text()
    assert resumed["accuracy"] == uninterrupted["accuracy"] and resumed["confusion"] == uninterrupted["confusion"]
    assert resumed["method_records"] == uninterrupted["method_records"]
    assert not (folder / "checkpoint.pt").exists() and results.read_done(folder) == resumed


def test_same_run_twice_gives_the_same_accuracy_and_records_gpu_factors(sweep_home: Path, registry) -> None:
    plan = plan_run(registry, "target_oracle", PAIR, 1, sets=(*TINY, "epochs=2"))
    first = execute(plan, registry, "cpu", force=True)
    second = execute(plan, registry, "cpu", force=True)
    assert first["accuracy"] == second["accuracy"] and first["confusion"] == second["confusion"]
    assert first["method_records"] == second["method_records"]
    determinism = second["determinism"]
    for key in ("cudnn_deterministic", "cudnn_benchmark", "tf32_matmul", "tf32_cudnn", "float32_matmul_precision",
                "deterministic_algorithms", "torch", "cuda", "cudnn", "gpu"):
        assert key in determinism
    assert determinism["torch"] == torch.__version__ and determinism["gpu"] is None
