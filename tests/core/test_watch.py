"""The label watch (dabench.run.watch): a method that reaches for target labels during adapt is marked in
result.json and fails the conformance kit, naming what it did; an honest method is neither."""

from __future__ import annotations

import gc
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from dabench.data.cache import prepared_folder
from dabench.methods import Method
from dabench.run import watch
from dabench.run.execute import execute, plan_run
from dabench.store import paths, results
from dabench.testing import ConformanceError, check_method

SMALL = ("data.source.n_train=200", "data.source.n_test=50", "data.target.n_train=150", "data.target.n_test=60",
         "source.epochs=1")


class LabelLoader(Method):
    """Finds the prepared target split of its own size in dabench's cache and np.loads its labels."""

    id = "label_loader"

    def adapt(self, model, target, ctx):
        size = target.images.shape[-1]
        for meta_file in sorted(paths.cache_dir("datasets").glob("synth-wild-*/meta.json")):
            meta = json.loads(meta_file.read_text())  # meta.json holds no labels: not label access
            if meta["counts"]["train"] != len(target) or meta["key"]["options"]["resolution"] != size:
                continue
            images = np.load(meta_file.parent / "train_images.npy", mmap_mode="r")
            if np.array_equal(images.transpose(0, 3, 1, 2), target.images.cpu().numpy()):  # its own split
                labels = np.load(meta_file.parent / "train_labels.npy")
                ctx.record("peeked", int(labels.sum()))
        return model


class GcWalker(Method):
    """Looks for the evaluator's label arrays among every object the interpreter tracks."""

    id = "gc_walker"

    def adapt(self, model, target, ctx):
        found = [o for o in gc.get_objects() if type(o) is np.ndarray and o.dtype == np.int64
                 and o.shape == (len(target),)]
        ctx.record("candidates", len(found))
        return model


class Honest(Method):
    """Uses the images it is handed and reports each epoch (the runner then evaluates on labels)."""

    id = "honest"

    def adapt(self, model, target, ctx):
        model.eval()
        for epoch in range(2):
            ctx.end_epoch(model, epoch)
        return model


def _prepared_train_labels(registry, plan) -> Path:
    dataset = registry.dataset("synth-wild")
    options = dataset.options({**plan.config["data"]["target"], "resolution": plan.config["image_size"]})
    return prepared_folder(dataset, dataset.cache_key(None, options)) / "train_labels.npy"


@pytest.mark.parametrize("cheat", [LabelLoader, GcWalker])
def test_a_method_reaching_for_labels_is_marked_in_result_json(cheat, registry, fresh_home) -> None:
    """In a fresh home, so that the cache holds only this run's prepared splits."""
    registry.add("methods", cheat, "test")
    plan = plan_run(registry, cheat.id, "synth-lab:synth-wild", sets=SMALL)
    result = execute(plan, registry, "cpu", force=True)
    expected = [f"open {_prepared_train_labels(registry, plan)}"] if cheat is LabelLoader else ["gc.get_objects"]
    assert result["label_access"] == {"detected": True, "events": expected}
    on_disk = json.loads((results.run_dir(plan.run_id) / "result.json").read_text())
    assert on_disk["label_access"] == {"detected": True, "events": expected}
    assert "label access detected during adapt" in (results.run_dir(plan.run_id) / "log.txt").read_text()
    if cheat is LabelLoader:  # it did find them: the watch saw a real read, not an attempt
        assert result["method_records"]["peeked"] > 0


def test_an_honest_method_is_not_marked(registry) -> None:
    registry.add("methods", Honest, "test")
    plan = plan_run(registry, "honest", "synth-lab:synth-wild", sets=SMALL)
    result = execute(plan, registry, "cpu", force=True)
    # the runner evaluated on target labels at each end_epoch and after adapt: none of that counts
    assert result["label_access"] == {"detected": False}
    assert len(result["history"]) >= 2 and not watch.active()


@pytest.mark.parametrize(("cheat", "event"), [
    (LabelLoader, r"open \S+/cache/datasets/synth-wild-[0-9a-f]{16}/train_labels\.npy"),
    (GcWalker, r"gc\.get_objects"),
])
def test_the_conformance_kit_fails_a_method_reaching_for_labels(cheat, event) -> None:
    with pytest.raises(ConformanceError, match=rf"^{cheat.id} reached for target labels during adapt\(\): {event}\. "):
        check_method(cheat)


