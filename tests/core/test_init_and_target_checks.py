"""init=ssl for methods that adapt the network they are handed (the SSL backbone taught the source
model's predictions), and target-size checks that refuse a run before any source model is trained."""

from __future__ import annotations

import pytest
import torch

from dabench.errors import DabenchError
from dabench.methods import AdaptContext
from dabench.models import build_model
from dabench.run import source_model as source_module
from dabench.run.execute import execute, plan_run
from dabench.train.distil import DistilRecipe, distil_source
from dabench.train.features import predict
from dabench.train.loop import Session
from dabench.train.supervised import SupervisedRecipe, train_supervised

PAIR = "synth-lab:synth-wild"
TINY = ("data.target.n_train=200", "data.target.n_test=100", "data.source.n_train=200", "data.source.n_test=100",
        "source.epochs=1")
TINY_SSL = ("ssl.epochs=1", "ssl.batch_size=64", "ssl.prototypes=20", "ssl.hidden_dim=64", "ssl.warmup_epochs=0",
            "distil.epochs=2")


def test_distillation_teaches_the_student_the_teachers_predictions(registry) -> None:
    # a teacher that tells dark, grey and bright images apart; the student never sees which is which
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(240) % 3
    levels = torch.tensor([40.0, 128.0, 215.0])[labels]
    images = (levels[:, None, None, None] + 20 * torch.randn(240, 1, 16, 16, generator=generator)).clamp(0, 255)
    images = images.to(torch.uint8)
    backbone = registry.backbone("small_cnn")
    torch.manual_seed(0)
    teacher, student = build_model(backbone, 3), build_model(backbone, 3)
    train_supervised(teacher, images, labels, SupervisedRecipe(epochs=4, batch_size=32, lr=0.05, val_fraction=0),
                     Session(torch.Generator().manual_seed(1), torch.device("cpu")))
    assert (predict(teacher, images) == labels).float().mean() > 0.9
    ctx = AdaptContext(device=torch.device("cpu"), seed=0, generator=torch.Generator().manual_seed(0),
                       class_names=tuple("abc"))
    before = (predict(student, images) == predict(teacher, images)).float().mean().item()
    losses = distil_source(student, teacher, images, DistilRecipe(epochs=4, batch_size=32, lr=0.05), ctx)
    after = (predict(student, images) == predict(teacher, images)).float().mean().item()
    assert losses[-1] < losses[0]
    assert after >= 0.9 and after > before + 0.3, (before, after)


def test_init_ssl_runs_shot_from_the_distilled_ssl_network(registry) -> None:
    plan = plan_run(registry, "shot", PAIR, sets=TINY + TINY_SSL + ("epochs=1", "init=ssl"))
    assert plan.config["init"] == "ssl" and "distil.epochs=2, epochs=1, init=ssl" in plan.config["variant"]
    result = execute(plan, registry, device_name="cpu", force=True)
    records = result["method_records"]
    assert len(records["distil_epoch_loss"]) == 2 and 0.0 <= records["distil_agreement"] <= 1.0
    assert {"method.initial_model", "method.distil"} <= set(result["timings"])
    assert len(result["history"]) == 1  # the distillation's epochs are not the method's
    source_run = execute(plan_run(registry, "shot", PAIR, sets=TINY + ("epochs=1",)), registry, device_name="cpu")
    assert "distil_agreement" not in source_run["method_records"]
    assert source_run["source_model"]["sha256"] == result["source_model"]["sha256"]  # one source model for both


def test_a_setting_at_its_default_is_the_same_run(registry) -> None:
    plain = plan_run(registry, "shot", PAIR)
    restated = plan_run(registry, "shot", PAIR, backbone="small_cnn", sets=("epochs=15", "image_size=32", "init=source"))
    assert restated.run_id == plain.run_id and restated.config["variant"] == ""
    assert plan_run(registry, "shot", PAIR, sets=("epochs=14",)).config["variant"] == "epochs=14"


@pytest.mark.parametrize("method, sets, message", [
    ("nrc", ("K=250",), "method 'nrc' searches 250 nearest neighbours per image but the target train set has only "
                        "200 images; use a larger target set or fewer neighbours (e.g. --set K=199)"),
    ("aad", ("K=200",), "method 'aad' searches 200 nearest neighbours per image"),
    ("cluster_pl", ("prototypes=201", "init=source"), "cluster_pl: prototypes=201 exceeds the 200 target train images; "
                                                      "use --set prototypes=N with N <= 200"),
])
def test_target_too_small_for_the_hyperparameters_fails_before_source_training(
        method: str, sets: tuple[str, ...], message: str, registry, fresh_home, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_source_training(*args, **kwargs):
        raise AssertionError("the source model was trained before the target-size check")

    monkeypatch.setattr(source_module, "train_supervised", no_source_training)
    plan = plan_run(registry, method, PAIR, sets=TINY + sets)
    with pytest.raises(DabenchError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        execute(plan, registry, device_name="cpu")
    assert not any((fresh_home / "runs").iterdir())  # nothing half-written
