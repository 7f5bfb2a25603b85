"""Every finished run with its resolved config, flattened for pandas (CSV) or whole (JSON)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from dabench.report.selection import selections
from dabench.store import results

if TYPE_CHECKING:
    from dabench.validators import Validator

LEADING = ("run_id", "method", "pair", "seed", "protocol", "source_free", "label_access.detected", "accuracy", "macro_f1",
           "source_accuracy", "oracle_accuracy", "seconds", "device")
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
    """Records plus ``selection``: per criterion the chosen epoch and its accuracy / macro-F1."""
    return [{**record, "selection": selections(record, validators)} for record in records]


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
    return json.dumps(export_records(records, validators), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

