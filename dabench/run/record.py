"""The result record of one run (result.json): its metrics, history, timings and what made it (device,
versions, git revision, determinism, code)."""

from __future__ import annotations

import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

import dabench
from dabench.data.dataset import Split
from dabench.host.registry import Registry
from dabench.methods import MethodRecords
from dabench.run import provenance
from dabench.run.evaluate import pseudo_label_quality
from dabench.run.plan import RunPlan
from dabench.run.start import normalization_of
from dabench.settings.config import NORMALIZATIONS
from dabench.store import atomic
from dabench.train.device import determinism_report


class Timings:
    """Seconds per stage of a run (``data``, ``source_model``, ``evaluate``, ``adapt``), added lap by lap."""

    def __init__(self, data_seconds: float) -> None:
        self.data_seconds = data_seconds
        self.stages: dict[str, float] = {"data": round(data_seconds, 3)}
        self.started = self._mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage``."""
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._mark, 3)
        self._mark = now

    def total(self) -> float:
        """Seconds since the run started, data preparation included."""
        return time.perf_counter() - self.started + self.data_seconds


def result_record(plan: RunPlan, registry: Registry, device: torch.device, records: MethodRecords, *,
                  final: dict[str, Any], source_metrics: dict[str, Any], history: list[dict[str, Any]],
                  label_access: dict[str, Any], adapt: Split, target_test_size: int, source_meta: dict[str, Any],
                  split_hashes: dict[str, Any], timings: Timings, seconds: float) -> dict[str, Any]:
    """What result.json holds: ``final`` and ``source_metrics`` are the adapted and the source model's
    target-test metrics, ``history`` the closed per-epoch history, ``adapt`` the split the method adapted on."""
    config = plan.config
    return {
        "run_id": plan.run_id, "method": plan.method.id, "pair": str(plan.pair), "seed": plan.seed,
        "protocol": config["protocol"], "source_free": plan.method.source_free, "variant": config["variant"],
        "accuracy": final["accuracy"], "macro_f1": final["macro_f1"], "per_class": final["per_class"],
        "confusion": final["confusion"], "classes": list(plan.classes),
        "source_accuracy": source_metrics["accuracy"], "source_macro_f1": source_metrics["macro_f1"],
        "history": history,
        "oracle_accuracy": max((h["accuracy"] for h in history), default=None),
        "seconds": round(seconds, 3), "device": device_name(device), "node": provenance.node_record(),
        "timings": {**timings.stages, **{f"method.{k}": round(v, 3) for k, v in records.timings.items()}},
        "method_records": records.values,
        "pseudo_label_quality": pseudo_label_quality(records.pseudo_labels, adapt.labels),
        "label_access": label_access,
        "source_model": {k: source_meta.get(k) for k in ("sha256", "path", "source_val_accuracy", "source_test_accuracy",
                                                          "init")},
        "normalization": normalization_record(config),  # what the inputs were normalised with, in numbers
        "backbone_weights": ({"path": config["backbone_weights"], "sha256": config.get("backbone_weights_sha256")}
                             if config.get("backbone_weights") else None),
        "target_train_size": len(adapt), "target_test_size": target_test_size,
        "split_hashes": split_hashes,
        "versions": versions(), "git_revision": git_revision(),
        "determinism": determinism_report(device, config["amp"]),
        **run_identity(registry, plan),  # finished_at, settings_sha256, code (not in the run id)
    }


def normalization_record(config: dict[str, Any]) -> dict[str, Any]:
    """The run's input normalisation: its name and the per-channel mean and std images in [0, 1] are mapped by."""
    name = normalization_of(config)
    mean, std = NORMALIZATIONS[name]
    return {"name": name, "mean": list(mean), "std": list(std)}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def versions() -> dict[str, str]:
    return {"dabench": dabench.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "sklearn": sklearn.__version__, "python": platform.python_version(),
            "cudnn": str(torch.backends.cudnn.version()) if torch.cuda.is_available() else None}


def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(dabench.__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_identity(registry: Registry, plan: RunPlan) -> dict[str, Any]:
    """What made a run of ``plan``, beside its config (result.json, not the run id): when it finished
    (``finished_at``, UTC), ``settings_sha256`` (its config's hash less the seed and the source-model
    file: two runs of one leaderboard cell with different hashes were made by different code or
    defaults) and ``code``, each plugin's distribution, version and source hash (dabench.run.provenance)."""
    settings = {key: value for key, value in plan.config.items() if key not in ("seed", "source_model")}
    return {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings_sha256": atomic.sha256_json(settings)[:16],
            "code": provenance.code_record(registry, plan.method.id, plan.config["backbone"],
                                           (plan.pair.source, plan.pair.target))}
