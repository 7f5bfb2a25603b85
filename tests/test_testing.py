"""dabench.testing: every built-in method, dataset and validator conforms; broken plugins are caught
with messages that say what to fix."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
import torch

from dabench.host.registry import build_registry, default_host
from dabench.methods import Method, NoHparams
from dabench.testing import ConformanceError, check_dataset, check_method, check_registration, check_validator

BUILTINS = build_registry(default_host())
# only what a method needs beyond tiny_hparams (epochs=1, batch_size<=32) to run on 96 images
TINY = {"cluster_pl": {"prototypes": 8, "kmeans_iterations": 5}}


@pytest.mark.parametrize("method_id", sorted(BUILTINS.methods))
def test_builtin_method_conforms(method_id: str) -> None:
    method_cls = BUILTINS.methods[method_id]
    report = check_method(method_cls, TINY.get(method_id))
    assert report.method == method_id and 0.0 <= report.accuracy <= 1.0
    # every built-in with an epochs hyperparameter was run with one epoch more, and it mattered
    assert report.epochs_checked == ("epochs" in method_cls.hparam_defaults())


@pytest.mark.parametrize("dataset_id", sorted(BUILTINS.datasets))
def test_builtin_dataset_conforms(dataset_id: str) -> None:
    dataset = BUILTINS.datasets[dataset_id]
    sizes = check_dataset(dataset, options={"n_train": 20, "n_test": 10} if dataset.generated else None)
    assert sizes == ({"train": 20, "test": 10} if dataset.generated else {})


@pytest.mark.parametrize("validator_id", sorted(BUILTINS.validators))
def test_builtin_validator_conforms(validator_id: str) -> None:
    check_validator(BUILTINS.validators[validator_id])


@dataclass(frozen=True)
class NoHelp:
    epochs: int = field(default=1, metadata={})


@dataclass(frozen=True)
class Clashing:
    backbone: str = field(default="x", metadata={"help": "clashes with the run key"})


@dataclass
class NotFrozen:
    lr: float = field(default=0.1, metadata={"help": "learning rate"})


def _method(method_id: str, hparams: type, adapt=lambda self, model, target, ctx: model) -> type:
    return type("Broken", (Method,), {"id": method_id, "Hparams": hparams, "adapt": adapt})


@pytest.mark.parametrize(("method_id", "hparams", "message"), [
    ("BadId", NoHelp, "Broken.id 'BadId' must be lower_snake"),
    ("ok_id", NoHelp, "Broken.Hparams.epochs has no help"),
    ("ok_id", Clashing, "Broken.Hparams field(s) backbone clash with run settings"),
    ("ok_id", NotFrozen, "Broken.Hparams must be a @dataclass(frozen=True)"),
])
def test_bad_registration_is_explained(method_id: str, hparams: type, message: str) -> None:
    with pytest.raises(ConformanceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_registration(_method(method_id, hparams))


def test_a_method_that_takes_labels_is_refused() -> None:
    broken = _method("sneaky", NoHparams, adapt=lambda self, model, target, ctx, labels=None: model)
    with pytest.raises(ConformanceError, match=r"must take \(self, model, target, ctx\)"):
        check_registration(broken)


def test_nondeterminism_is_caught() -> None:
    def adapt(self, model, target, ctx):
        with torch.no_grad():  # noise from the OS: a different model every call, the global RNGs untouched
            model.classifier.parametrizations.weight.original1.add_(torch.randn(
                model.classifier.parametrizations.weight.original1.shape, generator=torch.Generator().manual_seed(
                    int.from_bytes(os.urandom(4)))) * 10)
        return model

    broken = _method("noisy", NoHparams, adapt)
    with pytest.raises(ConformanceError, match="noisy is not deterministic for a seed"):
        check_method(broken)


def test_reading_a_dataset_during_adapt_is_caught() -> None:
    def adapt(self, model, target, ctx):
        from dabench.data.pairs import prepare

        prepare(BUILTINS.datasets["synth-wild"], {"n_train": 10, "n_test": 10}, 16)  # where labels live
        return model

    broken = _method("peeking", NoHparams, adapt)
    with pytest.raises(ConformanceError, match=r"peeking reached for target labels during adapt\(\): prepare dataset "
                                               r"synth-wild \(then: build dataset synth-wild; open \S+_labels\.npy"):
        check_method(broken)
