"""The method contract: what a method receives holds no target labels; baselines behave."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.run.execute import execute, plan_run

SMALL = ("data.source.n_train=200", "data.source.n_test=50", "data.target.n_train=150", "data.target.n_test=60",
         "source.epochs=1")
SEEN: dict[str, object] = {}


class Probe(Method):
    """Records what it was handed."""

    id = "probe"

    def adapt(self, model, target, ctx):
        SEEN.update(target=target, ctx=ctx)
        return model


def test_source_free_method_gets_images_only(registry) -> None:
    registry.add("methods", Probe, "test")
    plan = plan_run(registry, "probe", "synth-lab:synth-wild", sets=SMALL)
    execute(plan, registry, "cpu")
    target, ctx = SEEN["target"], SEEN["ctx"]
    assert [f.name for f in dataclasses.fields(TargetImages)] == ["images"]
    assert type(target) is TargetImages and target.images.dtype == torch.uint8 and len(target) == 150
    # the context carries no tensor at all (labels could only hide in one)
    for f in dataclasses.fields(AdaptContext):
        value = getattr(ctx, f.name)
        assert not isinstance(value, torch.Tensor), f.name
    assert ctx.class_names == ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
    # nothing reachable through public attributes, however deep, is an array of per-image labels
    assert not _label_like(target, ctx, n=len(target))
    assert _label_like({"planted": [torch.zeros(150, dtype=torch.long)]}, n=150) == ["dict['planted'][0]"]  # it looks


def _label_like(*roots: object, n: int) -> list[str]:
    """Paths to integer arrays of length n reachable from ``roots`` through public attributes and containers."""
    found, seen, stack = [], set(), [(root, type(root).__name__) for root in roots]
    while stack:
        value, where = stack.pop()
        if id(value) in seen or isinstance(value, (str, bytes, int, float, bool, type(None), torch.device)):
            continue
        seen.add(id(value))
        if isinstance(value, (torch.Tensor, np.ndarray)):
            integer = not torch.is_floating_point(value) if isinstance(value, torch.Tensor) else value.dtype.kind in "iu"
            if integer and value.ndim == 1 and len(value) == n:
                found.append(where)
            continue
        if isinstance(value, dict):
            stack += [(item, f"{where}[{key!r}]") for key, item in value.items()]
        elif isinstance(value, (list, tuple, set)):
            stack += [(item, f"{where}[{i}]") for i, item in enumerate(value)]
        elif hasattr(value, "__dict__") and not isinstance(value, (torch.nn.Module, torch.Generator)):
            stack += [(item, f"{where}.{name}") for name, item in vars(value).items() if not name.startswith("_")]
    return found


def test_target_oracle_is_flagged_not_source_free(registry) -> None:
    oracle = execute(plan_run(registry, "target_oracle", "synth-lab:synth-wild", sets=(*SMALL, "epochs=3")),
                     registry, "cpu")
    assert oracle["source_free"] is False
    assert oracle["label_access"] == {"detected": False, "watched": False}  # handed labels on purpose
    only = execute(plan_run(registry, "source_only", "synth-lab:synth-wild", sets=SMALL), registry, "cpu")
    assert only["source_free"] is True and only["accuracy"] == only["source_accuracy"]
    assert only["label_access"] == {"detected": False}
