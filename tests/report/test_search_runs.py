"""A sweep's progress lines say which grid point each run is, and `report search` lists the runs a search
ran (recorded by the sweep) and no other run."""

from __future__ import annotations

import copy
import csv
import io
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from dabench.cli import cli
from dabench.errors import DabenchError
from dabench.host import registry as registry_module
from dabench.store import results, searches
from dabench.sweep.execute import Entry, format_status, point_labels, record_searches
from dabench.sweep.plan import plan_sweep

PAIR = "synth-lab:synth-wild"


def _requests(registry, grid: tuple[str, ...], methods=("tent", "source_only"), seeds=(0, 1)):
    return [request for _, request in plan_sweep(registry, list(methods), [PAIR], list(seeds), sets=("batch_size=8",),
                                                 grid=grid)]


def test_progress_labels_name_the_grid_point(registry) -> None:
    requests = _requests(registry, ("lr=0.01,0.001", "epochs=1,2"))
    labels = point_labels(requests)
    tent = sorted(labels[r.run_id] for r in requests if r.method == "tent" and r.seed == 0)
    assert tent == [f"tent {PAIR} seed 0 [lr=0.001, epochs=1]", f"tent {PAIR} seed 0 [lr=0.001, epochs=2]",
                    f"tent {PAIR} seed 0 [lr=0.01, epochs=1]", f"tent {PAIR} seed 0 [lr=0.01, epochs=2]"]
    # source_only has none of the keys: one run per seed, labelled as before
    assert sorted(labels[r.run_id] for r in requests if r.method == "source_only") == [
        f"source_only {PAIR} seed 0", f"source_only {PAIR} seed 1"]
    assert len(set(labels.values())) == len(requests)
    # `dabench status` names a failed run of the search by the same label
    failed = [Entry(request, "failed", "RuntimeError: boom") for request in requests if request.method == "tent"]
    shown = format_status(failed).splitlines()
    assert sorted(shown[2:]) == sorted(f"  {labels[e.request.run_id]} (run {e.request.run_id}): RuntimeError: boom"
                                       for e in failed)


@pytest.mark.parametrize("draw", range(4))
def test_no_two_runs_of_a_grid_share_a_progress_label(registry, draw: int) -> None:
    """The class: grids of values nobody listed here, each run's line is its own and names its values."""
    rng = random.Random(draw)
    keys = rng.sample(["lr", "epochs", "batch_size"], k=rng.randint(1, 3))
    values = {"lr": lambda: f"{rng.uniform(1e-5, 1):.5g}", "epochs": lambda: str(rng.randint(1, 50)),
              "batch_size": lambda: str(rng.randint(2, 256))}
    grid = tuple(f"{key}={','.join(dict.fromkeys(values[key]() for _ in range(rng.randint(2, 3))))}" for key in keys)
    requests = _requests(registry, grid, methods=("tent",), seeds=(0, 3))
    labels = point_labels(requests)
    assert len(set(labels.values())) == len(requests) > 1
    for request in requests:
        point = [s for s in request.sets if s.split("=")[0] in keys and s != "batch_size=8"]
        assert labels[request.run_id].endswith(f" [{', '.join(point)}]"), (labels[request.run_id], point)


def test_a_sweep_records_its_search_and_a_sweep_without_one_records_nothing(registry, fresh_home: Path) -> None:
    record_searches(_requests(registry, ()))
    assert searches.search_run_ids() == set()
    requests = _requests(registry, ("lr=0.01,0.001",))
    record_searches(requests)
    record_searches(requests)  # a resumed sweep: the same record, not a second one
    assert searches.search_run_ids() == {r.run_id for r in requests if r.method == "tent"}
    assert len(list(results.paths.searches_dir().iterdir())) == 1


@pytest.fixture
def runs(fresh_home: Path, make_record, write_runs) -> list[dict]:
    registry_module.reset()
    made = []
    for variant, entropy in (("lr=0.01", 0.5), ("lr=0.001", 0.3)):  # the search's two points
        run = make_record("tent", "a:b", 0, 0.6, [(0.6, entropy, 0.5, 1.0)])
        made.append(dict(run, variant=variant))
    outside = [dict(make_record("shot", "a:b", 0, 0.7, [(0.7, 0.9, 0.5, 1.0)]), variant=""),  # plain runs of
               dict(make_record("shot", "a:b", 0, 0.8, [(0.8, 0.1, 0.5, 1.0)]), variant="epochs=1")]  # two settings
    write_runs(made + outside)
    yield copy.deepcopy(made)
    registry_module.reset()


def test_report_search_lists_only_the_runs_a_search_ran(runs: list[dict]) -> None:
    out = CliRunner().invoke(cli, ["report", "search", "--by", "entropy"])
    assert isinstance(out.exception, DabenchError)
    assert str(out.exception).startswith("no hyperparameter search was run with this DABENCH_HOME")
    searches.record_search([run["run_id"] for run in runs])
    out = CliRunner().invoke(cli, ["report", "search", "--by", "entropy", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.stdout)))[1:]
    assert [(row[0], row[2], row[-1]) for row in rows] == [("tent", "lr=0.001", "<- picked"), ("tent", "lr=0.01", "")]
