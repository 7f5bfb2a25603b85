"""Pretrained backbone weights as users have them (dabench.weights): each layout loads or is refused with one
message; the normalisation follows the weights; the file's sha256 names the run. Files are random tensors
with the right names and shapes (no real weights in the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18, resnet34

from dabench.errors import DabenchError
from dabench.models import build_model
from dabench.run.execute import plan_run
from dabench.run.record import normalization_record
from dabench.weights import read_state_dict

PAIR = "synth-lab:synth-wild"


@pytest.fixture(scope="module")
def imagenet_state() -> dict[str, torch.Tensor]:
    """torchvision's ResNet-18 layout (1000-way fc), random values."""
    torch.manual_seed(0)
    return resnet18(weights=None).state_dict()


def _save(path: Path, value: object) -> Path:
    torch.save(value, path)
    return path


def _loaded(registry, path: Path, backbone: str = "resnet18") -> torch.nn.Module:
    return registry.backbone(backbone).build(path)


def _same_backbone(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    got = net.state_dict()
    return all(torch.equal(got[k], v) for k, v in state.items() if not k.startswith("fc."))


def test_torchvision_state_dict_loads_and_its_head_is_dropped_in_the_log(tmp_path, registry, imagenet_state,
                                                                           monkeypatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr("dabench_backbones.resnet18.log_line", lines.append)  # the run log's writer
    net = _loaded(registry, _save(tmp_path / "resnet18-f37072fd.pth", imagenet_state))
    assert _same_backbone(net, imagenet_state)
    assert lines == ["backbone_weights: classifier head dropped (fc.bias (1000,), fc.weight (1000, 512))",
                     "backbone_weights: 120 tensors loaded into ResNet-18 from resnet18-f37072fd.pth"]


@pytest.mark.parametrize("wrap, notes", [
    (lambda s: {"state_dict": s, "epoch": 30, "arch": "resnet18"},
     ["weights read from the checkpoint's 'state_dict' entry"]),
    (lambda s: {"model": s, "optimizer": {"lr": 0.1}}, ["weights read from the checkpoint's 'model' entry"]),
    (lambda s: {f"module.{k}": v for k, v in s.items()}, ["prefix 'module.' removed from every key"]),
    # the MS-Celeb resnet18_msceleb.pth of FER papers: torchvision names under 'state_dict' (DAN loads it
    # strict into torchvision's resnet18); SCN's loader expects the DataParallel 'module.' form of it
    (lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}},
     ["weights read from the checkpoint's 'state_dict' entry", "prefix 'module.' removed from every key"]),
])
def test_checkpoint_layouts_are_unwrapped(tmp_path, imagenet_state, wrap, notes) -> None:
    state, said = read_state_dict(_save(tmp_path / "w.pth", wrap(imagenet_state)))
    assert said == notes
    assert list(state) == list(imagenet_state)
    assert all(torch.equal(state[k], imagenet_state[k]) for k in state)


def test_a_head_of_another_size_is_dropped(tmp_path, registry, imagenet_state) -> None:
    """An MS-Celeb identity head (12,666 ids, as EfficientFace's pretraining) or a 7-class FER head."""
    for classes in (12666, 7):
        state = {**imagenet_state, "fc.weight": torch.zeros(classes, 512), "fc.bias": torch.zeros(classes)}
        net = _loaded(registry, _save(tmp_path / f"head{classes}.pth", {"state_dict": state}))
        assert _same_backbone(net, imagenet_state) and isinstance(net.fc, torch.nn.Identity)


def test_the_stem1_backbone_takes_the_same_file(tmp_path, registry, imagenet_state) -> None:
    net = _loaded(registry, _save(tmp_path / "w.pth", imagenet_state), "resnet18_stem1")
    assert _same_backbone(net, imagenet_state) and net.conv1.stride == (1, 1)


