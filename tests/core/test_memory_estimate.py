"""A run's memory is estimated before it prepares or trains, and a run that cannot fit is refused with the
numbers and the override (`--set image_size=1024` on a CPU once went past 6 GB in seconds without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dabench.cli import main
from dabench.errors import DabenchError
from dabench.run import memory
from dabench.run.plan import plan_run


def test_small_cnn_activations_are_counted_layer_by_layer() -> None:
    from dabench_backbones.small_cnn import build

    # per 32 px image: 4 blocks of conv + BN outputs (ReLU is in place) and the max-pool's, then the average pool
    by_hand = (2 * 16 * 32 * 32 + 16 * 16 * 16) + (2 * 32 * 16 * 16 + 32 * 8 * 8) + (2 * 64 * 8 * 8 + 64 * 4 * 4) \
        + (2 * 128 * 4 * 4 + 128 * 2 * 2) + 128
    assert memory.activation_floats(build(), 3, 32) == by_hand == 69248


def test_every_backbone_grows_with_the_image_and_the_batch(registry) -> None:
    for backbone in sorted(registry.backbones):
        spec = registry.backbone(backbone)
        base = max(32, spec.min_image_size or 0)
        sizes = [base, 2 * base, 4 * base]
        estimates = []
        for size in sizes:
            try:
                plan = plan_run(registry, "shot", "synth-lab:synth-wild", sets=(f"backbone={backbone}",
                                                                                f"image_size={size}"))
            except DabenchError:
                continue  # a size this backbone refuses
            estimates.append(memory.estimate(plan, registry, {"source": 100, "target": 100}))
        assert len(estimates) >= 2, backbone
        for small, large in zip(estimates, estimates[1:]):
            assert large.activations > 3 * small.activations, backbone  # ~4x the pixels, ~4x the activations
            assert large.images == 4 * small.images and large.model == small.model
        plan = plan_run(registry, "shot", "synth-lab:synth-wild", sets=(f"backbone={backbone}", "batch_size=128"))
        base = plan_run(registry, "shot", "synth-lab:synth-wild", sets=(f"backbone={backbone}", "batch_size=16"))
        assert memory.estimate(plan, registry, {}).batch_size == 128 > memory.estimate(base, registry, {}).batch_size


def test_a_run_that_cannot_fit_is_refused_with_its_numbers(fresh_home: Path, registry, monkeypatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda device: 6 * memory.GB)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--method", "source_only", "--pair", "synth-lab:synth-wild", "--device", "cpu",
              "--set", "image_size=1024", "--set", "data.source.n_train=56", "--set", "data.target.n_train=56",
              "--set", "data.source.n_test=8", "--set", "data.target.n_test=8"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "needs about 44.5 GB of memory (training activations 35.3 GB (batch 64 at 1024 px), images 0.38 GB" in err
    assert "this machine has 6.0 GB free; lower image_size or the batch size" in err
    assert "set DABENCH_MEMORY_CHECK=off to run it anyway" in err
    assert not any((fresh_home / "cache").rglob("*.npy"))  # refused before preparing anything
    plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=("image_size=1024",))
    monkeypatch.setenv(memory.OVERRIDE, "off")
    memory.check_fits(plan, registry, torch.device("cpu"))  # the override: no check


def test_the_default_runs_fit(registry) -> None:
    for method in sorted(registry.methods):
        plan = plan_run(registry, method, "synth-lab:synth-wild")
        assert memory.estimate(plan, registry, {"source": 4000, "target": 4000}).memory < 2 * memory.GB, method
