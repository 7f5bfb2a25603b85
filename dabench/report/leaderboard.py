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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from dabench.errors import DabenchError
from dabench.report.rows import METRIC_LABELS, code_version, left_out_note, newest_per_seed, row_label
from dabench.report.selection import LAST, check_criterion, criterion_label, select

if TYPE_CHECKING:  # reports read result files, never models: nothing here may import torch
    from dabench.validators import Validator

FORMATS = ("simple", "github", "latex", "html", "csv", "json")
TABULATE_FORMATS = {"simple": "simple", "github": "github", "html": "unsafehtml"}
METRICS = ("accuracy", "macro_f1")
Cell = tuple[str, str]  # (row label, column name)


def first_column(selection: str, metric: str = "accuracy") -> str:
    """The header of the method column says what every cell holds, the metric and the selection, so that
    an accuracy table and a macro-F1 table stay distinguishable once pasted."""
    return f"method ({METRIC_LABELS[metric]} %, {criterion_label(selection)})"


@dataclass
class CellRuns:
    """Each cell's runs, one per seed (row label -> pair -> runs), and what was left out."""

    columns: list[str]
    runs: dict[str, dict[str, list[dict[str, Any]]]]
    superseded: dict[Cell, int]


def cell_runs(records: list[dict[str, Any]], pairs: list[str] | None = None) -> CellRuns:
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if pairs is None or record["pair"] in pairs:
            grouped[row_label(record)][record["pair"]].append(record)
    superseded: dict[Cell, int] = {}
    for label, per_pair in grouped.items():
        for pair, runs in per_pair.items():
            per_pair[pair], dropped = newest_per_seed(runs)
            if dropped:
                superseded[(label, pair)] = dropped
    columns = pairs if pairs is not None else sorted({record["pair"] for record in records})
    return CellRuns(columns, grouped, superseded)


def leaderboard_cells(records: list[dict[str, Any]], pairs: list[str] | None = None, metric: str = "accuracy",
                      selection: str = LAST, validators: Mapping[str, Validator] | None = None,
                      ) -> tuple[list[str], dict[str, dict[str, list[float]]]]:
    """(pairs in column order, row label -> pair -> values over seeds, in percent; one value per seed,
    the newest run's). Runs the criterion cannot select from (no validator scores) are left out, so their
    cells say why."""
    columns, cells, _ = _cell_values(records, pairs, metric, selection, validators)
    return columns, cells


def _cell_values(records: list[dict[str, Any]], pairs: list[str] | None, metric: str, selection: str,
                 validators: Mapping[str, Validator] | None,
                 ) -> tuple[list[str], dict[str, dict[str, list[float]]], dict[Cell, int]]:
    """leaderboard_cells, plus how many code versions made each cell's values."""
    if metric not in METRICS:
        raise DabenchError(f"unknown metric '{metric}'; valid metrics: {', '.join(METRICS)}")
    validators = validators or {}
    check_criterion(selection, validators)
    grouped = cell_runs(records, pairs)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    versions: dict[Cell, int] = {}
    for label, per_pair in grouped.runs.items():
        for pair, runs in per_pair.items():
            values, made_by = cells[label][pair], set()
            for record in runs:
                chosen = select(record, selection, validators)
                if chosen is not None and chosen.get(metric) is not None:
                    values.append(100.0 * chosen[metric])
                    made_by.add(code_version(record))
            versions[(label, pair)] = len(made_by)
    return grouped.columns, cells, versions


def format_cell(values: list[float], why_empty: str = "no runs", versions: int = 1) -> str:
    """``mean ± std (n)``; one run has no spread to show, so ``mean (1)`` (never a ``± 0.00``); a cell whose
    runs were made by several code versions says so, ``mean ± std (n, 2 code versions)``."""
    if not values:
        return f"— ({why_empty})"
    mean = statistics.fmean(values)
    count = f"{len(values)}, {versions} code versions" if versions > 1 else str(len(values))
    if len(values) == 1:
        return f"{mean:.2f} ({count})"
    return f"{mean:.2f} ± {statistics.stdev(values):.2f} ({count})"


