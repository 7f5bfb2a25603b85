"""`dabench report ...`: tables and figures read from the run folders and their index, never from models.

The plugin registry is loaded only where a report needs what plugins provide: a suite's pairs, a
validator's direction (a label-free selection; the selection and export reports list every validator), or
an alias of a method id not recorded as such in the runs. Loading it imports the plugins, and the
built-in ones import torch; everything else here stays torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dabench.errors import DabenchError
from dabench.host.registry import get_registry
from dabench.report import leaderboard as report
from dabench.report.rows import ranked
from dabench.report.selection import LAST, ORACLE
from dabench.store import atomic, paths, results, searches

SELECTION_HELP = ("Which epoch each run is scored at: last (the default), oracle (best epoch on target TEST, "
                  "analysis only, always labelled) or a label-free validator (dabench list validators).")
VARIANT_HELP = ("Which settings variant, as the leaderboard shows it in brackets (e.g. 'epochs=1, "
                "backbone=resnet18'), or 'default'; needed when the runs have several.")


class OutputFile(click.ParamType):
    """A file a command will write (``--out``): checked as it is parsed, so before any work, by the one shared
    check (dabench.store.paths.check_output): a folder, a path under a file, a device, an unwritable place."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        option = param.opts[0] if param is not None and param.opts else "--out"
        return paths.check_output(Path(value) if not isinstance(value, Path) else value, option)


@click.group("report")
def report_group() -> None:
    """Tables and figures from the finished runs."""


def _finished_runs() -> list[dict[str, Any]]:
    records = results.load_results()
    if not records:
        raise DabenchError(f"no finished runs in {paths.runs_dir()}; start one with `dabench run`")
    return records


def _echo(table: str, notes: list[str], fmt: str) -> None:
    """A table and the notes on what it left out (after it; on stderr for csv and json)."""
    text, aside = report.with_notes(table, notes, fmt)
    click.echo(text)
    if aside:
        click.echo(aside, err=True)


def _validators_for(selection: str) -> dict[str, Any]:
    """The validators a criterion needs: none for last and oracle, which read the recorded accuracies; a
    validator's name (or an unknown criterion, whose error lists the valid ones) needs the plugins."""
    return {} if selection in (LAST, ORACLE) else get_registry().validators


def _method_id(name: str, records: list[dict[str, Any]]) -> str:
    """``name`` as the runs record it; the registry only to resolve an alias or refuse an unknown method."""
    if any(record["method"] == name for record in records):
        return name
    return get_registry().method(name).id


def _suite_pairs(suite: str | None) -> list[str] | None:
    return list(get_registry().suite(suite).pairs) if suite else None


@report_group.command("reindex")
def reindex() -> None:
    """Rebuild results.sqlite from the run folders. Reports already update it whenever runs/ changes
    (a folder added, deleted or edited); this rebuilds it from scratch, e.g. after restoring a backup."""
    count = results.rebuild_index()
    click.echo(f"indexed {count} finished run(s) from {paths.runs_dir()} in {paths.index_path()}")


