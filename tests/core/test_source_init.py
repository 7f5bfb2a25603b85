"""source.init: scratch | ssl (SwAV on the source train images first, through the cached SSL artifact keyed by
the source dataset) | weights (backbone_weights); refused combinations; run identity."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from dabench.data.pairs import prepare
from dabench.errors import DabenchError
from dabench.labels import CANONICAL_CLASSES
from dabench.run.execute import plan_run
from dabench.run.source_model import SourceSpec, artifact_folder, get_source_model, with_data_key
from dabench.run.start import source_ssl_recipe
from dabench.train.ssl import SSLRecipe
from dabench.train.ssl import artifact as ssl_artifact
from dabench.train.supervised import SupervisedRecipe

PAIR = "synth-lab:synth-wild"
TINY = {"n_train": 120, "n_test": 40}


def test_scratch_is_the_run_it_always_was_and_ssl_records_its_recipe(registry) -> None:
    plain = plan_run(registry, "source_only", PAIR)
    scratch = plan_run(registry, "source_only", PAIR, sets=("source.init=scratch", "source.ssl_epochs=4"))
    assert scratch.run_id == plain.run_id and scratch.config["variant"] == ""
    assert "init" not in plain.config["source"] and "source_ssl" not in plain.config
    ssl = plan_run(registry, "source_only", PAIR, sets=("source.init=ssl",))
    # the recipe a run targeting synth-lab uses by default: its SSL artifact is shared
    expected = {**dataclasses.asdict(SSLRecipe()), **registry.dataset("synth-lab").ssl_defaults}
    assert ssl.config["source_ssl"] == expected and ssl.config["source"]["init"] == "ssl"
    assert ssl.config["variant"] == "source.init=ssl" and ssl.run_id != plain.run_id
    shorter = plan_run(registry, "source_only", PAIR, sets=("source.init=ssl", "source.ssl_epochs=4"))
    assert shorter.config["source_ssl"] == {**expected, "epochs": 4} and shorter.run_id != ssl.run_id


@pytest.mark.parametrize("sets, message", [
    (("source.init=weights",), "source.init=weights needs a weights file: add --set backbone_weights=PATH (a local "
                               "file; dabench downloads nothing), or use source.init=scratch or ssl"),
    (("source.init=imagenet",), "config key 'source.init' must be one of scratch, ssl, weights or null, got 'imagenet'"),
    (("source.ssl_epochs=0",), "bad source recipe: source.ssl_epochs must be >= 1 or null (the source dataset's "
                               "default), got 0"),
    (("source.ssl_epochs=two",), "bad source recipe: field 'ssl_epochs' must be int or null, got 'two'"),
])
def test_bad_source_inits_are_refused_at_plan_time(registry, sets, message) -> None:
    with pytest.raises(DabenchError) as info:
        plan_run(registry, "source_only", PAIR, sets=sets)
    assert str(info.value) == message


def test_scratch_with_a_weights_file_is_a_contradiction(tmp_path: Path, registry) -> None:
    weights = tmp_path / "w.pth"
    torch.save(registry.backbone("small_cnn").build(None).state_dict(), weights)
    with pytest.raises(DabenchError) as info:
        plan_run(registry, "source_only", PAIR, sets=(f"backbone_weights={weights}", "source.init=scratch"))
    assert str(info.value) == (f"source.init=scratch contradicts backbone_weights={weights.resolve()}: the source "
                               "backbone would ignore the file; drop one of the two (source.init=weights or ssl use "
                               "the file)")
    ok = plan_run(registry, "source_only", PAIR, sets=(f"backbone_weights={weights}",))
    assert ok.config["source"]["init"] == "weights"


def test_ssl_init_pretrains_on_the_source_images_through_the_shared_artifact(fresh_home: Path, registry) -> None:
    recipe = dataclasses.replace(source_ssl_recipe(registry, "synth-lab", epochs=1), batch_size=32, prototypes=10)
    spec = SourceSpec("synth-lab", CANONICAL_CLASSES, "small_cnn", 32,
                      {**dataclasses.asdict(SupervisedRecipe(epochs=1)), "init": "ssl"}, 0, TINY,
                      ssl=dataclasses.asdict(recipe))
    model, meta = get_source_model(spec, registry, torch.device("cpu"))
    assert meta["init"] == "ssl" and meta["spec"]["ssl"]["epochs"] == 1
    # the artifact a run targeting synth-lab (same images, recipe, seed) would use
    prepared = prepare(registry.dataset("synth-lab"), TINY, 32)
    target_spec = ssl_artifact.SSLSpec("synth-lab", ssl_artifact.ssl_target_key(prepared, "train", CANONICAL_CLASSES),
                                       "small_cnn", 32, recipe, 0)
    folder = ssl_artifact.artifact_folder(target_spec)
    assert meta["ssl"]["path"] == str(folder) and (folder / "backbone.pt").is_file()
    assert meta["ssl"]["images"] == 120
    # the source model is not the scratch one: another artifact, another network
    scratch = dataclasses.replace(spec, recipe=dataclasses.asdict(SupervisedRecipe(epochs=1)), ssl=None)
    assert artifact_folder(with_data_key(scratch, registry)) != artifact_folder(with_data_key(spec, registry))
    scratch_model, _ = get_source_model(scratch, registry, torch.device("cpu"))
    assert not torch.equal(next(iter(model.backbone.parameters())), next(iter(scratch_model.backbone.parameters())))