def leaderboard(records: list[dict[str, Any]], pairs: list[str] | None = None, metric: str = "accuracy",
                selection: str = LAST, validators: Mapping[str, Validator] | None = None,
                ) -> tuple[list[str], list[list[str]], set[Cell]]:
    """Header, rows and the cells to print in bold: per column, the best mean among measured
    source-free rows (the upper bound and reported rows compete with nobody)."""
    columns, cells, versions = _cell_values(records, pairs, metric, selection, validators)
    present = {(row_label(r), r["pair"]) for r in records}
    header = [first_column(selection, metric), *columns, "Avg"]
    rows, means = [], defaultdict(dict)
    for label in sorted(cells):
        per_pair = cells[label]
        row = [label]
        for pair in columns:
            why = f"runs lack {selection} scores" if (label, pair) in present else "no runs"
            row.append(format_cell(per_pair.get(pair, []), why, versions.get((label, pair), 1)))
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


def only(records: list[dict[str, Any]], methods: list[str] | None = None,
         pairs: list[str] | None = None) -> list[dict[str, Any]]:
    """The runs of ``methods`` on ``pairs`` (None: all); a name no run has is one error naming those that do."""
    unknown = []
    for option, names, field in (("--methods", methods, "method"), ("--pairs", pairs, "pair")):
        have = sorted({record[field] for record in records})
        bad = [name for name in names or () if name not in have]
        if bad:
            unknown.append(f"{option} {', '.join(bad)} ({field}s with runs here: {', '.join(have) or 'none'})")
    if unknown:
        raise DabenchError(f"no runs of {'; '.join(unknown)}")
    return [record for record in records if (methods is None or record["method"] in methods)
            and (pairs is None or record["pair"] in pairs)]


def leaderboard_notes(records: list[dict[str, Any]], rows: list[list[str]], pairs: list[str] | None = None,
                      not_installed: Mapping[str, int] | None = None,
                      left_out: list[tuple[dict[str, Any], str]] | None = None) -> list[str]:
    """What a reader of the table must know that its cells cannot say: the runs left out because they are
    not ranked (``rows.ranked``: label access, non-finite metrics), which cells mix code versions, the older
    runs of a seed left out, and the runs of methods not installed here (kept out of the table)."""
    notes = [left_out_note(record, why) for record, why in left_out or ()]
    if any("code versions)" in cell for row in rows for cell in row[1:]):
        notes.append("(n, k code versions): the cell's seeds were run by k versions of the method's code or "
                     "defaults (result.json: code, settings_sha256); run its seeds again to make it one")
    superseded = cell_runs(records, pairs).superseded
    if superseded:
        where = ", ".join(f"{label} on {pair}: {count}" for (label, pair), count in sorted(superseded.items()))
        notes.append(f"left out: {sum(superseded.values())} older run(s) of a seed that a newer run of the same "
                     f"cell replaces ({where})")
    if not_installed:
        listed = ", ".join(f"{method} ({count} run{'s' if count > 1 else ''})"
                           for method, count in sorted(not_installed.items()))
        notes.append(f"runs of methods not installed here: {listed}")
    return notes


def with_notes(table: str, notes: list[str], fmt: str) -> tuple[str, str]:
    """(stdout, stderr): the table, then its notes after a blank line (as ``%`` comments in LaTeX, ``<p>``
    in HTML, paragraphs in markdown); csv and json notes go to stderr, so that stdout stays one table."""
    if not notes:
        return table, ""
    if fmt in ("csv", "json"):
        return table, "\n".join(notes)
    if fmt == "latex":
        lines = [f"% {note}" for note in notes]
    elif fmt == "html":
        lines = [f"<p>{html.escape(note)}</p>" for note in notes]
    else:
        lines = notes
    return table + "\n\n" + ("\n\n" if fmt == "github" else "\n").join(lines), ""


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