@report_group.command("leaderboard")
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--suite", default=None, help="Only this suite's pairs, in its order.")
@click.option("--methods", default=None, help="Only these methods' rows (comma-separated ids).")
@click.option("--pairs", default=None, help="Only these pairs, in this order (comma-separated SOURCE:TARGET).")
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
@click.option("--selection", default="last", show_default=True, help=SELECTION_HELP)
@click.option("--no-reported", is_flag=True, help="Leave out the published (reported) rows.")
def leaderboard(fmt: str, suite: str | None, methods: str | None, pairs: str | None, metric: str, selection: str,
                no_reported: bool) -> None:
    """Methods x pairs, mean ± std (n) over seeds (one run per seed: the newest), in percent; the best
    measured cell per column in bold (github, latex, html); published rows follow, marked (reported).
    Runs of methods not installed here, and runs that are never ranked (their method was seen reaching
    for target labels, or a metric is NaN or inf), are listed under the table, not in it."""
    from dabench.report import published as reported

    if suite and pairs:
        raise DabenchError("give --suite or --pairs, not both")
    records = results.load_results()
    if not records and (no_reported or not suite):
        raise DabenchError(f"no finished runs in {paths.runs_dir()}; start one with `dabench run`")
    method_ids = [_recorded_id(name, records) for name in _names(methods)] if methods else None
    columns = _suite_pairs(suite) or (_names(pairs) if pairs else None)
    records = report.only(records, method_ids, None if suite else columns)
    records, not_installed = _installed_only(records)
    records, left_out = ranked(records)
    header, rows, bold = report.leaderboard(records, columns, metric, selection, _validators_for(selection))
    if not no_reported:
        published = [row for row in reported.load_reported() if method_ids is None or row.method in method_ids]
        rows += reported.leaderboard_rows(header[1:-1], metric, published)
    notes = report.leaderboard_notes(records, rows, columns, not_installed, left_out)
    _echo(report.render(header, rows, fmt, bold), notes, fmt)


