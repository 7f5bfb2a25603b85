"""SHOT: frozen classifier, per-epoch pseudo-labels recorded, hyperparameter checks."""

from __future__ import annotations

import pytest
import torch
from sfuda_tiny import tiny_context, tiny_model, tiny_target

from dabench_methods.shot import Shot, ShotHparams


def test_shot_freezes_the_classifier_and_records_labels_each_epoch():
    model = tiny_model()
    classifier = {name: p.detach().clone() for name, p in model.classifier.named_parameters()}
    backbone = [p.detach().clone() for p in model.backbone.parameters()]
    ctx = tiny_context()
    adapted = Shot(ShotHparams(epochs=2, batch_size=8)).adapt(model, tiny_target(n=40), ctx)
    for name, p in adapted.classifier.named_parameters():
        assert torch.equal(p, classifier[name]), name
    assert any(not torch.equal(a, b) for a, b in zip(adapted.backbone.parameters(), backbone))
    assert [entry["stage"] for entry in ctx.run.records.pseudo_labels] == ["epoch0", "epoch1"]
    assert torch.equal(ctx.run.records.pseudo_labels[0]["indices"], torch.arange(40))
    assert "pseudo_labels" in ctx.run.records.timings and "train" in ctx.run.records.timings


def test_shot_im_computes_no_labels():
    ctx = tiny_context()
    Shot(ShotHparams(epochs=1, batch_size=8, cls_par=0)).adapt(tiny_model(), tiny_target(), ctx)
    assert ctx.run.records.pseudo_labels == []


@pytest.mark.parametrize("kwargs, message", [
    ({"cls_par": -0.1}, "cls_par and ent_par must be >= 0"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"lr": 0}, "lr must be > 0"),
])
def test_shot_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShotHparams(**kwargs)
