"""Every registered method runs a few adaptation steps on tiny generated data through the runner."""

from __future__ import annotations

import pytest
import torch

from dabench.host import registry as registry_module
from dabench.models import ClassifierNet
from dabench.report.selection import LAST, ORACLE, select
from dabench.run.execute import execute, plan_run
from dabench.train.features import extract

TINY = ("data.target.n_train=200", "data.target.n_test=100", "data.source.n_train=200", "data.source.n_test=100",
        "source.epochs=1")


def _method_ids() -> list[str]:
    registry_module.reset()
    ids = sorted(registry_module.get_registry().methods)
    registry_module.reset()
    return ids


@pytest.mark.parametrize("method_id", _method_ids())
def test_method_adapts_tiny_data(method_id, registry):
    method_cls = registry.method(method_id)
    sets = TINY + (("epochs=1",) if "epochs" in method_cls.hparam_defaults() else ())
    plan = plan_run(registry, method_id, "synth-lab:synth-wild", seed=0, sets=sets)
    captured = {}
    original = method_cls.adapt if method_cls.source_free else method_cls.adapt_with_labels

    def spy(self, model, target, *rest):
        captured["model"] = original(self, model, target, *rest)
        captured["n"] = len(target)
        return captured["model"]

    attribute = "adapt" if method_cls.source_free else "adapt_with_labels"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(method_cls, attribute, spy)
        result = execute(plan, registry, device_name="cpu", force=True)
    model = captured["model"]
    assert isinstance(model, ClassifierNet)
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    features, logits = extract(model, images)
    assert features.shape == (5, 256) and logits.shape == (5, len(result["classes"]))
    assert 0.0 <= result["accuracy"] <= 1.0 and result["target_train_size"] == captured["n"]
    # no built-in reaches for labels by a route the watch knows (dabench.run.watch); the oracle is not watched
    assert result["label_access"] == ({"detected": False} if method_cls.source_free else
                                      {"detected": False, "watched": False})
    # the history ends with the model that was scored, so the best epoch is never below the last
    if result["history"]:
        assert (result["history"][-1]["accuracy"], result["history"][-1]["macro_f1"]) == \
            (result["accuracy"], result["macro_f1"])
        assert result["oracle_accuracy"] >= result["accuracy"]
    assert select(result, ORACLE, {})["accuracy"] >= select(result, LAST, {})["accuracy"]