def test_another_architecture_is_refused_naming_the_first_mismatching_keys(tmp_path, registry) -> None:
    path = _save(tmp_path / "resnet34.pth", resnet34(weights=None).state_dict())
    with pytest.raises(DabenchError) as info:
        _loaded(registry, path)
    assert str(info.value) == (
        f"backbone_weights {path} is not a ResNet-18 state dict: unexpected layer1.2.conv1.weight, "
        "layer1.2.bn1.weight, layer1.2.bn1.bias (of 216 keys in the file, 120 in ResNet-18); pass weights of this "
        "architecture, or the --backbone they were trained for")


def test_a_wrong_shape_is_named(tmp_path, registry, imagenet_state) -> None:
    state = {**imagenet_state, "conv1.weight": torch.zeros(64, 1, 7, 7)}  # a grayscale stem
    path = _save(tmp_path / "gray.pth", state)
    with pytest.raises(DabenchError, match=r"wrong shape conv1.weight \(64, 1, 7, 7\) \(wanted \(64, 3, 7, 7\)\)"):
        _loaded(registry, path)


@pytest.mark.parametrize("make, message", [
    (lambda p: _save(p, [1, 2, 3]), "holds no state dict (a list)"),
    (lambda p: _save(p, {"epoch": 3, "arch": "resnet18"}), "holds no state dict (a dict with keys 'epoch', 'arch')"),
    (lambda p: _save(p, {}), "holds no state dict (an empty dict)"),
    (lambda p: p.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 46830571\n"),
     "is a Git LFS pointer (133 bytes of text), not the weights: fetch the file itself (`git lfs pull` in its "
     "repository) and pass that"),
    (lambda p: p.write_text("weights,0.1,0.2\n"), "cannot be read: not a torch file of tensors (torch.save of a state dict)"),
    (lambda p: _save(p, torch.nn.Linear(2, 2)), "cannot be read: a pickle of more than tensors and plain values, such "
                                                "as a whole pickled model (dabench loads weights only); save its "
                                                "state_dict() and pass that"),
])
def test_files_that_are_no_weights_get_one_message(tmp_path, make, message) -> None:
    path = tmp_path / "resnet18_msceleb.pth"
    make(path)
    with pytest.raises(DabenchError) as info:
        read_state_dict(path)
    assert str(info.value).startswith(f"backbone_weights {path} {message}")


@pytest.mark.parametrize("legacy, why", [
    (False, "a torch archive that is truncated or corrupt (download it again)"),
    (True, "a torch file that ends early: truncated (download it again)"),  # torch < 1.6's format
])
def test_a_truncated_file_is_named_so(tmp_path, imagenet_state, legacy, why) -> None:
    path = tmp_path / "w.pth"
    torch.save(imagenet_state, path, _use_new_zipfile_serialization=not legacy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DabenchError) as info:
        read_state_dict(path)
    assert str(info.value) == f"backbone_weights {path} cannot be read: {why}"


