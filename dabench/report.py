"""The leaderboard: methods as rows, pairs as columns plus Avg, cells ``mean ± std (n)`` over seeds."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from typing import Any

from tabulate import tabulate

from dabench.errors import DabenchError

FORMATS = ("simple", "github", "latex", "html", "csv", "json")
TABULATE_FORMATS = {"simple": "simple", "github": "github", "latex": "latex_booktabs", "html": "html"}
METRICS = ("accuracy", "macro_f1")


def row_label(result: dict[str, Any]) -> str:
    """Rows never mix protocols; the upper bound says it is not source-free."""
    label = result["method"]
    if result.get("protocol", "inductive") != "inductive":
        label += f" [{result['protocol']}]"
    if result.get("source_free") is False:
        label += " (upper bound, not source-free)"
    return label


def leaderboard_cells(records: list[dict[str, Any]], pairs: list[str] | None = None,
                      metric: str = "accuracy") -> tuple[list[str], dict[str, dict[str, list[float]]]]:
    """(pairs in column order, row label -> pair -> values over seeds, in percent)."""
    if metric not in METRICS:
        raise DabenchError(f"unknown metric '{metric}'; valid metrics: {', '.join(METRICS)}")
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if pairs is None or record["pair"] in pairs:
            cells[row_label(record)][record["pair"]].append(100.0 * record[metric])
    columns = pairs if pairs is not None else sorted({record["pair"] for record in records})
    return columns, cells


def format_cell(values: list[float]) -> str:
    if not values:
        return "— (no runs)"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {std:.2f} ({len(values)})"


def leaderboard_table(records: list[dict[str, Any]], pairs: list[str] | None = None,
                      metric: str = "accuracy") -> tuple[list[str], list[list[str]]]:
    """Header and rows; Avg is the mean of per-pair means and is given only when every pair has runs."""
    columns, cells = leaderboard_cells(records, pairs, metric)
    header = ["method", *columns, "Avg"]
    rows = []
    for label in sorted(cells):
        per_pair = cells[label]
        row = [label, *(format_cell(per_pair.get(pair, [])) for pair in columns)]
        means = [statistics.fmean(per_pair[pair]) for pair in columns if per_pair.get(pair)]
        missing = len(columns) - len(means)
        row.append(f"{statistics.fmean(means):.2f}" if not missing else f"— ({missing} pair(s) missing)")
        rows.append(row)
    return header, rows


def render(header: list[str], rows: list[list[str]], fmt: str) -> str:
    if fmt not in FORMATS:
        raise DabenchError(f"unknown format '{fmt}'; valid formats: {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps([dict(zip(header, row)) for row in rows], indent=2, ensure_ascii=False)
    return tabulate(rows, headers=header, tablefmt=TABULATE_FORMATS[fmt], disable_numparse=True)
