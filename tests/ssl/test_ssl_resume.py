"""SSL pretraining (cluster_pl's longest stage) checkpoints each epoch beside the artifact being built: a
build killed after epoch k resumes there and publishes exactly the weights of an uninterrupted build
(CPU, bit for bit); the checkpoint goes once the artifact is published."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.store.checkpoint import Checkpointer
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl import artifact as ssl_artifact
from dabench.train.ssl.artifact import SSLSpec, artifact_folder, checkpoint_path, get_ssl_backbone


class Killed(BaseException):
    """Stands in for SIGKILL inside one process (not an Exception: nothing may catch and record it)."""


# the official SwAV extras, all state a resume must carry: the queue (started at epoch 1, full and in use
# before the kill after epoch 1), LARS's momentum, blur and hue draws from the generator
OFFICIAL = {"queue_length": 16, "queue_start_epoch": 1, "optimizer": "larc", "color_jitter": 0.8, "hue": 0.2,
            "blur_p": 0.5}


def _spec(method: str) -> SSLSpec:
    extras = OFFICIAL if method == "swav-official" else {}
    recipe = SSLRecipe(method=method.removesuffix("-official"), epochs=4, batch_size=16, prototypes=8, hidden_dim=16,
                       projection_dim=8, warmup_epochs=1, freeze_prototypes_epochs=1, small_crops=2,
                       small_crop_fraction=1.0, **extras)
    return SSLSpec("synth-wild", {"prepared": "resume-test", "images_sha256": "abc"}, "small_cnn", 16, recipe, 3)


def _images() -> torch.Tensor:
    return torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def _build(spec: SSLSpec, registry) -> tuple[dict[str, torch.Tensor], dict]:
    backbone, meta = get_ssl_backbone(spec, registry, _images(), amp=False)
    return {name: tensor.clone() for name, tensor in backbone.state_dict().items()}, meta


def _kill_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> list[int]:
    saved: list[int] = []
    original = Checkpointer.save

    def save_then_die(self, saved_epoch, **states):
        original(self, saved_epoch, **states)
        saved.append(saved_epoch)
        if saved_epoch == epoch:
            raise Killed()

    monkeypatch.setattr(Checkpointer, "save", save_then_die)
    return saved


@pytest.mark.parametrize("method", ["swav", "simclr", "swav-official"])
def test_a_killed_pretraining_resumes_to_the_same_weights(tmp_path: Path, registry, method: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(method)
    monkeypatch.setenv("DABENCH_HOME", str(tmp_path / "uninterrupted"))
    reference, reference_meta = _build(spec, registry)
    assert reference_meta["resumed_after_epoch"] is None and not checkpoint_path(spec).exists()

    monkeypatch.setenv("DABENCH_HOME", str(tmp_path / "killed"))
    with monkeypatch.context() as patch:
        saved = _kill_after(patch, 1)
        with pytest.raises(Killed):
            _build(spec, registry)
    assert saved == [0, 1] and checkpoint_path(spec).is_file() and not artifact_folder(spec).exists()

    trained_epochs: list[int] = []
    real_save = Checkpointer.save
    monkeypatch.setattr(Checkpointer, "save", lambda self, epoch, **s: (trained_epochs.append(epoch),
                                                                       real_save(self, epoch, **s)))
    resumed, meta = _build(spec, registry)
    assert trained_epochs == [2, 3] and meta["resumed_after_epoch"] == 1  # epochs 0-1 were not trained again
    assert meta["loss_history"] == reference_meta["loss_history"] and meta["steps"] == reference_meta["steps"]
    assert resumed.keys() == reference.keys()
    assert all(torch.equal(resumed[name], reference[name]) for name in reference)
    assert not checkpoint_path(spec).exists()  # deleted once the artifact was published
    assert meta["sha256"] == reference_meta["sha256"]


def test_a_resumed_pretraining_leaves_the_callers_random_state_as_a_cached_one_does(tmp_path: Path, registry,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec("swav")
    monkeypatch.setenv("DABENCH_HOME", str(tmp_path / "home"))
    np.random.seed(5), random.seed(5)
    with monkeypatch.context() as patch:
        _kill_after(patch, 0)
        with pytest.raises(Killed):
            _build(spec, registry)

    def draws() -> tuple:
        return torch.rand(2).tolist(), np.random.rand(2).tolist(), random.random()

    torch.manual_seed(11), np.random.seed(11), random.seed(11)
    _build(spec, registry)  # resumes: the checkpoint restores the build's RNG states, inside the build only
    after_resume = draws()
    torch.manual_seed(11), np.random.seed(11), random.seed(11)
    _build(spec, registry)  # cached now
    assert after_resume == draws()


def test_a_checkpoint_of_another_spec_is_not_resumed(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec("swav")
    monkeypatch.setenv("DABENCH_HOME", str(tmp_path / "home"))
    checkpoint_path(spec).parent.mkdir(parents=True)
    Checkpointer(checkpoint_path(spec), owner="some other build").save(2, modules={}, optimizer={}, step=0, history=[])
    _, meta = _build(spec, registry)
    assert meta["resumed_after_epoch"] is None and not checkpoint_path(spec).exists()


def test_a_new_build_removes_a_dead_builders_temp_folder(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec("simclr")
    monkeypatch.setenv("DABENCH_HOME", str(tmp_path / "home"))
    folder = artifact_folder(spec)
    process = subprocess.Popen(["true"])
    process.wait()
    leftover = folder.with_name(f".{folder.name}.{process.pid}@{socket.gethostname()}.d3ad0000.tmp")
    leftover.mkdir(parents=True)
    (leftover / "backbone.pt").write_bytes(b"half written")
    seen_at_start: list[bool] = []
    real_pretrain = ssl_artifact.pretrain

    def pretrain(*args, **kwargs):
        seen_at_start.append(leftover.exists())
        return real_pretrain(*args, **kwargs)

    monkeypatch.setattr(ssl_artifact, "pretrain", pretrain)
    _build(spec, registry)
    assert seen_at_start == [False]  # removed when the build started, not only when it published
    assert sorted(p.name for p in folder.parent.iterdir()) == sorted([folder.name, folder.name + ".lock"])
    assert sorted(os.listdir(folder)) == ["backbone.pt", "meta.json"]
