"""The suites' pairs exist once the real datasets are registered; class spaces of the pairs."""

from __future__ import annotations

from dabench.cli import main


def test_every_suite_pair_is_a_valid_pair(registry) -> None:
    pairs = set(registry.all_pairs())
    assert registry.suite("wild").pairs == ("expw:fer2013", "fer2013:expw")
    for suite in ("paper", "cdfer", "offline", "synthetic", "wild"):
        for pair in registry.suite(suite).pairs:
            assert pair in pairs, f"{suite}: {pair}"
            registry.pair(pair)
    assert {"rafdb", "sfew", "fer2013", "expw", "afe", "affectnet", "ckplus", "jaffe"} <= set(registry.datasets)


def test_a_pairs_image_size_is_the_smaller_native_size(registry) -> None:
    from dabench.run.execute import plan_run

    # small_cnn follows the data: ExpW (112 px) with FER2013 (48 px) runs at 48, both ways
    for pair in ("expw:fer2013", "fer2013:expw"):
        assert plan_run(registry, "source_only", pair, backbone="small_cnn").config["image_size"] == 48
    assert plan_run(registry, "source_only", "expw:fer2013").config["image_size"] == 112  # resnet18's own default


def test_extras_are_dropped_from_pair_classes(registry) -> None:
    from dabench.labels import pair_classes

    shared = pair_classes(registry.dataset("affectnet").classes, registry.dataset("ckplus").classes)
    assert shared == ("surprise", "fear", "disgust", "happiness", "sadness", "anger")  # no contempt, no neutral
    assert registry.dataset("fer2013").default_backbone == "small_cnn" == registry.dataset("ckplus").default_backbone
    assert registry.dataset("rafdb").native_size == 112 and registry.dataset("fer2013").native_size == 48


def test_list_pairs_cli(registry, capsys) -> None:
    try:
        main(["list", "pairs"])
    except SystemExit as exit_info:
        assert exit_info.code == 0
    listed = capsys.readouterr().out.split()
    assert "rafdb:fer2013" in listed and "afe:expw" in listed and "fer2013:ckplus" in listed


def test_wild_targets_have_their_stated_ssl_budget(registry) -> None:
    from dabench.run.execute import plan_run

    # the same ~140k image passes on each wild target (docs: the budget rule beside the values)
    fer2013 = plan_run(registry, "cluster_pl", "expw:fer2013", backbone="small_cnn").config["ssl"]
    expw = plan_run(registry, "cluster_pl", "fer2013:expw", backbone="small_cnn").config["ssl"]
    assert (fer2013["epochs"], fer2013["prototypes"], fer2013["seed"]) == (5, 1000, 0)
    assert (expw["epochs"], expw["prototypes"], expw["seed"]) == (30, 150, 0)
