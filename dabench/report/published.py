"""Reported results: published numbers kept in YAML files (``dabench/report/published/*.yaml`` shipped,
``$DABENCH_HOME/reported/*.yaml`` added by users), shown beside measured leaderboard rows, never averaged
with them. The file format is documented in docs/reported-results.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dabench.errors import DabenchError
from dabench.store import paths

PACKAGED = Path(__file__).resolve().parent / "reported"
METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class ReportedRow:
    """One method's published numbers (percent) per pair ``src:tgt``, with where they come from."""

    method: str
    source: str  # short label shown in the row, e.g. "CD-FER TPAMI 2022"
    metric: str
    results: dict[str, float]
    backbone: str = ""
    url: str = ""
    file: str = ""

    @property
    def label(self) -> str:
        backbone = f", {self.backbone}" if self.backbone else ""
        return f"{self.method} (reported, {self.source}{backbone})"


def reported_dirs() -> list[Path]:
    return [PACKAGED, paths.home() / "reported"]


def load_file(path: Path) -> list[ReportedRow]:
    """The rows of one file; any mistake is a DabenchError naming the file and the field."""
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DabenchError(f"reported results file {path} cannot be read: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("rows"), list):
        raise DabenchError(f"reported results file {path} must be a mapping with a 'rows' list "
                           "(see docs/reported-results.md)")
    for key in ("source", "metric"):
        if not isinstance(spec.get(key), str):
            raise DabenchError(f"reported results file {path}: '{key}' (a string) is required")
    if spec["metric"] not in METRICS:
        raise DabenchError(f"reported results file {path}: metric must be one of {', '.join(METRICS)}")
    rows = []
    for number, row in enumerate(spec["rows"], start=1):
        if not isinstance(row, dict) or not isinstance(row.get("method"), str) or not isinstance(row.get("results"), dict):
            raise DabenchError(f"reported results file {path}: row {number} needs 'method' and a 'results' mapping")
        results = {}
        for pair, value in row["results"].items():
            if not isinstance(pair, str) or pair.count(":") != 1 or not isinstance(value, (int, float)):
                raise DabenchError(f"reported results file {path}: row {number} ({row['method']}): "
                                   f"'{pair}: {value}' must be 'source:target: percent'")
            if not 0 <= value <= 100:
                raise DabenchError(f"reported results file {path}: row {number} ({row['method']}): {pair} = "
                                   f"{value} is not a percentage")
            results[pair] = float(value)
        rows.append(ReportedRow(row["method"], str(row.get("source", spec["source"])), spec["metric"], results,
                                str(row.get("backbone", spec.get("backbone", ""))), str(spec.get("url", "")),
                                str(path)))
    return rows


def load_reported(dirs: list[Path] | None = None) -> list[ReportedRow]:
    """Every row of every ``*.yaml`` in ``dirs`` (default: the shipped files, then the user's)."""
    rows: list[ReportedRow] = []
    for folder in dirs if dirs is not None else reported_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                rows += load_file(path)
    return rows


def leaderboard_rows(columns: list[str], metric: str = "accuracy",
                     rows: list[ReportedRow] | None = None) -> list[list[str]]:
    """Rows for the leaderboard's ``columns`` (pairs) plus Avg: a row's own mean over the columns,
    given only when it reports every column. Rows reporting none of the columns are left out."""
    table: list[list[Any]] = []
    for row in rows if rows is not None else load_reported():
        if row.metric != metric or not any(pair in row.results for pair in columns):
            continue
        cells = [f"{row.results[pair]:.2f}" if pair in row.results else "— (not reported)" for pair in columns]
        missing = sum(pair not in row.results for pair in columns)
        average = (f"{statistics.fmean(row.results[p] for p in columns):.2f}" if not missing
                   else f"— ({missing} pair(s) not reported)")
        table.append([row.label, *cells, average])
    return table
