"""The SSL backbone artifact: pretrained once, checksummed, reused, rebuilt when corrupt; keyed by
everything that determines it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dabench.store import artifacts
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl import artifact as ssl_artifact
from dabench.train.ssl.artifact import SSLSpec, artifact_folder, get_ssl_backbone, ssl_model

TINY = SSLRecipe(epochs=1, batch_size=16, prototypes=8, hidden_dim=16, projection_dim=8, warmup_epochs=0,
                 small_crops=2, small_crop_fraction=1.0)


def spec(**changes) -> SSLSpec:
    values = dict(target="synth-wild", target_key={"prepared": "x", "images_sha256": "abc"}, backbone="small_cnn",
                  image_size=16, recipe=TINY, seed=0)
    values.update(changes)
    return SSLSpec(**values)


def images(count: int = 32) -> torch.Tensor:
    return torch.randint(0, 256, (count, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("method", ["swav", "simclr"])
def test_pretrained_once_then_reused(fresh_home: Path, registry, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    the_spec = spec(recipe=SSLRecipe(**{**TINY.__dict__, "method": method}))
    backbone, meta = get_ssl_backbone(the_spec, registry, images())
    folder = artifact_folder(the_spec)
    assert folder.parent == fresh_home / "cache" / "ssl" and (folder / "backbone.pt").is_file()
    assert meta["spec"]["recipe"]["method"] == method and len(meta["loss_history"]) == 1
    monkeypatch.setattr(ssl_artifact, "pretrain", lambda *a, **k: pytest.fail("pretrained twice"))
    again, _ = get_ssl_backbone(the_spec, registry, images())
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name])


def test_same_spec_same_weights_and_caller_rng_untouched(fresh_home: Path, registry) -> None:
    torch.manual_seed(5)
    get_ssl_backbone(spec(), registry, images())
    after_training = torch.rand(1)
    torch.manual_seed(5)
    get_ssl_backbone(spec(), registry, images())  # cached this time
    assert torch.equal(torch.rand(1), after_training)


def test_corrupt_artifact_is_pretrained_again(fresh_home: Path, registry, capsys) -> None:
    get_ssl_backbone(spec(), registry, images())
    (artifact_folder(spec()) / "backbone.pt").write_bytes(b"garbage")
    get_ssl_backbone(spec(), registry, images())
    assert "does not match its checksum" in capsys.readouterr().err
    assert (artifact_folder(spec()) / "backbone.pt").stat().st_size > 100


def test_key_covers_target_backbone_size_recipe_seed() -> None:
    base = artifact_folder(spec())
    for change in ({"target_key": {"prepared": "y", "images_sha256": "abc"}}, {"image_size": 32}, {"seed": 1},
                   {"recipe": SSLRecipe(**{**TINY.__dict__, "epochs": 2})}, {"backbone": "resnet18"}):
        assert artifact_folder(spec(**change)) != base


def test_ssl_model_has_the_ssl_backbone_and_a_fresh_head(fresh_home: Path, registry) -> None:
    backbone, _ = get_ssl_backbone(spec(), registry, images())
    model, _ = ssl_model(spec(), registry, 5, images())
    assert torch.equal(model.backbone[0][0].weight, backbone[0][0].weight)
    assert model.classifier.weight.shape == (5, 256)


def test_bad_recipe_values_are_refused() -> None:
    with pytest.raises(ValueError, match="ssl.method must be one of swav, simclr"):
        SSLRecipe(method="byol")
    with pytest.raises(ValueError, match="large_crops >= 2"):
        SSLRecipe(large_crops=1)


def test_a_reader_without_the_lock_never_deletes_the_artifact(fresh_home: Path, registry, capsys) -> None:
    """Only the lock holder rebuilds (and publishes over) a corrupt artifact: a reader that caught one
    mid-publish and deleted it would throw a fresh artifact away."""
    get_ssl_backbone(spec(), registry, images())
    folder = artifact_folder(spec())
    (folder / "backbone.pt").write_bytes(b"garbage")
    assert artifacts.peek(folder, lambda f: ssl_artifact._load_verified(f, registry, spec(), torch.device("cpu"))) is None
    assert (folder / "backbone.pt").read_bytes() == b"garbage" and capsys.readouterr().err == ""
    get_ssl_backbone(spec(), registry, images())
    assert capsys.readouterr().err.count("is corrupt") == 1  # said once, by the process that rebuilds it
