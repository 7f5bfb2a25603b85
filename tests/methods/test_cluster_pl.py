"""cluster_pl (CluP): registration and alias, bad input refused before work, a tiny end-to-end
adaptation, init handling, and (slow) the accuracy gain over source_only on synth-lab:synth-wild."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dabench.errors import DabenchError
from dabench.methods import AdaptContext, RunLink, TargetImages
from dabench.models import Backbone, build_model
from dabench.run.execute import plan_run

PAIR = "synth-lab:synth-wild"


def test_registered_with_its_alias_and_paper_defaults(registry) -> None:
    method = registry.method("clup")
    assert method is registry.method("cluster_pl") and method.id == "cluster_pl"
    for pair, (prototypes, fraction) in {"afe:expw": (1000, 0.1), "afe:fer2013": (250, 0.1),
                                         "rafdb:expw": (250, 0.3), "rafdb:fer2013": (1000, 0.2)}.items():
        source, target = pair.split(":")
        assert method.overrides_for(source, target) == {"prototypes": prototypes, "fraction": fraction}
    assert method.Hparams().epochs == 50 and method.Hparams().lr == 0.1 and method.Hparams().batch_size == 32


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_fraction_outside_zero_one_is_refused(registry, fraction: float) -> None:
    with pytest.raises(DabenchError, match=r"fraction \(q\) must be in \(0, 1\]"):
        plan_run(registry, "cluster_pl", PAIR, sets=(f"fraction={fraction}",))


def test_init_defaults_to_ssl_and_every_adaptation_method_accepts_it(registry) -> None:
    assert plan_run(registry, "cluster_pl", PAIR).config["init"] == "ssl"
    assert plan_run(registry, "cluster_pl", PAIR, sets=("init=source",)).config["init"] == "source"
    assert plan_run(registry, "shot", PAIR).config["init"] == "source"
    for method in ("shot", "nrc", "aad", "tent", "adabn"):
        assert plan_run(registry, method, PAIR, sets=("init=ssl",)).config["init"] == "ssl"
    with pytest.raises(DabenchError, match=r"method 'source_only' does not support init='ssl' \(it supports: source\); "
                                           r"methods that do: aad, adabn, cluster_pl, nrc, shot, tent"):
        plan_run(registry, "source_only", PAIR, sets=("init=ssl",))


def test_backbone_without_ssl_support_is_refused_before_work(registry) -> None:
    @dataclasses.dataclass(frozen=True)
    class FixedBackbone(Backbone):
        supports_ssl: bool = False

    small = registry.backbone("small_cnn")
    registry.add("backbones", FixedBackbone("fixed_cnn", small.build, small.feature_dim, None), "test")
    with pytest.raises(DabenchError, match="backbone 'fixed_cnn' does not support self-supervised pretraining"):
        plan_run(registry, "cluster_pl", PAIR, backbone="fixed_cnn")
    plan_run(registry, "cluster_pl", PAIR, backbone="fixed_cnn", sets=("init=source",))  # fine without SSL
    with pytest.raises(DabenchError, match="backbone 'small_cnn' cannot take 8 px views for ssl"):
        plan_run(registry, "cluster_pl", PAIR, sets=("image_size=16",))


def _context(num_classes: int = 3, init: str = "scratch") -> AdaptContext:
    from dabench_backbones.small_cnn import build
    spec = Backbone("small_cnn", build, 128, None)
    return AdaptContext(device=torch.device("cpu"), seed=0, generator=torch.Generator().manual_seed(0),
                        class_names=tuple("abc"[:num_classes]), init=init,
                        run=RunLink(initial_model=lambda _: build_model(spec, num_classes)))


def _tiny_target(count: int) -> TargetImages:
    return TargetImages(torch.randint(0, 256, (count, 3, 16, 16), dtype=torch.uint8,
                                      generator=torch.Generator().manual_seed(0)))


def test_more_prototypes_than_images_is_refused_at_the_start_of_adapt(registry) -> None:
    method_cls = registry.method("cluster_pl")
    ctx = _context()
    source = ctx.initial_model("scratch")
    with pytest.raises(DabenchError, match="prototypes=100 exceeds the 50 target train images"):
        method_cls(method_cls.Hparams(prototypes=100)).adapt(source, _tiny_target(50), ctx)
    assert not ctx.run.records.timings  # nothing ran


def test_tiny_adaptation_records_clusters_and_pseudo_labels(registry) -> None:
    method_cls = registry.method("cluster_pl")
    ctx = _context()
    epochs = []
    ctx.run.on_epoch_end = lambda model, epoch: epochs.append(epoch)
    hp = method_cls.Hparams(prototypes=8, fraction=0.5, epochs=2, batch_size=8, iter_clusters=2, soft_labels=True)
    model = method_cls(hp).adapt(ctx.initial_model("scratch"), _tiny_target(64), ctx)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 3)
    assert epochs == [0, 1]
    (entry,) = ctx.run.records.pseudo_labels
    assert entry["stage"] == "clusters" and len(entry["indices"]) == ctx.run.records.values["kept"] > 0
    assert len(torch.unique(entry["indices"])) == len(entry["indices"])
    assert [r["clusters"] for r in ctx.run.records.values["clustering_rounds"]] == [8, 8]
    assert sum(ctx.run.records.values["kept_per_class"]) == ctx.run.records.values["kept"]


def test_wild_pairs_take_their_stated_defaults(registry) -> None:
    method = registry.method("cluster_pl")
    assert method.overrides_for("expw", "fer2013") == {"prototypes": 1000, "fraction": 0.2}
    assert method.overrides_for("fer2013", "expw") == {"prototypes": 150, "fraction": 0.3}


def test_unknown_confidence_rule_is_refused_at_plan_time(registry) -> None:
    with pytest.raises(DabenchError) as raised:
        plan_run(registry, "cluster_pl", PAIR, sets=("confidence=max",))
    assert str(raised.value) == ("bad hyperparameters for method 'cluster_pl': confidence must be one of purity, "
                                 "softmax, purity_softmax, got 'max'")


@pytest.mark.parametrize("rule", ["softmax", "purity_softmax"])
def test_confidence_rules_run_end_to_end(rule: str, registry) -> None:
    method_cls = registry.method("cluster_pl")
    ctx = _context()
    hp = method_cls.Hparams(prototypes=8, fraction=0.5, epochs=1, batch_size=8, confidence=rule)
    method_cls(hp).adapt(ctx.initial_model("scratch"), _tiny_target(64), ctx)
    (entry,) = ctx.run.records.pseudo_labels
    assert 0 < len(entry["indices"]) == ctx.run.records.values["kept"]


def test_student_augmentation_is_the_references_by_default(registry) -> None:
    from dabench.train.batches import augment, augment_reference
    from dabench_methods.cluster_pl.method import AUGMENTATIONS

    assert registry.method("cluster_pl").Hparams().augment == "reference"
    assert AUGMENTATIONS == {"reference": augment_reference, "light": augment, "none": None}
    with pytest.raises(DabenchError) as raised:
        plan_run(registry, "cluster_pl", PAIR, sets=("augment=heavy",))
    assert str(raised.value) == ("bad hyperparameters for method 'cluster_pl': augment must be one of reference, "
                                 "light, none, got 'heavy'")
