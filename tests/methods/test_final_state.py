"""The per-epoch history ends with the model the run scored: tent re-estimates its BatchNorm statistics
after its last epoch, which once left the oracle (best epoch on target test) below the final score."""

from __future__ import annotations

from dabench.report.selection import LAST, ORACLE, select
from dabench.run.execute import execute, plan_run
from dabench.store import results

TINY = ("data.target.n_train=200", "data.target.n_test=100", "data.source.n_train=200", "data.source.n_test=100",
        "source.epochs=1")


def test_tent_history_ends_with_the_model_it_returned(registry) -> None:
    plan = plan_run(registry, "tent", "synth-lab:synth-wild", seed=0, sets=(*TINY, "epochs=1"))
    result = execute(plan, registry, device_name="cpu", force=True)
    epoch, final = result["history"]
    # the last epoch's model still had the running statistics of training; the final statistics changed it
    assert "final" not in epoch and final["final"] is True and final["epoch"] == epoch["epoch"]
    assert epoch["validators"] != final["validators"]
    assert (final["accuracy"], final["macro_f1"]) == (result["accuracy"], result["macro_f1"])
    assert result["oracle_accuracy"] == max(epoch["accuracy"], final["accuracy"]) >= result["accuracy"]
    assert select(result, ORACLE, {})["accuracy"] >= select(result, LAST, {})["accuracy"]


def test_tent_without_final_statistics_adds_no_entry(registry) -> None:
    plan = plan_run(registry, "tent", "synth-lab:synth-wild", seed=0,
                    sets=(*TINY, "epochs=1", "final_statistics=false"))
    result = execute(plan, registry, device_name="cpu", force=True)
    assert [entry["epoch"] for entry in result["history"]] == [0]
    assert result["history"][-1]["accuracy"] == result["accuracy"]


def test_close_history_appends_only_a_changed_model() -> None:
    epoch = {"epoch": 2, "accuracy": 0.5, "macro_f1": 0.4, "validators": {"entropy": 1.0}}
    same = {"accuracy": 0.5, "macro_f1": 0.4, "validators": {"entropy": 1.0}}
    assert results.close_history([dict(epoch)], same) == [epoch]
    moved = {"accuracy": 0.5, "macro_f1": 0.4, "validators": {"entropy": 0.9}}  # same accuracy, other model
    assert results.close_history([dict(epoch)], moved) == [epoch, {"epoch": 2, "final": True, **moved}]
    assert results.close_history([], moved) == []  # a method without epochs keeps no history


def test_oracle_of_a_run_made_before_the_history_was_closed_is_not_below_the_last() -> None:
    legacy = {"accuracy": 0.883, "macro_f1": 0.80,
              "history": [{"epoch": 0, "accuracy": 0.881, "macro_f1": 0.79, "validators": {}}]}
    assert select(legacy, ORACLE, {}) == {"epoch": 0, "accuracy": 0.883, "macro_f1": 0.80}
    better_epoch = {**legacy, "accuracy": 0.87}
    assert select(better_epoch, ORACLE, {})["accuracy"] == 0.881
