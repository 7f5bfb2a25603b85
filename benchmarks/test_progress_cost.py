"""What a run's progress output costs: one epoch of the real ``Shot.adapt`` on generated faces at 32 px
(small_cnn, 1,536 images, batch 64, CPU), with the run's live log on (one line per epoch in log.txt,
progress.json rewritten, the line on stderr as off a terminal) against the same epoch with it off, in one
run. The promise (README): under 1% of a run's time.

Run: .venv/bin/pytest benchmarks/test_progress_cost.py --benchmark-only -s
DABENCH_BENCH_THREADS=N sets torch's CPU threads.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_suite import face_images, make_model, shot_epoch  # noqa: E402
from dabench.store import progress  # noqa: E402

DEVICE = torch.device("cpu")
RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def threads():
    if os.environ.get("DABENCH_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["DABENCH_BENCH_THREADS"]))
    yield
    if len(RESULTS) == 2:
        print(f"\nprogress output: {RESULTS['with_log'] / RESULTS['without_log']:.4f} x the epoch without it "
              f"(min of rounds: {RESULTS['with_log']:.3f} s vs {RESULTS['without_log']:.3f} s)")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return face_images(1536, 4096, 32, DEVICE)


@pytest.mark.parametrize("with_log", [False, True], ids=["without_log", "with_log"])
def test_shot_epoch(benchmark, images: torch.Tensor, with_log: bool, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # off a terminal: the line is printed too
    model = make_model("small_cnn", DEVICE)

    def epoch() -> None:
        log = progress.run_log(tmp_path, "shot synth-lab:synth-wild seed 0") if with_log else contextlib.nullcontext()
        with log:
            shot_epoch(model, images, 64, DEVICE)

    benchmark.pedantic(epoch, rounds=5, warmup_rounds=1)
    RESULTS["with_log" if with_log else "without_log"] = benchmark.stats.stats.min
    if with_log:
        assert (tmp_path / "log.txt").read_text().count("shot epoch 1/1") == 6  # warm-up + 5 rounds
