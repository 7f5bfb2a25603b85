"""A plugin that breaks its contract while `dabench run` uses it (a method's adapt returning what is not a
network or raising anywhere in its code, a dataset's build raising or returning something else, a validator
raising) gets one message naming the plugin and its line, exit 2, no traceback; the run's folder keeps the
traceback in error.txt. The faults are generated: each kind of return value and each exception type."""

from __future__ import annotations

import itertools

import pytest
import torch

from dabench.cli import main
from dabench.data import Dataset
from dabench.methods import Method
from dabench.store import paths

SMALL = ["--set", "data.source.n_train=120", "--set", "data.source.n_test=40", "--set", "data.target.n_train=60",
         "--set", "data.target.n_test=30", "--set", "source.epochs=1"]
RETURNS = [None, 0, "model", [torch.nn.Linear(2, 2)], torch.nn.Linear(2, 2), {"model": None}]
RAISES = [ValueError("bad shape"), KeyError("bank"), RuntimeError("CUDA error: device-side assert"),
          ZeroDivisionError("division by zero"), AttributeError("'NoneType' object has no attribute 'grad'")]


def _method(returned=None, raised: Exception | None = None, kind: str = "ret") -> type[Method]:
    class Broken(Method):
        id = f"broken_{kind}"

        def adapt(self, model, target, ctx):
            if raised is not None:
                _deep_helper(raised)
            return returned

    return Broken


def _deep_helper(exc: Exception) -> None:
    raise exc  # the line the message must name: the plugin's own, not dabench's


def _run(method: str, pair: str = "synth-lab:synth-wild", extra: tuple[str, ...] = ()) -> list[str]:
    return ["run", "--method", method, "--pair", pair, "--device", "cpu", *SMALL, *extra]


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("dabench: error:")]
    assert "Traceback" not in err and len(errors) == 1, err
    return errors[0] + "\n"


def test_adapt_returning_anything_but_a_network_is_one_message(registry, capsys) -> None:
    for index, returned in enumerate(RETURNS):
        method = _method(returned, kind=f"ret{index}")
        registry.add("methods", method, "test")
        err = _error(capsys, _run(method.id))
        assert err == (f"dabench: error: method '{method.id}' ({__name__}._method.<locals>.Broken) returned "
                       f"{type(returned).__name__} from adapt(); it must return the adapted network, a "
                       "dabench.models.ClassifierNet (`return model` at the end of adapt)\n")


def test_adapt_raising_names_the_plugin_line_and_keeps_the_traceback(registry, capsys) -> None:
    line = _deep_helper.__code__.co_firstlineno + 1
    for index, raised in enumerate(RAISES):
        method = _method(raised=raised, kind=f"raise{index}")
        registry.add("methods", method, "test")
        err = _error(capsys, _run(method.id))
        assert err.startswith(f"dabench: error: method '{method.id}' raised {type(raised).__name__}: {raised} "
                              f"(at {__file__}:{line} in _deep_helper); this is a bug in the method's code"), err
        (folder,) = [f for f in paths.runs_dir().iterdir() if (f / "config.yaml").exists()
                     and method.id in (f / "config.yaml").read_text()]
        assert f"{type(raised).__name__}: {raised}" in (folder / "error.txt").read_text()


class _BrokenData(Dataset):
    id = "broken_data"
    classes = ("happiness", "sadness")
    generated = True
    behaviour: object = None

    def build(self, folder, options):
        if isinstance(self.behaviour, Exception):
            raise self.behaviour
        return self.behaviour


def test_a_dataset_build_raising_or_returning_junk_is_one_message(registry, capsys) -> None:
    dataset = _BrokenData()
    registry.add("datasets", dataset, "test")
    for behaviour in itertools.chain(RAISES[:3], [None, {"train": "images"}]):
        dataset.behaviour = behaviour
        dataset.version = str(id(behaviour))  # a new cache key each time: build runs again
        err = _error(capsys, ["run", "--method", "source_only", "--pair", "broken_data:synth-wild", "--device", "cpu"])
        if isinstance(behaviour, Exception):
            assert err.startswith(f"dabench: error: dataset 'broken_data' raised {type(behaviour).__name__}: "), err
            assert f"{__file__}:" in err
        else:
            assert err == (f"dabench: error: dataset 'broken_data' ({__name__}) returned {type(behaviour).__name__} "
                           "from build(); it must return {split name: dabench.data.Split(images, labels)}\n")


def test_a_validator_raising_is_one_message(registry, capsys) -> None:
    class Exploding:
        id = "exploding"

        def score(self, features, logits):
            _deep_helper(OverflowError("too big"))

    registry.add("validators", Exploding(), "test")
    err = _error(capsys, _run("source_only"))
    assert err.startswith("dabench: error: validator 'exploding' raised OverflowError: too big (at "), err


def test_running_out_of_memory_is_not_blamed_on_the_plugin() -> None:
    from dabench.errors import blame_plugin

    class OutOfMemoryError(RuntimeError):  # torch.OutOfMemoryError's name and base, without a GPU
        pass

    for exhausted in (MemoryError(), OutOfMemoryError("CUDA out of memory")):
        with pytest.raises(type(exhausted)):
            with blame_plugin("method", "shot", _method):
                raise exhausted
