"""The method contract: what a method receives holds no target labels; baselines behave."""

from __future__ import annotations

import dataclasses

import torch

from dabench.methods import AdaptContext, Method, TargetImages
from dabench.runner import execute, plan_run

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


def test_target_oracle_is_flagged_not_source_free(registry) -> None:
    oracle = execute(plan_run(registry, "target_oracle", "synth-lab:synth-wild", sets=(*SMALL, "epochs=3")),
                     registry, "cpu")
    assert oracle["source_free"] is False
    only = execute(plan_run(registry, "source_only", "synth-lab:synth-wild", sets=SMALL), registry, "cpu")
    assert only["source_free"] is True and only["accuracy"] == only["source_accuracy"]
