"""A run is named by the data it reads: every kind of change to a dataset folder (an image edited in place, added,
removed, moved to another class, another copy with other files) renames the run and prepares the data again,
while a copy with the same bytes anywhere, or a file only touched, is the same run. Mutations are drawn from a
seeded generator over the files of the folder, not listed by hand."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import write_image
from PIL import Image

from dabench.cli import main
from dabench.data.identity import folder_identity, folder_listing
from dabench.data.pairs import prepare
from dabench.errors import DabenchError
from dabench.run.execute import execute
from dabench.run.plan import plan_run

CLASSES = ("angry", "happy", "sad", "surprise")


def fer_folder(folder: Path, per_class: int = 3) -> Path:
    for split in ("train", "test"):
        for c, name in enumerate(CLASSES):
            for i in range(per_class):
                write_image(folder / split / name / f"{split}_{c}_{i}.png", 48, 48, 40 + 50 * c + 7 * i)
    return folder


def _edit_in_place(folder: Path, rng: random.Random) -> None:
    path = rng.choice(sorted(folder.rglob("*.png")))
    pixels = np.asarray(Image.open(path)).copy()
    pixels[rng.randrange(48), rng.randrange(48)] ^= 0xFF  # one pixel; the PNG may keep its size
    Image.fromarray(pixels).save(path)


def _add(folder: Path, rng: random.Random) -> None:
    write_image(folder / "train" / rng.choice(CLASSES) / f"extra_{rng.randrange(10**6)}.png", 48, 48, rng.randrange(256))


def _remove(folder: Path, rng: random.Random) -> None:
    rng.choice(sorted(folder.rglob("*.png"))).unlink()


def _relabel(folder: Path, rng: random.Random) -> None:
    path = rng.choice(sorted(folder.rglob("*.png")))
    other = rng.choice([c for c in CLASSES if c != path.parent.name])
    path.rename(path.parent.parent / other / path.name)


MUTATIONS = [_edit_in_place, _add, _remove, _relabel]


@pytest.mark.parametrize("seed", range(8))
def test_every_change_to_the_folder_renames_the_run_and_reprepares(seed: int, tmp_path: Path, fresh_home: Path,
                                                                   registry, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    folder = fer_folder(tmp_path / "fer2013")
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(folder))
    before = plan_run(registry, "source_only", "fer2013:synth-wild").run_id
    prepared_before = prepare(registry.dataset("fer2013"), {}, 16)
    mutation = MUTATIONS[seed % len(MUTATIONS)]
    mutation(folder, rng)
    after = plan_run(registry, "source_only", "fer2013:synth-wild")
    assert after.run_id != before, mutation.__name__
    prepared_after = prepare(registry.dataset("fer2013"), {}, 16)
    assert prepared_after.key != prepared_before.key
    assert prepared_after.meta["key"]["files"] == after.config["data_files"]["source"]


def test_the_same_bytes_anywhere_are_the_same_run(tmp_path: Path, fresh_home: Path, registry,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fer_folder(tmp_path / "fer2013")
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(folder))
    first = plan_run(registry, "source_only", "fer2013:synth-wild").run_id
    copy = tmp_path / "elsewhere" / "FER copy"
    shutil.copytree(folder, copy)  # new mtimes, new place, same bytes
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(copy))
    assert plan_run(registry, "source_only", "fer2013:synth-wild").run_id == first
    for path in copy.rglob("*.png"):
        os.utime(path, ns=(1, 1))  # touched: listed anew, hashed anew, the same content
    assert plan_run(registry, "source_only", "fer2013:synth-wild").run_id == first
    generated = plan_run(registry, "source_only", "synth-lab:synth-wild")
    assert "data_files" not in generated.config  # generated data is named by its generator's version


def test_a_folder_changed_after_planning_is_refused_before_training(tmp_path: Path, fresh_home: Path, registry,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fer_folder(tmp_path / "fer2013")
    monkeypatch.setenv("DABENCH_DATA_FER2013", str(folder))
    plan = plan_run(registry, "source_only", "fer2013:synth-wild", sets=("source.epochs=1",))
    _add(folder, random.Random(0))
    with pytest.raises(DabenchError, match=f"dataset 'fer2013' changed on disk since run {plan.run_id} was planned"):
        execute(plan, registry, "cpu")
    assert not (fresh_home / "runs" / plan.run_id).exists()


def test_another_copy_is_not_reported_as_the_first_ones_run(tmp_path: Path, fresh_home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The reported bug: the same command on another copy answered `reused finished run` with the first
    copy's score."""
    first, second = fer_folder(tmp_path / "a" / "fer2013"), fer_folder(tmp_path / "b" / "fer2013", per_class=2)
    command = ["run", "--method", "source_only", "--pair", "fer2013:synth-wild", "--device", "cpu",
               "--set", "source.epochs=1", "--set", "image_size=16"]
    outputs = []
    for root in (first, second, first):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--data-root", f"fer2013={root}"])
        assert exit_info.value.code == 0
        outputs.append(capsys.readouterr().out)
    assert "reused finished run" not in outputs[1]
    assert "reused finished run" in outputs[2]


def test_listing_refuses_a_link_loop(tmp_path: Path, fresh_home: Path) -> None:
    folder = fer_folder(tmp_path / "fer2013", per_class=1)
    assert [entry[0] for entry in folder_listing(folder)][:2] == ["test/angry/test_0_0.png", "test/happy/test_1_0.png"]
    (folder / "train" / "loop").symlink_to(folder)
    with pytest.raises(DabenchError, match="symbolic-link loop at .*fer2013/train/loop; remove the link"):
        folder_identity(folder)
    (tmp_path / "empty").mkdir()
    assert folder_identity(tmp_path / "empty") != folder_identity(folder.parent / "fer2013" / "test")
