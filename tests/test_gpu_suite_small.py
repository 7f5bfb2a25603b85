"""benchmarks/gpu_suite.py runs as one command and writes a sane JSON (tiny sizes, on the CPU)."""

from __future__ import annotations

import datetime
import json
import math
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_suite.py"


def test_gpu_suite_small_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "small.json"
    subprocess.run([sys.executable, str(SUITE), "--small", "--device", "cpu", "--rounds", "1", "--threads", "1",
                    "--out", str(out)], check=True, capture_output=True, text=True, timeout=120)
    result = json.loads(out.read_text())

    assert datetime.datetime.fromisoformat(result["date"]).tzinfo is not None
    assert result["device"].startswith("cpu") and result["device_type"] == "cpu" and result["small"] is True
    assert result["versions"]["torch"] and result["versions"]["dabench"] and result["torch_threads"] == 1
    assert result["peak_host_rss_bytes"] > 0

    train = result["train_step"]
    assert train["backbone"] == "small_cnn" and train["bf16_autocast"] is False
    for key in ("bare_images_per_s", "shot_images_per_s", "cluster_pl_images_per_s", "shot_labelling_pass_s"):
        assert math.isfinite(train[key]) and train[key] > 0, key
    # same model, batch and precision: the loops cannot be several times faster than the bare step
    assert 0 < train["shot_ratio"] < 3 and 0 < train["cluster_pl_ratio"] < 3
    assert train["shot_syncs_per_step"] is None  # counted on CUDA only

    extraction = result["extraction"]
    assert extraction["images"] == result["sizes"]["extract_images"] and 0 < extraction["ratio"] < 3
    assert extraction["gpu_memory"] is None

    clustering = result["clustering"]
    for name in ("kmeans_30_iterations", "cluster_pl_labels", "nrc_knn_epoch", "shot_centroid_labels"):
        assert clustering[name]["best_s"] > 0, name

    run = result["cluster_pl_run"]
    assert run["config"]["init"] == "source" and run["kept"] > 0
    assert {"data", "source_model", "method.pseudo_labels", "method.train"} <= set(run["timings"])
    assert 0 < run["forward_backward_s"]["method.train"] <= run["timings"]["method.train"] + 0.01
    assert 0 < run["fraction_outside_forward_backward"] < 1
    for stage, fraction in run["fraction_outside_forward_backward_by_stage"].items():
        assert -0.01 <= fraction <= 1, stage
