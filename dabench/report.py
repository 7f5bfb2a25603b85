"""The leaderboard: methods as rows, pairs as columns plus Avg, cells ``mean ± std (n)`` over seeds,
under a stated model-selection criterion; rendered as text, markdown, LaTeX (booktabs), HTML, CSV, JSON."""

from __future__ import annotations

import csv
import html
import io
import json
import statistics
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from dabench.errors import DabenchError
from dabench.reports.selection import LAST, check_criterion, criterion_label, select

if TYPE_CHECKING:  # reports read result files, never models: nothing here may import torch
    from dabench.validators import Validator

FORMATS = ("simple", "github", "latex", "html", "csv", "json")
TABULATE_FORMATS = {"simple": "simple", "github": "github", "html": "unsafehtml"}
METRICS = ("accuracy", "macro_f1")
METRIC_LABELS = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
Cell = tuple[str, str]  # (row label, column name)


def row_label(result: dict[str, Any]) -> str:
    """Rows never mix protocols or settings; the upper bound says it is not source-free."""
    label = result["method"]
    if result.get("variant"):  # non-default settings never share a row with the defaults
        label += f" [{result['variant']}]"
    if result.get("protocol", "inductive") != "inductive":
        label += f" [{result['protocol']}]"
    if result.get("source_free") is False:
        label += " (upper bound, not source-free)"
    return label


def first_column(selection: str, metric: str = "accuracy") -> str:
    """The header of the method column says what every cell holds, the metric and the selection, so that
    an accuracy table and a macro-F1 table stay distinguishable once pasted."""
    return f"method ({METRIC_LABELS[metric]} %, {criterion_label(selection)})"


def leaderboard_cells(records: list[dict[str, Any]], pairs: list[str] | None = None, metric: str = "accuracy",
                      selection: str = LAST, validators: Mapping[str, Validator] | None = None,
                      ) -> tuple[list[str], dict[str, dict[str, list[float]]]]:
    """(pairs in column order, row label -> pair -> values over seeds, in percent). Runs the criterion
    cannot select from (no validator scores) are left out, so their cells say why."""
    if metric not in METRICS:
        raise DabenchError(f"unknown metric '{metric}'; valid metrics: {', '.join(METRICS)}")
    validators = validators or {}
    check_criterion(selection, validators)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if pairs is None or record["pair"] in pairs:
            chosen = select(record, selection, validators)
            values = cells[row_label(record)][record["pair"]]
            if chosen is not None and chosen.get(metric) is not None:
                values.append(100.0 * chosen[metric])
    columns = pairs if pairs is not None else sorted({record["pair"] for record in records})
    return columns, cells


def format_cell(values: list[float], why_empty: str = "no runs") -> str:
    """``mean ± std (n)``; one run has no spread to show, so ``mean (1)`` (never a ``± 0.00``)."""
    if not values:
        return f"— ({why_empty})"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f} (1)"
    return f"{mean:.2f} ± {statistics.stdev(values):.2f} ({len(values)})"


def leaderboard(records: list[dict[str, Any]], pairs: list[str] | None = None, metric: str = "accuracy",
                selection: str = LAST, validators: Mapping[str, Validator] | None = None,
                ) -> tuple[list[str], list[list[str]], set[Cell]]:
    """Header, rows and the cells to print in bold: per column, the best mean among measured
    source-free rows (the upper bound and reported rows compete with nobody)."""
    columns, cells = leaderboard_cells(records, pairs, metric, selection, validators)
    present = {(row_label(r), r["pair"]) for r in records}
    header = [first_column(selection, metric), *columns, "Avg"]
    rows, means = [], defaultdict(dict)
    for label in sorted(cells):
        per_pair = cells[label]
        row = [label]
        for pair in columns:
            why = f"runs lack {selection} scores" if (label, pair) in present else "no runs"
            row.append(format_cell(per_pair.get(pair, []), why))
            if per_pair.get(pair):
                means[pair][label] = statistics.fmean(per_pair[pair])
        pair_means = [statistics.fmean(per_pair[pair]) for pair in columns if per_pair.get(pair)]
        missing = len(columns) - len(pair_means)
        row.append(f"{statistics.fmean(pair_means):.2f}" if not missing else f"— ({missing} pair(s) missing)")
        if not missing:
            means["Avg"][label] = statistics.fmean(pair_means)
        rows.append(row)
    competing = {row_label(r) for r in records if r.get("source_free") is not False}
    bold: set[Cell] = set()
    for column, by_label in means.items():
        eligible = {label: mean for label, mean in by_label.items() if label in competing}
        if eligible:
            best = round(max(eligible.values()), 2)
            bold |= {(label, column) for label, mean in eligible.items() if round(mean, 2) == best}
    return header, rows, bold


def leaderboard_table(records: list[dict[str, Any]], pairs: list[str] | None = None, metric: str = "accuracy",
                      selection: str = LAST, validators: Mapping[str, Validator] | None = None,
                      ) -> tuple[list[str], list[list[str]]]:
    """Header and rows; Avg is the mean of per-pair means and is given only when every pair has runs."""
    header, rows, _ = leaderboard(records, pairs, metric, selection, validators)
    return header, rows


LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "±": r"$\pm$", "—": "---",
                 "<": r"$<$", ">": r"$>$"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_ESCAPES.get(char, char) for char in text)


def render_latex(header: list[str], rows: list[list[str]], bold: set[Cell] = frozenset()) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), ready for a ``table`` float."""

    def line(cells: list[str], label: str | None) -> str:
        out = []
        for column, cell in zip(header, cells):
            text = latex_escape(cell)
            out.append(rf"\textbf{{{text}}}" if label is not None and (label, column) in bold else text)
        return " & ".join(out) + r" \\"

    body = [line(row, row[0]) for row in rows]
    return "\n".join([rf"\begin{{tabular}}{{l{'r' * (len(header) - 1)}}}", r"\toprule", line(header, None),
                      r"\midrule", *body, r"\bottomrule", r"\end{tabular}"])


def render(header: list[str], rows: list[list[str]], fmt: str, bold: set[Cell] = frozenset()) -> str:
    """One table in ``fmt``; ``bold`` cells (row label, column) are emphasised in github, latex and html."""
    if fmt not in FORMATS:
        raise DabenchError(f"unknown format '{fmt}'; valid formats: {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":  # a stable "method" key for code; what the cells hold goes in "values"
        label, _, held = header[0].partition(" (")
        extra = {"values": held.removesuffix(")")} if held else {}
        return json.dumps([{label: row[0], **dict(zip(header[1:], row[1:])), **extra} for row in rows], indent=2,
                          ensure_ascii=False)
    if fmt == "latex":
        return render_latex(header, rows, bold)
    if fmt == "html":
        rows = [[f"<b>{html.escape(cell)}</b>" if (row[0], column) in bold else html.escape(cell)
                 for column, cell in zip(header, row)] for row in rows]
        header = [html.escape(cell) for cell in header]
    elif fmt == "github":
        rows = [[f"**{cell}**" if (row[0], column) in bold else cell for column, cell in zip(header, row)]
                for row in rows]
    return tabulate(rows, headers=header, tablefmt=TABULATE_FORMATS[fmt], disable_numparse=True)
