"""Hyperparameter search: --grid expands to every combination, --random N draws per (method, key, trial)
so that adding a method or a key never moves another's draws, and `report search` picks by a label-free
validator, never by accuracy."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.host.registry import build_registry, default_host
from dabench.report.search_table import search_table
from dabench.sweep.search import grid_points, parse_grid, points_for, random_points, unused_keys


def test_grid_is_every_combination_in_the_order_given() -> None:
    grid = parse_grid(("lr=0.01,0.001", "epochs=5,10"))
    assert grid == {"lr": ["0.01", "0.001"], "epochs": ["5", "10"]}
    assert grid_points(grid) == [("lr=0.01", "epochs=5"), ("lr=0.01", "epochs=10"),
                                 ("lr=0.001", "epochs=5"), ("lr=0.001", "epochs=10")]
    assert grid_points({}) == [()]


@pytest.mark.parametrize(("entries", "message"), [
    (("lr",), "--grid 'lr': write it as KEY=V1,V2, e.g. --grid lr=0.01,0.001"),
    (("=1,2",), "--grid '=1,2': write it as KEY=V1,V2, e.g. --grid lr=0.01,0.001"),
    (("lr=0.1,",), "--grid 'lr=0.1,': an empty value; list values separated by commas, e.g. --grid lr=0.01,0.001"),
    (("lr=1", "lr=2"), "--grid lr given twice; list all of its values in one --grid lr=V1,V2"),
    (("lr=1,1",), "--grid 'lr=1,1': a value is listed twice"),
])
def test_bad_grids_are_one_clear_error(entries: tuple[str, ...], message: str) -> None:
    with pytest.raises(DabenchError) as raised:
        parse_grid(entries)
    assert str(raised.value) == message


def test_random_draws_are_seeded_per_method_key_and_trial() -> None:
    grid = parse_grid(("lr=0.1,0.01,0.001,0.0001", "epochs=5,10,15,20"))
    shot = random_points(grid, 4, "shot")
    assert shot == random_points(grid, 4, "shot")  # reproducible
    assert random_points(grid, 6, "shot")[:4] == shot  # more trials never move the first ones
    assert random_points(grid, 4, "nrc") != shot  # another method, other draws
    with_key = random_points({**grid, "momentum": ["0.9", "0.99"]}, 4, "shot")
    assert [point[:2] for point in with_key] == shot  # a new key never moves the others' draws
    assert all(point[0].split("=")[1] in grid["lr"] for point in shot)


def test_random_repeats_are_kept_once_and_bad_counts_refused() -> None:
    grid = {"lr": ["0.1"]}
    assert random_points(grid, 5, "shot") == [("lr=0.1",)]
    with pytest.raises(DabenchError, match=r"^--random 0: give the number of draws, 1 or more$"):
        random_points(grid, 0, "shot")
    with pytest.raises(DabenchError, match=r"^--random N draws from the values of --grid KEY=V1,V2; give at "
                                           r"least one --grid$"):
        random_points({}, 3, "shot")


def test_a_method_gets_only_the_keys_it_has() -> None:
    grid = parse_grid(("lr=0.01,0.001", "cls_par=0,0.3"))
    shot_keys, tent_keys = {"lr", "cls_par"}, {"lr"}
    assert points_for(grid, 0, "tent", tent_keys.__contains__) == [("lr=0.01",), ("lr=0.001",)]
    assert len(points_for(grid, 0, "shot", shot_keys.__contains__)) == 4
    assert points_for(grid, 0, "source_only", set().__contains__) == [()]  # no key: its defaults, once
    has = {"shot": shot_keys, "tent": tent_keys}
    assert unused_keys({**grid, "lrr": ["1"]}, ["shot", "tent"], lambda m, k: k in has[m]) == ["lrr"]


def _run(variant: str, seed: int, accuracy: float, info_max: float) -> dict:
    return {"method": "shot", "pair": "a:b", "seed": seed, "variant": variant, "accuracy": accuracy,
            "source_free": True, "history": [{"epoch": 0, "validators": {"info_max": info_max, "entropy": 1.0}}]}


def test_report_search_picks_by_the_validator_not_by_accuracy() -> None:
    validators = dict(build_registry(default_host()).validators)
    records = [_run("lr=0.01", 0, 0.70, 1.2), _run("lr=0.01", 1, 0.72, 1.4),  # info_max 1.3, accuracy 71
               _run("lr=0.001", 0, 0.80, 1.0), _run("lr=0.001", 1, 0.82, 1.0)]  # info_max 1.0, accuracy 81
    header, rows = search_table(records, validators, "info_max")
    assert header == ["method", "pair", "settings", "seeds", "info_max (final, mean)", "accuracy % (last epoch)",
                      "picked by info_max"]
    assert rows == [["shot", "a:b", "lr=0.001", "2", "1.0000", "81.00", ""],
                    ["shot", "a:b", "lr=0.01", "2", "1.3000", "71.00", "<- picked"]]
    with pytest.raises(DabenchError, match=r"^--by 'acc': not a validator; valid: entropy, info_max, snd$"):
        search_table(records, validators, "acc")


def test_sweep_grid_plans_each_point_as_its_own_run(fresh_home, registry, capsys: pytest.CaptureFixture[str]) -> None:
    from dabench.sweep.plan import plan_sweep

    planned = plan_sweep(registry, ["shot", "source_only"], ["synth-lab:synth-wild"], [0, 1],
                         grid=("lr=0.01,0.001", "cls_par=0,0.3"))
    shot = sorted({request.sets for _, request in planned if request.method == "shot"})
    assert shot == [("lr=0.001", "cls_par=0"), ("lr=0.001", "cls_par=0.3"), ("lr=0.01", "cls_par=0"),
                    ("lr=0.01", "cls_par=0.3")]
    assert [request.sets for _, request in planned if request.method == "source_only"] == [(), ()]  # no such keys
    assert len({request.run_id for _, request in planned}) == len(planned) == 10  # 4 points x 2 seeds + 2
    drawn = plan_sweep(registry, ["shot"], ["synth-lab:synth-wild"], [0], grid=("lr=0.01,0.001", "cls_par=0,0.3"),
                       trials=3)
    assert [request.sets for _, request in drawn] == points_for(parse_grid(("lr=0.01,0.001", "cls_par=0,0.3")), 3,
                                                                "shot", {"lr", "cls_par"}.__contains__)
    with pytest.raises(DabenchError) as raised:
        plan_sweep(registry, ["shot"], ["synth-lab:synth-wild"], [0], grid=("lrr=0.1,0.2",))
    assert str(raised.value) == "--grid lrr: no method of this sweep has that key, nor is it a run setting"


def test_sweep_random_without_grid_is_one_error(fresh_home, capsys: pytest.CaptureFixture[str]) -> None:
    from dabench.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--pairs", "synth-lab:synth-wild", "--methods", "shot", "--random", "3", "--dry-run"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("dabench: error: --random N draws from the values of --grid KEY=V1,V2; "
                                       "give at least one --grid\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--pairs", "synth-lab:synth-wild", "--methods", "shot", "--grid", "lr=0.01,0.001",
              "--dry-run"])
    assert exit_info.value.code == 0
    assert "2 runs: 0 done, 0 running, 0 failed, 0 interrupted, 2 pending" in capsys.readouterr().out