def test_the_conformance_kit_passes_an_honest_method(shared_home) -> None:
    assert check_method(Honest).epochs_reported == [0, 1]
    assert os.environ["DABENCH_HOME"] == str(shared_home) and not watch.active()  # the kit's decoy home is gone


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A prepared-dataset cache and a dataset folder, as dabench lays them out, to watch."""
    prepared = tmp_path / "cache" / "datasets" / "faces-0123456789abcdef"
    native = tmp_path / "data" / "faces"
    for folder in (prepared, native / "train" / "happiness"):
        folder.mkdir(parents=True)
    for name in ("train_images.npy", "train_labels.npy"):
        np.save(prepared / name, np.zeros(3, dtype=np.int64))
    (native / "labels.txt").write_text("a.png happiness\n")
    os.symlink(prepared / "train_labels.npy", tmp_path / "innocent.npy")
    return {"cache": tmp_path / "cache" / "datasets", "prepared": prepared, "native": native, "tmp": tmp_path}


def test_what_the_watch_records(layout) -> None:
    prepared, native = layout["prepared"], layout["native"]
    with watch.watching([layout["cache"]], [native]) as seen:
        np.load(prepared / "train_images.npy")  # images are handed to the method anyway
        (prepared.parent / "notes.txt").write_text("x")  # the cache folder itself is not labels
        np.load(prepared / "train_labels.npy")
        np.load(prepared / "train_labels.npy")  # recorded once
        np.load(layout["tmp"] / "innocent.npy")  # a symlink to the labels
        (native / "labels.txt").read_text()  # a raw label file
        os.listdir(native / "train")  # the class names are the labels of a folder-layout dataset
        os.link(prepared / "train_labels.npy", layout["tmp"] / "copy.npy")  # a hard link hides from realpath
        gc.get_referrers(seen)
    assert seen.events == [f"open {prepared / 'train_labels.npy'}", f"open {layout['tmp'] / 'innocent.npy'}",
                           f"open {native / 'labels.txt'}", f"list {native / 'train'}",
                           f"link {prepared / 'train_labels.npy'}", "gc.get_referrers"]
    assert seen.result() == {"detected": True, "events": seen.events}


def test_the_watch_is_off_outside_its_block_and_then_costs_a_flag_check(layout, monkeypatch) -> None:
    with watch.watching([layout["cache"]]) as seen:
        pass
    assert not watch.active()
    calls = []
    monkeypatch.setattr(watch, "_record", lambda *args: calls.append(args))
    np.load(layout["prepared"] / "train_labels.npy")  # the runner reads labels to evaluate, after adapt
    gc.get_objects()
    assert seen.events == [] and calls == []  # off, the hook returned before looking at the event
    with watch.watching([layout["cache"]]):
        np.load(layout["prepared"] / "train_images.npy")
    assert calls and not watch.active()


def test_other_threads_are_watched_too(layout) -> None:
    with watch.watching([layout["cache"]]) as seen:
        loader = threading.Thread(target=np.load, args=(layout["prepared"] / "train_labels.npy",))
        loader.start()
        loader.join()
    assert seen.events == [f"open {layout['prepared'] / 'train_labels.npy'}"]


def test_building_or_preparing_a_dataset_is_recorded_and_unwrapped_after(registry, fresh_home) -> None:
    from dabench.data import cache
    from dabench.data.pairs import prepare

    wild = registry.dataset("synth-wild")
    build, read = type(wild).build, cache._read_verified
    with watch.watching([paths.cache_dir("datasets")]) as seen:
        wild.build(None, wild.options({"n_train": 4, "n_test": 4, "resolution": 16}))
        prepare(registry.dataset("synth-lab"), {"n_train": 4, "n_test": 4}, 16)
    assert seen.events[:3] == ["build dataset synth-wild", "prepare dataset synth-lab", "build dataset synth-lab"]
    assert type(wild).build is build and cache._read_verified is read and "build" not in vars(type(wild))
