"""Prepared-data cache (checksums, rebuilds) and source-model artifacts (reuse, foreign checkpoints)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from dabench.data.pairs import prepare
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.run.execute import execute, plan_run
from dabench.run.source_model import (
    SourceSpec,
    artifact_folder,
    get_source_model,
    inspect_source_file,
    load_source_file,
    with_data_key,
)
from dabench.store import atomic
from dabench.train.supervised import SupervisedRecipe

TINY = {"n_train": 120, "n_test": 40}


def test_corrupt_cached_array_is_detected_and_rebuilt(fresh_home: Path, registry, capsys) -> None:
    dataset = registry.dataset("synth-lab")
    first = prepare(dataset, TINY, 32)
    folder = fresh_home / "cache" / "datasets" / first.key
    images_file = folder / "train_images.npy"
    images_file.write_bytes(images_file.read_bytes()[:-100])  # truncate
    second = prepare(dataset, TINY, 32)
    assert "is corrupt (train_images.npy does not match its checksum); rebuilding it" in capsys.readouterr().err
    np.testing.assert_array_equal(second.split("train").images, first.split("train").images)
    assert second.split("train").images.shape == (120, 32, 32, 1)


def test_cache_key_depends_on_options(fresh_home: Path, registry) -> None:
    dataset = registry.dataset("synth-lab")
    assert prepare(dataset, TINY, 32).key != prepare(dataset, {**TINY, "seed": 1}, 32).key


def _spec(**changes) -> SourceSpec:
    recipe = dataclasses.asdict(SupervisedRecipe(epochs=1))
    spec = SourceSpec("synth-lab", CANONICAL_CLASSES, "small_cnn", 32, recipe, 0, TINY)
    return dataclasses.replace(spec, **changes)


def test_source_model_is_trained_once_and_reused(fresh_home: Path, registry) -> None:
    model, meta = get_source_model(_spec(), registry, torch.device("cpu"))
    checkpoint = artifact_folder(with_data_key(_spec(), registry)) / "model.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again, meta_again = get_source_model(_spec(), registry, torch.device("cpu"))
    assert checkpoint.stat().st_mtime_ns == stamp and meta_again["sha256"] == meta["sha256"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert meta["spec"]["classes"] == list(CANONICAL_CLASSES) and 0 <= meta["source_test_accuracy"] <= 1


def test_foreign_checkpoint_must_match_the_pair(fresh_home: Path, registry) -> None:
    get_source_model(_spec(), registry, torch.device("cpu"))
    path = artifact_folder(with_data_key(_spec(), registry)) / "model.pt"
    pair = ("synth-lab", "synth-wild")
    meta = inspect_source_file(path, "small_cnn", CANONICAL_CLASSES, 32, pair)
    assert len(meta["sha256"]) == 64 and meta["spec"]["dataset"] == "synth-lab"
    assert load_source_file(meta, registry, torch.device("cpu")).num_classes == 7
    with pytest.raises(DabenchError, match="has backbone 'small_cnn' but this run uses 'resnet18'"):
        inspect_source_file(path, "resnet18", CANONICAL_CLASSES, 32, pair)
    with pytest.raises(DabenchError, match="was trained on classes surprise, fear, .* but this pair's label space is fear"):
        inspect_source_file(path, "small_cnn", ("fear", "happiness"), 32, pair)
    with pytest.raises(DabenchError, match="was trained at 32 px but this run uses 48 px"):
        inspect_source_file(path, "small_cnn", CANONICAL_CLASSES, 48, pair)
    with pytest.raises(DabenchError, match="was trained on 'synth-lab' but this pair's source is 'ckplus'; "
                                           "run --pair synth-lab:synth-wild"):
        inspect_source_file(path, "small_cnn", CANONICAL_CLASSES, 32, ("ckplus", "synth-wild"))
    with pytest.raises(DabenchError, match="was trained on 'synth-lab', this pair's target: a model trained on "
                                           "target labels is not a source model"):
        inspect_source_file(path, "small_cnn", CANONICAL_CLASSES, 32, ("synth-wild", "synth-lab"))
    junk = fresh_home / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DabenchError) as raised:
        inspect_source_file(junk, "small_cnn", CANONICAL_CLASSES, 32, pair)
    assert str(raised.value) == (f"--source-model {junk} is not a dabench source checkpoint (not a torch checkpoint "
                                 "of tensors and plain values); make one with `dabench source train`")  # no torch advice
    foreign = fresh_home / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(DabenchError) as raised:
        inspect_source_file(foreign, "small_cnn", CANONICAL_CLASSES, 32, pair)
    assert str(raised.value) == (f"--source-model {foreign} is not a dabench source checkpoint (a torch file without "
                                 "dabench's metadata, no key 'meta'); make one with `dabench source train`")
    copy = fresh_home / "copy.pt"
    copy.write_bytes(path.read_bytes())
    copied = inspect_source_file(copy, "small_cnn", CANONICAL_CLASSES, 32, pair)
    copy.write_bytes(path.read_bytes() + b"edited")
    with pytest.raises(DabenchError, match="changed \\(or vanished\\) after the run was planned"):
        load_source_file(copied, registry, torch.device("cpu"))


def test_source_free_run_needs_no_source_data_and_is_keyed_by_the_checkpoints_content(
        fresh_home: Path, registry, monkeypatch: pytest.MonkeyPatch) -> None:
    sets = ("data.target.n_train=120", "data.target.n_test=40", "source.epochs=1",
            *(f"data.source.{key}={value}" for key, value in TINY.items()))
    trained = execute(plan_run(registry, "source_only", "synth-lab:synth-wild", sets=sets), registry, device_name="cpu")
    (cached,) = (fresh_home / "cache").rglob("model.pt")  # what `dabench source train` leaves, sent elsewhere
    path = fresh_home / "shared-model.pt"
    path.write_bytes(cached.read_bytes())
    source_dataset = type(registry.dataset("synth-lab"))

    def no_source_data(*args, **kwargs):
        raise AssertionError("the source dataset was prepared in a source-free run")

    monkeypatch.setattr(source_dataset, "build", no_source_data)
    plan = plan_run(registry, "source_only", "synth-lab:synth-wild", sets=sets, source_model=path)
    assert plan.config["source_model"] == {"sha256": atomic.sha256_file(path)}
    result = execute(plan, registry, device_name="cpu")
    assert result["accuracy"] == trained["accuracy"] and result["source_model"]["path"] == str(path.resolve())
    moved = fresh_home / "moved.pt"
    path.rename(moved)
    assert plan_run(registry, "source_only", "synth-lab:synth-wild", sets=sets, source_model=moved).run_id == plan.run_id


def test_source_model_follows_the_prepared_data(fresh_home: Path, registry, monkeypatch) -> None:
    # A new generator version (or changed dataset files) must train a new source model, not reuse the old.
    before = with_data_key(_spec(), registry)
    monkeypatch.setattr(type(registry.dataset("synth-lab")), "version", "test-next")
    after = with_data_key(_spec(), registry)
    assert before.data_key != after.data_key and artifact_folder(before) != artifact_folder(after)


@pytest.mark.parametrize("damage, problem", [
    (lambda folder: (folder / "model.pt").write_bytes(b"truncated"), "the checkpoint does not match its checksum"),
    (lambda folder: (folder / "meta.json").write_text("{not json"), "Expecting property name"),
    (lambda folder: (folder / "model.pt").unlink(), "No such file"),
])
def test_damaged_source_model_is_retrained_with_one_warning(damage, problem: str, fresh_home: Path, registry,
                                                            capsys) -> None:
    model, _ = get_source_model(_spec(), registry, torch.device("cpu"))
    folder = artifact_folder(with_data_key(_spec(), registry))
    damage(folder)
    capsys.readouterr()
    retrained, _ = get_source_model(_spec(), registry, torch.device("cpu"))
    captured = capsys.readouterr()
    assert captured.err.count("dabench: warning: source model") == 1 and problem in captured.err
    assert "retraining it" in captured.err and captured.out == ""
    for name, tensor in model.state_dict().items():  # the same seed trains the same weights again
        assert torch.equal(tensor, retrained.state_dict()[name]), name
