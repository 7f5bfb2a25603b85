"""A fixed set of run records (constructed here, not trained) shared by the report tests."""

from __future__ import annotations

from typing import Any

import pytest

from dabench.host.registry import build_registry, default_host
from dabench.store import atomic, results

CLASSES = ["surprise", "happiness", "neutral"]


def record(method: str, pair: str, seed: int, accuracy: float, history: list[tuple[float, float, float, float]] = (),
           source_free: bool = True, protocol: str = "inductive", version: str = "",
           finished_at: str = "") -> dict[str, Any]:
    """history: per epoch (accuracy, entropy, info_max, snd); confusion built to match ``accuracy`` on 100 samples.
    ``version`` (with ``finished_at``): the run's settings and method-code hashes, as runs record them."""
    correct = round(100 * accuracy)
    confusion = [[34, 0, 0], [0, 33, 0], [0, 0, 33]]
    wrong = 100 - correct
    for row in range(3):  # move wrong predictions off the diagonal, row by row
        moved = min(wrong, confusion[row][row])
        confusion[row][row] -= moved
        confusion[row][(row + 1) % 3] += moved
        wrong -= moved
    per_class = {name: confusion[i][i] / sum(confusion[i]) for i, name in enumerate(CLASSES)}
    made_by = {"settings_sha256": f"settings-{version}", "code": {"method": {"source_sha256": f"code-{version}"}},
               "finished_at": finished_at} if version else {}
    return {
        **made_by,
        "run_id": f"{method}-{pair.replace(':', '_')}-{seed}{'-' + version if version else ''}", "method": method,
        "pair": pair, "seed": seed,
        "protocol": protocol, "source_free": source_free, "accuracy": accuracy, "macro_f1": accuracy - 0.05,
        "per_class": per_class, "confusion": confusion, "classes": CLASSES, "source_accuracy": 0.40,
        "oracle_accuracy": max((h[0] for h in history), default=None), "seconds": 1.5, "device": "cpu:test",
        "history": [{"epoch": e, "accuracy": a, "macro_f1": a - 0.05,
                     "validators": {"entropy": ent, "info_max": im, "snd": snd}}
                    for e, (a, ent, im, snd) in enumerate(history)],
    }


# shot: the oracle (best test epoch) is epoch 1 in both seeds; entropy keeps falling (picks the last epoch),
# info_max peaks at epoch 1, snd at epoch 0
SHOT_HISTORY_0 = [(0.60, 0.9, 0.50, 5.0), (0.71, 0.6, 0.80, 4.0), (0.65, 0.3, 0.70, 3.0)]
SHOT_HISTORY_1 = [(0.62, 0.8, 0.55, 5.5), (0.69, 0.5, 0.85, 4.5), (0.67, 0.2, 0.75, 3.5)]
RECORDS = [
    record("shot", "a:b", 0, 0.65, SHOT_HISTORY_0),
    record("shot", "a:b", 1, 0.67, SHOT_HISTORY_1),
    record("shot", "b:a", 0, 0.55, [(0.50, 0.9, 0.1, 1.0), (0.55, 0.5, 0.2, 2.0)]),
    record("source_only", "a:b", 0, 0.40),
    record("source_only", "b:a", 0, 0.45),
    record("nrc", "a:b", 0, 0.66, [(0.58, 0.7, 0.3, 2.0), (0.66, 0.4, 0.6, 3.0)]),
    record("target_oracle", "a:b", 0, 0.90, source_free=False),
    record("target_oracle", "b:a", 0, 0.92, source_free=False),
    # aad: seed 0 run again after its code changed (the newer run counts, the older is left out); seed 1
    # only with the older code: the cell holds 2 seeds made by 2 code versions
    record("aad", "a:b", 0, 0.30, [(0.25, 0.9, 0.2, 1.0), (0.30, 0.8, 0.3, 1.5)], version="v1",
           finished_at="2026-01-05T09:00:00+00:00"),
    record("aad", "a:b", 1, 0.62, [(0.58, 0.7, 0.4, 2.2), (0.62, 0.5, 0.6, 2.4)], version="v1",
           finished_at="2026-01-05T10:00:00+00:00"),
    record("aad", "a:b", 0, 0.60, [(0.55, 0.8, 0.3, 2.0), (0.60, 0.6, 0.5, 2.5)], version="v2",
           finished_at="2026-02-01T10:00:00+00:00"),
]


@pytest.fixture
def records() -> list[dict[str, Any]]:
    import copy

    return copy.deepcopy(RECORDS)


@pytest.fixture(scope="session")
def validators() -> dict[str, Any]:
    return dict(build_registry(default_host()).validators)


def write_runs(records: list[dict[str, Any]]) -> None:
    """Finished run folders, each named as the runner names it: by the hash of its config."""
    for record in records:
        config = {"method": record["method"], "pair": record["pair"], "seed": record["seed"],
                  "variant": record.get("variant", ""), "source": {"epochs": 30},
                  **({"settings": record["settings_sha256"]} if "settings_sha256" in record else {})}
        record["run_id"] = atomic.sha256_json(config)[:16]
        folder = results.run_dir(record["run_id"])
        folder.mkdir(parents=True)
        results.write_config(folder, config)
        results.finish_run(folder, record, [])


@pytest.fixture(name="write_runs")
def write_runs_fixture():
    """:func:`write_runs`, for tests in any module of this folder (a conftest is not importable by name)."""
    return write_runs


@pytest.fixture
def make_record():
    """:func:`record`: a run record built from a few numbers."""
    return record
