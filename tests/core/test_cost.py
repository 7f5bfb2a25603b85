"""`--dry-run` costs: image passes per stage on the generated pair (hand-computed), the sweep's totals with
cached stages counted once, the H200 profile's estimate formula, and what is unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.run import cost, estimate
from dabench.run.plan import plan_run

PAIR = "synth-lab:synth-wild"  # 3000 train / 1000 test images a side, 7 classes


def _stages(registry, method: str, sets: tuple[str, ...] = (), backbone: str | None = None) -> dict[str, cost.Stage]:
    return {stage.name: stage for stage in cost.run_stages(plan_run(registry, method, PAIR, 0, backbone, sets=sets),
                                                           registry)}


def test_source_training_passes(registry) -> None:
    # 3000 train, 300 held out (val_fraction 0.1), 2700 // 64 = 42 batches = 2688 images, 15 epochs
    source = _stages(registry, "source_only")["source training"]
    assert source.train_passes == 15 * 2688 == 40_320
    assert source.infer_passes == 15 * 300 + 1000  # the held-out check each epoch, then the source test split
    assert source.steps == 15 * 42 and source.exact


def test_shot_adaptation_and_evaluation_passes(registry) -> None:
    stages = _stages(registry, "shot")
    # 3000 // 64 = 46 batches = 2944 images an epoch, 15 epochs; SHOT labels all 3000 before each epoch
    assert stages["adaptation"].train_passes == 15 * 2944 == 44_160
    assert stages["adaptation"].infer_passes == 15 * 3000
    assert stages["adaptation"].exact
    # target test (1000) for the source model, 15 epochs and the end; validators on 2000 of 3000, 16 times
    assert stages["evaluation"].infer_passes == 17 * 1000 + 16 * 2000
    assert "SSL pretraining" not in stages and "distillation" not in stages


def test_cluster_pl_ssl_and_adaptation_passes(registry) -> None:
    stages = _stages(registry, "cluster_pl")
    # synth-wild's SwAV: 20 epochs, batch 128 (3000 // 128 = 23 batches = 2944 images), 2 large + 2 small crops
    ssl = stages["SSL pretraining"]
    assert ssl.train_passes == 20 * 2944 * 4 == 235_520
    assert ssl.full_size_passes == 20 * 2944 * (2 + 2 * 0.5 ** 2)  # 16 px small crops of 32 px images
    # q = 0.3 keeps at most int(0.3 * 3000) = 900; 900 // 32 = 28 batches = 896 images, 50 epochs: an upper bound
    adaptation = stages["adaptation"]
    assert adaptation.train_passes == 50 * 896 == 44_800 and not adaptation.exact
    assert adaptation.infer_passes == 3000  # the source model labels the target once


def test_distillation_passes_under_init_ssl(registry) -> None:
    distil = _stages(registry, "shot", ("init=ssl",))["distillation"]
    assert distil.train_passes == 20 * 2944 == 58_880  # 20 epochs at batch 64
    assert distil.infer_passes == 3000


def test_a_source_model_file_trains_nothing(registry, tmp_path) -> None:
    plan = plan_run(registry, "source_only", PAIR)
    plan.config["source_model"] = {"sha256": "0" * 64}
    assert cost.source_stage(plan, None).train_passes == 0


def test_the_sweep_total_counts_a_cached_source_model_and_ssl_backbone_once(registry) -> None:
    plans = [plan_run(registry, method, PAIR, 0) for method in ("shot", "nrc", "cluster_pl")]
    plans.append(plan_run(registry, "cluster_pl", PAIR, 1))  # another seed: its own source model, the same SSL
    summed = estimate.totals([(cost.run_stages(plan, registry), plan.config) for plan in plans], None)
    assert summed["source training"][0] == 2 * 40_320
    assert summed["SSL pretraining"][0] == 235_520
    assert summed["adaptation"][0] == 2 * 44_160 + 2 * 44_800
    assert summed["adaptation"][1:] == [0.0, 0, 4, 4]  # no profile: the passes are known, no stage's time is


def test_the_h200_estimate_follows_its_formula(registry) -> None:
    profile = estimate.load_profile("h200")
    plan = plan_run(registry, "shot", PAIR, 0, "resnet18")  # 112 px, the profile's own size
    stages = {stage.name: stage for stage in cost.run_stages(plan, registry)}
    adaptation = stages["adaptation"]
    expected = 690 * 0.01145 + 44_160 / 26643.49 + 45_000 / 132849.87  # 46 x 15 steps
    assert estimate.stage_seconds(adaptation, plan.config, profile) == pytest.approx(expected)
    bigger = plan_run(registry, "shot", PAIR, 0, "resnet18_stem1", sets=("image_size=160",))
    scaled = {s.name: s for s in cost.run_stages(bigger, registry)}["adaptation"]
    factor = 15.2 * (160 / 112) ** 2
    assert estimate.stage_seconds(scaled, bigger.config, profile) == pytest.approx(
        690 * 0.01145 + (44_160 / 26643.49 + 45_000 / 132849.87) * factor)


def test_what_the_profile_cannot_estimate_is_unknown(registry) -> None:
    profile = estimate.load_profile("h200")
    plan = plan_run(registry, "shot", PAIR)  # small_cnn: not measured on the H200
    stage = cost.run_stages(plan, registry)[0]
    assert estimate.stage_seconds(stage, plan.config, profile) is None
    assert estimate.why_unknown(plan.config, profile) == "profile h200 has no cost for backbone 'small_cnn'"
    assert estimate.duration(None) == "unknown"
    with pytest.raises(DabenchError, match=r"--estimate-for 'h100': no such profile or file; profiles: h200"):
        estimate.load_profile("h100")


def test_run_dry_run_prints_passes_and_writes_nothing(fresh_home) -> None:
    result = CliRunner().invoke(cli, ["run", "--method", "shot", "--pair", PAIR, "--backbone", "resnet18",
                                      "--dry-run", "--estimate-for", "h200"])
    assert result.exit_code == 0, result.output
    assert "estimates: NVIDIA H200 (profile h200)" in result.output
    assert "44,160 (+45,000 inference)" in result.output and "15 ep x 2,944 img x 1 crop" in result.output
    assert "40,320 (+5,500 inference)" in result.output
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir())


def test_sweep_dry_run_prints_each_run_and_the_totals(fresh_home) -> None:
    result = CliRunner().invoke(cli, ["sweep", "--pairs", PAIR, "--methods", "shot,cluster_pl", "--dry-run",
                                      "--estimate-for", "h200"])
    assert result.exit_code == 0, result.output
    assert "2 runs: 0 done" in result.output
    assert "cached (counted once above)" in result.output  # cluster_pl reuses shot's source model
    assert "all 2 runs (each cached source model and SSL backbone once):" in result.output
    assert "SSL pretraining  235,520" in result.output


def _finished(plan, adapt_seconds: float, device: str) -> None:
    """A finished run folder of ``plan`` whose result says its adaptation took ``adapt_seconds``."""
    from dabench.store import results

    folder = results.run_dir(plan.run_id)
    folder.mkdir(parents=True)
    results.write_config(folder, plan.config)
    record = {"run_id": plan.run_id, "method": plan.method.id, "pair": PAIR, "seed": plan.seed,
              "protocol": "inductive", "accuracy": 0.5, "macro_f1": 0.45, "source_accuracy": 0.4,
              "classes": list(plan.classes), "per_class": {name: 0.5 for name in plan.classes},
              "confusion": [[1] * 7] * 7, "seconds": 20.0, "device": device, "target_train_size": 3000,
              "target_test_size": 1000, "timings": {"adapt": adapt_seconds + 2.0, "method.initial_model": 2.0}}
    results.finish_run(folder, record, [])


def test_index_estimates_the_adaptation_stage_from_your_finished_runs(registry, fresh_home) -> None:
    from dabench.run.measured import measured_profile

    done = plan_run(registry, "shot", PAIR)
    _finished(done, 12.0, "cpu:test")
    profile = measured_profile("cpu:test")
    assert profile["rates"] == {("shot", "small_cnn", done.config["image_size"], 64): 12.0 / 44_160}
    assert measured_profile("cpu:other")["rates"] == {}  # another device's runs are not this one's
    # twice the target: 6000 // 64 = 93 batches = 5952 images an epoch, 15 epochs
    bigger = plan_run(registry, "shot", PAIR, sets=("data.target.n_train=6000",))
    stages = {stage.name: stage for stage in cost.run_stages(bigger, registry)}
    assert stages["adaptation"].train_passes == 15 * 5952
    assert estimate.stage_seconds(stages["adaptation"], bigger.config, profile) == pytest.approx(15 * 5952 * 12.0 / 44_160)
    assert estimate.stage_seconds(stages["source training"], bigger.config, profile) is None
    assert estimate.why_unknown(bigger.config, profile) == (
        "from 1 finished run(s) like it on cpu:test: the adaptation stage only")
    other_batch = plan_run(registry, "shot", PAIR, sets=("batch_size=32",))
    assert estimate.why_unknown(other_batch.config, profile) == (
        "no finished run of shot with this backbone, size and batch size on cpu:test in the index")


def test_the_evaluation_counts_validators_only_where_there_are_some(registry) -> None:
    plan = plan_run(registry, "shot", PAIR)
    adaptation = cost.run_stages(plan, registry)[1]
    sizes = cost.Sizes(3000, 1000, True, "generated")
    assert cost.evaluation_stage(plan.config, adaptation, 3000, sizes, validators=False).infer_passes == 17 * 1000


MEASUREMENTS = Path(__file__).resolve().parents[3] / "shared" / "measurements" / "h200-2026-12-04.json"


def test_the_h200_profile_is_derived_from_the_measurements() -> None:
    """The committed numbers follow from ../shared/measurements (where present) by the derivation they state."""
    if not MEASUREMENTS.is_file():
        pytest.skip(f"{MEASUREMENTS} is not on this machine")
    measured = json.loads(MEASUREMENTS.read_text())
    profile = estimate.load_profile("h200")
    train, infer = measured["gpu_suite"]["train_step"], measured["gpu_suite"]["extraction"]
    assert profile["train_images_per_s"] == round(train["bare_images_per_s"], 2)
    assert profile["inference_images_per_s"] == round(infer["extract_images_per_s"], 2)
    rate, rate_in = train["bare_images_per_s"], infer["extract_images_per_s"]
    timings = {name: run["timings"] for name, run in measured["sweep_runs"].items()}
    # ckplus:fer2013 in its 6 classes: 23,744 train (15 epochs of 5565 // 15 = 371 batches of 64 = 23,744),
    # per-epoch scoring of 2,963 test + 2,000 validator images
    derived = {
        "shot": (timings["shot"]["method.train"] - 15 * 23_744 / rate - 15 * 4_963 / rate_in) / 5_565,
        "nrc": (timings["nrc"]["method.train"] - 15 * 23_744 / rate - 15 * 4_963 / rate_in) / 5_565,
        "cluster_pl": (timings["cluster_pl"]["method.train"] - 50 * 4_736 / rate - 50 * 4_963 / rate_in) / 7_400,
        "ssl": (timings["cluster_pl"]["method.initial_model"] - 5 * 23_552 * (2 + 2 * 0.25) / rate) / 460,
    }
    for name, seconds in derived.items():
        assert profile["step_overhead_s"][name] == pytest.approx(seconds, abs=5e-6), name
