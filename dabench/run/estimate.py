"""Wall-time estimates of a run's stages (``--dry-run``) from a measured throughput profile.

A profile (``throughput/<name>.json``, or the user's own JSON file of the same shape) holds a device's
measured training and inference rates for one backbone at one size, and per optimiser step what a stage's
measured time held beyond its passes. A stage's estimate: steps x overhead + full-size training passes x
cost / training rate + inference passes x cost / inference rate, where cost = the backbone's cost relative to
the measured one x (image_size / measured size)^2. A backbone the profile has no cost for, a run without
bf16 autocast (the profile's measurements used it) or a stage with unknown passes: "unknown".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dabench.errors import DabenchError
from dabench.run.cost import STAGES, Stage

PROFILE_DIR = Path(__file__).with_name("throughput")
REQUIRED = ("device", "reference", "train_images_per_s", "inference_images_per_s", "step_overhead_s", "backbone_cost")


def known_profiles() -> list[str]:
    return sorted(path.stem for path in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str) -> dict[str, Any]:
    """A committed profile by name (``h200``) or a JSON file of the same shape."""
    path = PROFILE_DIR / f"{name_or_path}.json"
    if not path.is_file():
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise DabenchError(f"--estimate-for '{name_or_path}': no such profile or file; profiles: "
                               f"{', '.join(known_profiles())}, or the path of a JSON file shaped like "
                               f"{PROFILE_DIR / 'h200.json'}")
    try:
        profile = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DabenchError(f"throughput profile {path} is not readable JSON: {exc}") from None
    absent = [key for key in REQUIRED if not isinstance(profile, dict) or key not in profile]
    if absent:
        raise DabenchError(f"throughput profile {path} lacks {', '.join(absent)} (see {PROFILE_DIR / 'h200.json'})")
    profile["name"] = path.stem
    return profile


def profile_for_device(device_name: str | None) -> dict[str, Any] | None:
    """The committed profile measured on ``device_name`` (e.g. torch's "NVIDIA H200"), if there is one."""
    for name in known_profiles():
        profile = load_profile(name)
        if device_name and profile["device"].lower() in device_name.lower():
            return profile
    return None


def stage_seconds(stage: Stage, config: dict[str, Any], profile: dict[str, Any] | None) -> float | None:
    if profile is None or stage.train_passes is None:
        return None
    if profile.get("kind") == "index":  # your own finished runs: the adaptation stage only
        from dabench.run.measured import measured_seconds

        return measured_seconds(stage, config["method"], config, profile)
    cost = profile["backbone_cost"].get(config["backbone"])
    if cost is None or not config.get("amp", True):
        return None
    scale = cost * (config["image_size"] / profile["reference"]["image_size"]) ** 2
    overheads = profile["step_overhead_s"]
    overhead = overheads.get(stage.profile, overheads["default"])
    return (stage.steps * overhead + stage.full_size_passes * scale / profile["train_images_per_s"]
            + stage.infer_passes * scale / profile["inference_images_per_s"])


def why_unknown(config: dict[str, Any], profile: dict[str, Any] | None) -> str:
    if profile is None:
        return "no throughput profile for this device (--estimate-for h200, index, or a JSON file of your own)"
    if profile.get("kind") == "index":
        from dabench.run.measured import adaptation_key

        found = profile["runs"].get(adaptation_key(config["method"], config), 0)
        return (f"from {found} finished run(s) like it on {profile['device']}: the adaptation stage only" if found else
                f"no finished run of {config['method']} with this backbone, size and batch size on {profile['device']} "
                "in the index")
    if config["backbone"] not in profile["backbone_cost"]:
        return f"profile {profile['name']} has no cost for backbone '{config['backbone']}'"
    if not config.get("amp", True):
        return f"profile {profile['name']} was measured with bf16 autocast; this run has amp=false"
    return ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def passes_text(stage: Stage) -> str:
    if stage.train_passes is None:
        return "unknown"
    text = f"{stage.train_passes:,}" + (f" (+{stage.infer_passes:,} inference)" if stage.infer_passes else "")
    return text if stage.exact else f"~{text}"


def run_rows(stages: list[Stage], config: dict[str, Any], profile: dict[str, Any] | None,
             paid: set[str]) -> list[list[str]]:
    """One row per stage with work: stage, image passes, how counted, estimate; a cached stage already
    counted by an earlier run of the sweep (its key in ``paid``) shows as shared and costs nothing."""
    rows = []
    for stage in stages:
        if not stage.train_passes and not stage.infer_passes and stage.train_passes is not None:
            continue
        if stage.key is not None and stage.key in paid:
            rows.append([stage.name, passes_text(stage), stage.detail, "cached (counted once above)"])
            continue
        if stage.key is not None:
            paid.add(stage.key)
        rows.append([stage.name, passes_text(stage), stage.detail, duration(stage_seconds(stage, config, profile))])
    return rows


def totals(runs: list[tuple[list[Stage], dict[str, Any]]], profile: dict[str, Any] | None) -> dict[str, list[float]]:
    """Per stage name: [training passes, seconds, stages with unknown passes, stages with unknown time, stages]
    summed over the runs, each cached artifact once; the sums hold the known stages only."""
    summed = {name: [0, 0.0, 0, 0, 0] for name in STAGES}
    paid: set[str] = set()
    for stages, config in runs:
        for stage in stages:
            if stage.key is not None:
                if stage.key in paid:
                    continue
                paid.add(stage.key)
            seconds = stage_seconds(stage, config, profile)
            entry = summed[stage.name]
            entry[0] += stage.train_passes or 0
            entry[1] += seconds or 0.0
            entry[2] += int(stage.train_passes is None)
            entry[3] += int(seconds is None)
            entry[4] += 1
    return summed


def table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [columns, *rows]) for i in range(len(columns))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [columns, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def cost_report(plans: list[Any], registry: Any, profile: dict[str, Any] | None) -> str:
    """Per run and stage the image passes and the estimate, then the whole selection's totals per stage
    (every cached source model and SSL backbone counted once) with each stage's share of the time."""
    from dabench.run.cost import run_stages

    where = f"estimates: {profile['device']} (profile {profile['name']})" if profile else "estimates: unknown"
    if profile and profile.get("kind") == "index":
        where = f"estimates: your finished runs on {profile['device']} (the adaptation stage only)"
    out = [where]
    paid: set[str] = set()
    runs = []
    for plan in plans:
        stages = run_stages(plan, registry)
        runs.append((stages, plan.config))
        reason = why_unknown(plan.config, profile)
        if reason and not (profile and profile.get("kind") == "index"):  # under index it says where the rate came from
            reason = f"estimate unknown, {reason}"
        out += ["", f"{plan.method.id} {plan.pair} seed {plan.seed} ({plan.config['backbone']}, "
                    f"{plan.config['image_size']} px; run {plan.run_id})" + (f": {reason}" if reason else "")]
        out.append(table(["stage", "image passes", "counted as", "estimate"],
                         run_rows(stages, plan.config, profile, paid)))
    if len(plans) > 1:
        out += ["", f"all {len(plans)} runs (each cached source model and SSL backbone once):", _totals_table(runs, profile)]
    out.append("~: approximate (a kept share, a released size, or the evaluation's validator subsample); "
               "passes are training passes (crops counted), inference in parentheses")
    return "\n".join(out)


def _totals_table(runs: list[tuple[list[Stage], dict[str, Any]]], profile: dict[str, Any] | None) -> str:
    summed = totals(runs, profile)
    whole = sum(entry[1] for entry in summed.values())
    rows = []
    for name, (passes, seconds, unknown_passes, unknown_seconds, counted) in summed.items():
        rows.append([name, f"{passes:,}" + (f" + {unknown_passes} unknown" if unknown_passes else ""),
                     _sum_text(seconds, unknown_seconds, counted), f"{100 * seconds / whole:.1f}%" if whole else "-"])
    unknown = sum(entry[3] for entry in summed.values())
    rows.append(["total", "", _sum_text(whole, unknown, sum(entry[4] for entry in summed.values())), ""])
    return table(["stage", "training passes", "estimate", "share of known time"], rows)


def _sum_text(seconds: float, unknown: int, counted: int) -> str:
    if counted and unknown == counted:
        return "unknown"
    return duration(seconds) + (f" + {unknown} unknown" if unknown else "")