def _recorded_id(name: str, records: list[dict[str, Any]]) -> str:
    """``name`` as the runs record it (an alias resolved through the plugins only when no run has it);
    a name no run has is returned as is, for report.only's error."""
    if any(record["method"] == name for record in records):
        return name
    return get_registry().aliases.get(name, name)


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def _installed_only(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(runs of methods installed here, method -> count of the others). Installed: the plugin the run's code
    record names (else the method id) is an entry point, read from the package metadata without importing
    any plugin; only a run without a code record whose method is no entry point's name loads the plugins."""
    from dabench.run.provenance import installed_plugins

    plugins = installed_plugins()

    def plugin_of(record: dict[str, Any]) -> str | None:
        return ((record.get("code") or {}).get("method") or {}).get("plugin")

    absent = [r for r in records if (plugin_of(r) or r["method"]) not in plugins]
    if any(plugin_of(r) is None for r in absent):  # a legacy run of a plugin whose entry point is named otherwise
        registered = get_registry().methods
        absent = [r for r in absent if plugin_of(r) is not None or r["method"] not in registered]
    counts: dict[str, int] = {}
    for record in absent:
        counts[record["method"]] = counts.get(record["method"], 0) + 1
    left_out = {id(record) for record in absent}
    kept = [record for record in records if id(record) not in left_out]
    return kept, counts


@report_group.command("selection")
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
def selection_report(fmt: str, metric: str) -> None:
    """Per method and pair: the score each selection criterion picks, and its gap to the oracle (the runs
    the leaderboard ranks; those it leaves out are listed under the table)."""
    from dabench.report.rows import left_out_note
    from dabench.report.selection import selection_table

    records, left_out = ranked(_finished_runs())
    header, rows = selection_table(records, get_registry().validators, metric)
    _echo(report.render(header, rows, fmt), [left_out_note(*item) for item in left_out], fmt)


@report_group.command("search")
@click.option("--by", required=True, help="The label-free validator that picks among the settings (dabench list validators).")
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
def search_report(by: str, fmt: str) -> None:
    """A hyperparameter search's settings (sweep --grid/--random) per method and pair, each with its final
    label-free validator score (mean over seeds) and the one that validator picks; accuracy is shown, never
    used to pick. Only runs a search ran are listed, and only those the leaderboard would rank."""
    from dabench.report.rows import left_out_note
    from dabench.report.search_table import search_runs, search_table

    records = search_runs(_finished_runs(), searches.search_run_ids())
    records, left_out = ranked(records)
    _echo(report.render(*search_table(records, get_registry().validators, by), fmt),
          [left_out_note(*item) for item in left_out], fmt)


@report_group.command("per-class")
@click.option("--method", "-m", required=True, help="Method id.")
@click.option("--pair", "-p", required=True, help="SOURCE:TARGET.")
@click.option("--protocol", default="inductive", type=click.Choice(["inductive", "transductive"]), show_default=True)
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--normalise", is_flag=True, help="Confusion rows in % of the true class instead of mean counts.")
@click.option("--variant", default=None, help=VARIANT_HELP)
def per_class(method: str, pair: str, protocol: str, fmt: str, normalise: bool, variant: str | None) -> None:
    """Per-class accuracy and the confusion matrix (final models, mean over seeds)."""
    from dabench.report.per_class import confusion_table, left_out_of, per_class_table, runs_of
    from dabench.report.rows import left_out_note

    records, left_out = ranked(_finished_runs())
    method_id = _method_id(method, records + [record for record, _ in left_out])
    runs = runs_of(records, method_id, pair, protocol, variant, left_out)
    notes = [left_out_note(*item) for item in left_out_of(left_out, method_id, pair, protocol)]
    click.echo(report.render(*per_class_table(runs), fmt))
    click.echo("")
    _echo(report.render(*confusion_table(runs, normalise), fmt), notes, fmt)


@report_group.command("plot")
@click.option("--out", type=OutputFile(), default=Path("leaderboard.png"), show_default=True)
@click.option("--suite", default=None, help="Only this suite's pairs, in its order.")
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
@click.option("--selection", default="last", show_default=True, help=SELECTION_HELP)
@click.option("--confusion", "confusion_of", nargs=2, default=None, metavar="METHOD PAIR",
              help="Draw the confusion-matrix heat map of METHOD on PAIR instead of the bar chart.")
@click.option("--variant", default=None, help="With --confusion: " + VARIANT_HELP)
def plot(out: Path, suite: str | None, metric: str, selection: str, confusion_of: tuple[str, str] | None,
         variant: str | None) -> None:
    """A PNG: the leaderboard as bars with std error bars, or a confusion heat map (needs dabench[plots]).
    The runs the leaderboard ranks; those it leaves out are listed on stderr."""
    from dabench.report import plot as plots
    from dabench.report.per_class import left_out_of, runs_of
    from dabench.report.rows import left_out_note

    records, left_out = ranked(_finished_runs())
    if confusion_of:
        method, pair = confusion_of
        method_id = _method_id(method, records + [record for record, _ in left_out])
        runs = runs_of(records, method_id, pair, variant=variant, left_out=left_out)
        notes = [left_out_note(*item) for item in left_out_of(left_out, method_id, pair)]
        written = plots.plot_confusion(runs, out)
    else:
        notes = [left_out_note(*item) for item in left_out]
        written = plots.plot_leaderboard(records, out, _suite_pairs(suite), metric, selection,
                                         _validators_for(selection))
    click.echo(f"wrote {written}")
    if notes:
        click.echo("\n".join(notes), err=True)


@report_group.command("export")
@click.option("--format", "fmt", default="csv", type=click.Choice(["csv", "json"]), show_default=True)
@click.option("--out", type=OutputFile(), default=None, help="File to write (default: stdout).")
def export(fmt: str, out: Path | None) -> None:
    """Every finished run with its resolved config, each criterion's selection, and whether the leaderboard
    ranks it (``ranked``, ``not_ranked``: why not). Strict JSON and pandas.read_csv-ready: a NaN or inf is
    written as null (an empty CSV cell), and stderr says where."""
    from dabench.report.export import attach_configs, export_csv, export_json, nulled_values

    records = attach_configs(_finished_runs())
    text = (export_csv if fmt == "csv" else export_json)(records, get_registry().validators)
    nulled = nulled_values(records)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic.write_text(out, text)
        click.echo(f"wrote {len(records)} run(s) to {out}")
    if nulled:
        click.echo(f"dabench: {len(nulled)} non-finite value(s) (NaN or inf) written as null: {', '.join(nulled[:5])}"
                   + (f" and {len(nulled) - 5} more" if len(nulled) > 5 else ""), err=True)