@pytest.mark.parametrize("make, sets, message", [
    (lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\n"), ("backbone_weights={w}",),
     "backbone_weights {w} is a Git LFS pointer (43 bytes of text)"),
    (lambda p: _save(p, {"epoch": 3}), ("backbone_weights={w}",), "backbone_weights {w} holds no state dict"),
    (lambda p: _save(p, {"conv.weight": torch.zeros(8, 3, 3, 3)}), ("backbone_weights={w}",),
     "backbone_weights {w} is not a ResNet-18 state dict: missing conv1.weight, bn1.weight, bn1.bias; "
     "unexpected conv.weight (of 1 keys in the file, 120 in ResNet-18)"),
    (lambda p: None, ("source.init=weights",), "source.init=weights needs a weights file"),
])
def test_bad_weights_stop_the_run_at_plan_time_with_nothing_written(tmp_path, fresh_home, capsys, make, sets,
                                                                     message) -> None:
    from dabench.cli import main

    weights = tmp_path / "resnet18.pth"
    make(weights)
    args = [part.format(w=weights) for s in sets for part in ("--set", s)]
    with pytest.raises(SystemExit) as info:
        main(["run", "--method", "source_only", "--pair", PAIR, "--backbone", "resnet18", "--device", "cpu", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"dabench: error: {message.format(w=weights)}")
    assert not (fresh_home / "runs").exists() or not any((fresh_home / "runs").iterdir())
    assert not (fresh_home / "cache").exists()


def test_normalisation_follows_the_weights(tmp_path, registry, imagenet_state) -> None:
    weights = _save(tmp_path / "w.pth", imagenet_state)
    plain = plan_run(registry, "source_only", PAIR, backbone="resnet18")
    pretrained = plan_run(registry, "source_only", PAIR, backbone="resnet18", sets=(f"backbone_weights={weights}",))
    kept = plan_run(registry, "source_only", PAIR, backbone="resnet18",
                    sets=(f"backbone_weights={weights}", "normalization=dabench"))
    forced = plan_run(registry, "source_only", PAIR, backbone="resnet18", sets=("normalization=imagenet",))
    assert "normalization" not in plain.config  # the default is no part of a plain run's identity
    assert normalization_record(plain.config) == {"name": "dabench", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    assert normalization_record(pretrained.config) == {"name": "imagenet", "mean": [0.485, 0.456, 0.406],
                                                       "std": [0.229, 0.224, 0.225]}
    assert normalization_record(kept.config)["name"] == "dabench" and kept.run_id != pretrained.run_id
    assert forced.config["normalization"] == "imagenet" and forced.config["variant"] == "backbone=resnet18, normalization=imagenet"
    net = build_model(registry.backbone("small_cnn"), 7, normalization="imagenet")
    images = torch.full((1, 3, 4, 4), 0.485)
    assert torch.allclose(((images - net.input_mean) / net.input_std)[0, 0], torch.zeros(4, 4))


def test_the_weights_content_names_the_run(tmp_path, registry, imagenet_state) -> None:
    weights = _save(tmp_path / "w.pth", imagenet_state)
    first = plan_run(registry, "source_only", PAIR, backbone="resnet18", sets=(f"backbone_weights={weights}",))
    assert first.config["backbone_weights_sha256"] == __import__("hashlib").sha256(weights.read_bytes()).hexdigest()
    assert first.config["source"]["init"] == "weights"
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in imagenet_state.items()}
    _save(weights, changed)  # same path, other content
    second = plan_run(registry, "source_only", PAIR, backbone="resnet18", sets=(f"backbone_weights={weights}",))
    assert second.run_id != first.run_id
    assert second.config["backbone_weights"] == first.config["backbone_weights"] == str(weights.resolve())


def test_a_run_from_weights_records_them_and_says_what_it_loaded(tmp_path, fresh_home, registry,
                                                                   imagenet_state) -> None:
    """End to end on 120 generated faces: the source model starts from the file (source.init=weights), the
    run log says what was read and dropped, result.json has the normalisation in numbers and the file's sha256."""
    from dabench.run.execute import execute

    weights = _save(tmp_path / "resnet18_msceleb.pth", {"state_dict": {f"module.{k}": v for k, v in imagenet_state.items()}})
    sets = (f"backbone_weights={weights}", "image_size=32", "source.epochs=1", "data.source.n_train=120",
            "data.source.n_test=40", "data.target.n_train=120", "data.target.n_test=40")
    plan = plan_run(registry, "source_only", PAIR, backbone="resnet18", sets=sets)
    result = execute(plan, registry, device_name="cpu")
    assert result["normalization"] == {"name": "imagenet", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert result["backbone_weights"] == {"path": str(weights.resolve()),
                                          "sha256": plan.config["backbone_weights_sha256"]}
    assert result["source_model"]["init"] == "weights"
    log = (fresh_home / "runs" / plan.run_id / "log.txt").read_text()
    for line in ("backbone_weights: weights read from the checkpoint's 'state_dict' entry",
                 "backbone_weights: prefix 'module.' removed from every key",
                 "backbone_weights: classifier head dropped (fc.bias (1000,), fc.weight (1000, 512))",
                 "backbone_weights: 120 tensors loaded into ResNet-18 from resnet18_msceleb.pth"):
        assert line in log
