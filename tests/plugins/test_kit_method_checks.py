"""The method kit (dabench.testing.check_method) catches a method that draws from (or depends on) a global random
generator, naming the call and its line, and one that ignores its ``epochs`` setting; a method that draws only from
ctx.generator (dropout and new layers included) and uses its epochs passes."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from dabench.methods import Method
from dabench.testing import ConformanceError, check_method
from dabench.train.batches import to_float
from dabench.train.loop import LossStep, Schedule

ADVICE = ("Its draws then depend on whatever drew before it in the process (the runner, another plugin, a cached or "
          "a freshly trained source model), not on the run's seed alone. Draw from ctx.generator (torch.randperm(n, "
          "generator=ctx.generator), torch.nn.init.normal_(w, generator=ctx.generator)); for what takes no generator "
          "(dropout, building a module), fork the global RNG from it: with torch.random.fork_rng(): "
          "torch.manual_seed(int(torch.randint(2**62, (1,), generator=ctx.generator))); ...")
TORCH, NUMPY, PYTHON = "torch's global RNG", "NumPy's global RNG (np.random.*)", "Python's random module"


@dataclass(frozen=True)
class EpochHparams:
    epochs: int = field(default=3, metadata={"help": "passes over the target images"})
    batch_size: int = field(default=32, metadata={"help": "batch size"})
    lr: float = field(default=1e-2, metadata={"help": "SGD learning rate"})


def _entropy(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    probs = model(batch.images).softmax(1)
    return -(probs * probs.clamp_min(1e-8).log()).sum(1).mean()


def train(model: torch.nn.Module, target: Any, ctx: Any, epochs: int, batch_size: int = 32,
          loss: Callable = _entropy) -> None:
    """Entropy minimisation of the head through ctx.fit: ``epochs`` reported epochs that move the weights."""
    optimizer = torch.optim.SGD(model.classifier.parameters(), lr=1e-2)
    ctx.fit(model, target.images, optimizer, LossStep(loss), Schedule(epochs, batch_size))


def method(method_id: str, adapt: Callable, hparams: type = EpochHparams) -> type[Method]:
    return type(f"M_{method_id}", (Method,), {"id": method_id, "Hparams": hparams, "adapt": adapt})


def well_behaved(self, model, target, ctx):
    """Every random thing from ctx.generator: a permutation, an init, and dropout and a new layer in a global RNG
    forked and seeded from it; then its epochs through ctx.fit."""
    order = torch.randperm(len(target), generator=ctx.generator)
    head = torch.empty(7)
    torch.nn.init.normal_(head, std=0.01, generator=ctx.generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=ctx.generator)))
        extra = torch.nn.Linear(7, 7)
        kept = torch.nn.functional.dropout(torch.ones(len(order)), 0.5, training=True)
    with torch.no_grad():
        model.classifier.bias.add_(head + 0 * extra.bias + 0 * kept.sum())
    train(model, target, ctx, self.hparams.epochs)
    return model


def test_a_well_behaved_method_passes() -> None:
    report = check_method(method("well_behaved", well_behaved))
    assert report.epochs_checked and report.epochs_reported == [0]


# --------------------------------------------------------------------------------------- global RNG routes
# each route draws on the line after its ``def``: the message names that line
def draw_rand():
    torch.rand(3)


def draw_randn_like():
    torch.randn_like(torch.zeros(3))


def draw_randperm():
    torch.randperm(10)


def draw_randint():
    torch.randint(0, 5, (3,))


def draw_normal_():
    torch.zeros(3).normal_()


def draw_random_():
    torch.zeros(3).random_()


def draw_bernoulli():
    torch.bernoulli(torch.full((8,), 0.5))


def draw_multinomial():
    torch.multinomial(torch.ones(5), 2)


def draw_init():
    torch.nn.init.kaiming_normal_(torch.empty(4, 4))


def draw_new_layer():
    torch.nn.Linear(4, 4)


def draw_dropout():
    torch.nn.functional.dropout(torch.ones(8), 0.5, training=True)


def draw_dropout_module():
    torch.nn.Dropout(0.5).train()(torch.ones(8))


def draw_dataloader():
    list(torch.utils.data.DataLoader(list(range(4))))


def draw_numpy():
    np.random.permutation(10)


def draw_python():
    random.shuffle([1, 2, 3])


def reseed_torch():
    torch.manual_seed(123)


def _where(route: Callable) -> str:
    return f"{route.__code__.co_filename}:{route.__code__.co_firstlineno + 1}"


@pytest.mark.parametrize(("route", "generators", "call"), [
    (draw_rand, TORCH, "torch.rand"),
    (draw_randn_like, TORCH, "torch.randn_like"),
    (draw_randperm, TORCH, "torch.randperm"),
    (draw_randint, TORCH, "torch.randint"),
    (draw_normal_, TORCH, "Tensor.normal_"),
    (draw_random_, TORCH, "Tensor.random_"),
    (draw_bernoulli, TORCH, "torch.bernoulli"),
    (draw_multinomial, TORCH, "torch.multinomial"),
    (draw_init, TORCH, "Tensor.normal_"),  # kaiming_normal_ is plain Python around it
    (draw_new_layer, TORCH, "torch.nn.init.kaiming_uniform_"),  # nn.Linear's reset_parameters
    (draw_dropout, TORCH, "torch.nn.functional.dropout"),
    (draw_dropout_module, TORCH, "torch.nn.functional.dropout"),
    (draw_dataloader, TORCH, "Tensor.random_"),  # its iterator's base seed, even unshuffled
    (draw_numpy, NUMPY, None),
    (draw_python, PYTHON, None),
    (reseed_torch, TORCH, None),
])
def test_each_route_to_a_global_rng_is_caught_and_named(route: Callable, generators: str, call: str | None) -> None:
    def adapt(self, model, target, ctx):
        route()
        return model

    where = f" (first: {call} at {_where(route)})" if call else ""
    with pytest.raises(ConformanceError) as failed:
        check_method(method("global_draw", adapt))
    assert str(failed.value) == f"global_draw drew from (or reseeded) {generators} during adapt(){where}. {ADVICE}"


def test_several_global_rngs_are_named_together() -> None:
    def adapt(self, model, target, ctx):
        draw_numpy()
        draw_rand()
        draw_python()
        return model

    with pytest.raises(ConformanceError) as failed:
        check_method(method("three_draws", adapt))
    assert str(failed.value) == (f"three_draws drew from (or reseeded) {TORCH} and {NUMPY} and {PYTHON} during "
                                 f"adapt() (first: torch.rand at {_where(draw_rand)}). {ADVICE}")


def dropout_loss(model, batch):
    return _entropy(model, batch) + torch.nn.functional.dropout(model(batch.images), 0.1).mean() * 0


def test_dropout_inside_the_training_loop_is_named_at_its_line() -> None:
    def adapt(self, model, target, ctx):
        train(model, target, ctx, self.hparams.epochs, loss=dropout_loss)
        return model

    with pytest.raises(ConformanceError) as failed:
        check_method(method("dropout_step", adapt))
    assert str(failed.value) == (f"dropout_step drew from (or reseeded) {TORCH} during adapt() (first: "
                                 f"torch.nn.functional.dropout at {_where(dropout_loss)}). {ADVICE}")


# ------------------------------------------------------------------ reading the global state without drawing
def _noisy_bias(model: torch.nn.Module, noise: torch.Tensor) -> None:
    with torch.no_grad():
        model.classifier.bias.add_(10 * noise.to(model.classifier.bias.dtype))


def forked_unseeded(self, model, target, ctx):
    with torch.random.fork_rng(devices=[]):  # restores the state: nothing moved, but the draws are the global's
        _noisy_bias(model, torch.randn(7))
    return model


def from_initial_seed(self, model, target, ctx):
    _noisy_bias(model, torch.randn(7, generator=torch.Generator().manual_seed(torch.initial_seed())))
    return model


def numpy_restored(self, model, target, ctx):
    state = np.random.get_state()
    _noisy_bias(model, torch.from_numpy(np.random.randn(7)))
    np.random.set_state(state)
    return model


@pytest.mark.parametrize("adapt", [forked_unseeded, from_initial_seed, numpy_restored])
def test_a_result_that_follows_the_global_state_is_caught(adapt: Callable) -> None:
    with pytest.raises(ConformanceError) as failed:
        check_method(method("global_state", adapt))
    assert re.fullmatch(
        r"global_state depends on the global RNG state it starts from: with the same ctx.generator seed 0, a run whose "
        r"torch, NumPy and Python global RNGs were seeded otherwise disagrees on [1-9]\d*/64 predictions \(a run from "
        r"the same global state agrees\). It reads global randomness without drawing from it \(e\.g\. draws inside "
        r"torch\.random\.fork_rng\(\) that is not seeded from ctx\.generator, or torch\.initial_seed\(\)\); seed every "
        r"random thing from ctx\.generator", str(failed.value)), str(failed.value)


def test_nondeterminism_is_still_told_apart() -> None:
    def adapt(self, model, target, ctx):  # fresh entropy each call: no global state involved
        _noisy_bias(model, torch.randn(7, generator=torch.Generator().manual_seed(int.from_bytes(os.urandom(4)))))
        return model

    with pytest.raises(ConformanceError) as failed:
        check_method(method("urandom", adapt))
    assert re.fullmatch(r"urandom is not deterministic for a seed: two runs with seed 0 disagree on [1-9]\d*/64 "
                        r"predictions; draw randomness from ctx\.generator", str(failed.value)), str(failed.value)


# ------------------------------------------------------------------------------------------- epochs
def ignoring(message: str, n: int, first: int = 1) -> str:
    return (f"{message} ignores its epochs setting: with epochs={first} and epochs={first + 1} it reported the same {n} "
            f"epoch(s) through ctx and returned identical weights. Users sweep and record epochs, so it must act: pass "
            f"self.hparams.epochs to ctx.fit(..., Schedule(epochs=...)) or loop over it calling ctx.end_epoch(model, "
            f"epoch); a field the method does not use does not belong in its Hparams")


def fixed_schedule(self, model, target, ctx):
    train(model, target, ctx, 1)
    return model


def clamped(self, model, target, ctx):
    train(model, target, ctx, min(self.hparams.epochs, 1))
    return model


def untouched(self, model, target, ctx):
    return model


def only_logged(self, model, target, ctx):
    ctx.log(f"adapting for {self.hparams.epochs} epochs")
    return model


def fixed_steps_unreported(self, model, target, ctx):
    optimizer = torch.optim.SGD(model.classifier.parameters(), lr=1e-2)
    for _ in range(3):
        loss = _entropy(model, type("B", (), {"images": to_float(target.images[:32])}))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def fixed_reports(self, model, target, ctx):
    for epoch in range(2):
        ctx.end_epoch(model, epoch)
    return model


@pytest.mark.parametrize(("adapt", "reported"), [
    (fixed_schedule, 1), (clamped, 1), (untouched, 0), (only_logged, 0), (fixed_steps_unreported, 0),
    (fixed_reports, 2),
])
def test_a_method_ignoring_its_epochs_is_caught(adapt: Callable, reported: int) -> None:
    with pytest.raises(ConformanceError) as failed:
        check_method(method("no_epochs", adapt))
    assert str(failed.value) == ignoring("no_epochs", reported)


def test_the_epochs_a_user_passes_are_the_ones_compared() -> None:
    with pytest.raises(ConformanceError) as failed:
        check_method(method("no_epochs", fixed_schedule), {"epochs": 3})
    assert str(failed.value) == ignoring("no_epochs", 1, first=3)


def trained_unreported(self, model, target, ctx):
    optimizer = torch.optim.SGD(model.classifier.parameters(), lr=1e-2)
    for _ in range(self.hparams.epochs):
        loss = _entropy(model, type("B", (), {"images": to_float(target.images[:32])}))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def reported_only(self, model, target, ctx):
    for epoch in range(self.hparams.epochs):
        ctx.end_epoch(model, epoch)
    return model


@pytest.mark.parametrize(("adapt", "reported"), [(well_behaved, [0]), (trained_unreported, []), (reported_only, [0])])
def test_a_method_using_its_epochs_passes(adapt: Callable, reported: list[int]) -> None:
    report = check_method(method("uses_epochs", adapt))
    assert report.epochs_checked and report.epochs_reported == reported


def test_a_method_without_epochs_is_not_asked() -> None:
    from dabench.methods import NoHparams

    report = check_method(method("no_hparams", untouched, NoHparams))
    assert not report.epochs_checked and report.epochs_reported == []


def test_hparams_refusing_another_epoch_count_are_explained() -> None:
    @dataclass(frozen=True)
    class OneEpoch:
        epochs: int = field(default=1, metadata={"help": "must be 1"})

        def __post_init__(self) -> None:
            if self.epochs != 1:
                raise ValueError(f"epochs must be 1, got {self.epochs}")

    with pytest.raises(ConformanceError) as failed:
        check_method(method("one_epoch", untouched, OneEpoch))
    assert str(failed.value) == ("one_epoch.Hparams refuses epochs=2 (epochs must be 1, got 2); the kit runs epochs=1 "
                                 "and 2 to see that the setting is used")
