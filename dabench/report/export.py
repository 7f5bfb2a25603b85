"""Every finished run with its resolved config, flattened for pandas (CSV) or whole (JSON), each saying whether
the leaderboard ranks it (``dabench.report.rows.ranked``). JSON is strict: a NaN or inf is written as null."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from dabench.report.rows import non_finite, why_not_ranked
from dabench.report.selection import selections
from dabench.store import results

if TYPE_CHECKING:
    from dabench.validators import Validator

LEADING = ("run_id", "method", "pair", "seed", "protocol", "source_free", "ranked", "not_ranked", "label_access.detected",
           "accuracy", "macro_f1", "source_accuracy", "oracle_accuracy", "seconds", "device")
NESTED_LISTS = ("history", "confusion", "pseudo_label_quality")  # kept in JSON; too nested for a CSV cell


def attach_configs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record with ``config`` read from its run folder's config.yaml (None if the folder is gone)."""
    out = []
    for record in records:
        path = results.run_dir(record["run_id"]) / "config.yaml"
        config = yaml.safe_load(path.read_text()) if path.exists() else None
        out.append({**record, "config": config})
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists become JSON text."""
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, (list, tuple)):
        return {prefix: json.dumps(value)}
    return {prefix: value}


def export_records(records: list[dict[str, Any]], validators: Mapping[str, Validator]) -> list[dict[str, Any]]:
    """Records plus ``ranked`` / ``not_ranked`` (why not, else null) and ``selection``: per criterion the chosen
    epoch and its accuracy / macro-F1 (null for a run that is not ranked: nothing is chosen from it)."""
    out = []
    for record in records:
        why = why_not_ranked(record)
        chosen = selections(record, validators) if why is None else {}
        out.append(finite_or_null({**record, "ranked": why is None, "not_ranked": why, "selection": chosen}))
    return out


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN and ±inf replaced by None (JSON null, an empty CSV cell)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(item) for item in value]
    return value


def nulled_values(records: list[dict[str, Any]]) -> list[str]:
    """Where the export writes null for a non-finite number: ``run <id> <path>`` each."""
    return [f"run {record.get('run_id')} {spot}" for record in records for spot in non_finite(record)]


def export_csv(records: list[dict[str, Any]], validators: Mapping[str, Validator]) -> str:
    rows = []
    for record in export_records(records, validators):
        row = {key: value for key, value in record.items() if key not in NESTED_LISTS}
        rows.append(flatten(row))
    columns = [c for c in LEADING if any(c in row for row in rows)]
    columns += sorted({key for row in rows for key in row} - set(columns))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def export_json(records: list[dict[str, Any]], validators: Mapping[str, Validator]) -> str:
    return json.dumps(export_records(records, validators), indent=2, ensure_ascii=False, sort_keys=True,
                      allow_nan=False) + "\n"

