"""`dabench sweep` and `dabench status`: methods x pairs x seeds, and where such a sweep stands.
dabench.sweep.execute and dabench.sweep.plan import torch (the runner, the planning), so each command imports them."""

from __future__ import annotations

from pathlib import Path

import click

from dabench.cli.data import data_root_option
from dabench.cli.presets import estimate_option, preset_option
from dabench.errors import DabenchError
from dabench.host.registry import get_registry
from dabench.store import paths


def _selection_options(function):
    """The options that pick a sweep's runs (shared by `sweep` and `status`)."""
    options = [
        click.option("--suite", default=None, help="A named list of pairs (dabench list suites)."),
        click.option("--pairs", default=None, help="Comma-separated SOURCE:TARGET pairs."),
        click.option("--methods", default=None, help="Comma-separated method ids."),
        click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds, or a range 0-4."),
        click.option("--backbone", default=None, help="Backbone id for every run (default: per pair)."),
        click.option("-c", "--config", "config_files", multiple=True, type=click.Path(path_type=Path),
                     help="YAML file(s) merged over the defaults."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override one key; a method key applies to the methods that have it."),
        click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2",
                     help="Search: every combination of these values (repeatable; a key applies as --set does)."),
        click.option("--random", "trials", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Search: N draws from the --grid values instead of every combination, seeded per "
                          "(method, key, trial)."),
        preset_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _sweep_requests(selection: dict) -> list:
    return [request for _, request in _sweep_plans(selection)]


def _sweep_plans(selection: dict) -> list:
    from dabench.sweep import plan as sweeps

    registry = get_registry()
    if selection["suite"] and selection["pairs"]:
        raise DabenchError("give --suite or --pairs, not both")
    pairs = list(registry.suite(selection["suite"]).pairs) if selection["suite"] else sweeps.split_list(selection["pairs"])
    planned = sweeps.plan_sweep(registry, sweeps.split_list(selection["methods"]), pairs,
                                sweeps.parse_seeds(selection["seeds"]), selection["backbone"], tuple(selection["sets"]),
                                grid=tuple(selection.get("grid", ())), trials=selection.get("trials") or 0,
                                preset=selection.get("preset"))
    return planned


def _selection(suite, pairs, methods, seeds, backbone, config_files, sets, grid=(), trials=None, preset=None) -> dict:
    from dabench.sweep import plan as sweeps

    if trials and not grid:
        raise DabenchError("--random N draws from the values of --grid KEY=V1,V2; give at least one --grid")
    file_sets = [s for path in config_files for s in sweeps.file_as_sets(path)]
    return {"suite": suite, "pairs": pairs, "methods": methods, "seeds": seeds, "backbone": backbone,
            "sets": file_sets + list(sets), "grid": list(grid), "trials": trials, "preset": preset}


@click.command("sweep")
@_selection_options
@click.option("--launcher", default="local", type=click.Choice(["local", "ray"]), show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="local: worker processes (default: one per visible GPU; else 1, in this process).")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--retry-failed", is_flag=True, help="Rerun the runs that failed before (else they are skipped).")
@click.option("--rerun-changed", is_flag=True,
              help="Rerun the finished runs whose method's code has changed since (else they are kept, with a warning).")
@click.option("--dry-run", is_flag=True, help="Show what is done, running, failed and pending, and per run and stage "
              "the image passes and estimated time; run nothing.")
@estimate_option
@data_root_option
@click.option("--ray-address", default="auto", show_default=True,
              help="ray: the cluster to join ('auto': the one `ray start` made here, else a new local one).")
def sweep(suite, pairs, methods, seeds, backbone, config_files, sets, grid, trials, preset, launcher, workers, device,
          retry_failed, rerun_changed, dry_run, estimate_for, ray_address) -> None:
    """Run methods x pairs x seeds. Finished runs are skipped, interrupted ones resume, failed ones are
    reported (and rerun with --retry-failed); exits 1 unless every run ends done (some failed, or are
    still running elsewhere, or were left interrupted), with a line saying which."""
    from dabench.sweep import execute as sweeps

    paths.check_home()
    selection = _selection(suite, pairs, methods, seeds, backbone, config_files, sets, grid, trials, preset)
    planned = _sweep_plans(selection)
    _say_overrides(planned)
    requests = _with_changed([request for _, request in planned], rerun_changed, dry_run)
    if dry_run:
        from dabench.cli.presets import resolve_profile
        from dabench.run.estimate import cost_report

        click.echo(sweeps.format_status(sweeps.sweep_status(requests), "dry run, nothing started:"))
        click.echo(cost_report([plan for plan, _ in planned], get_registry(), resolve_profile(estimate_for, device)))
        return
    sweeps.save_selection(selection)
    summary = sweeps.run_sweep(requests, launcher, workers, device, retry_failed, ray_address, echo=click.echo)
    if summary.exit_code:
        click.echo(summary.message, err=True)
    raise click.exceptions.Exit(summary.exit_code)


def _say_overrides(planned: list) -> None:
    """One stderr line per preset value a -c/--set of the sweep replaces (each once, whatever the run count)."""
    from dabench.settings.presets import override_lines

    lines = {line: None for plan, _ in planned for line in override_lines(plan.config.get("preset"))}
    for line in lines:
        click.echo(f"dabench: {line}", err=True)


def _with_changed(requests: list, rerun_changed: bool, dry_run: bool) -> list:
    """The requests, those of finished runs whose method's code changed since marked to rerun when
    --rerun-changed says so; one line on stderr per method either way. A run with no code record (made
    before dabench recorded code) is unknown, not changed: said only with --rerun-changed, which leaves it."""
    import dataclasses

    from dabench.run import provenance
    from dabench.store import results

    registry = get_registry()
    changed: dict[str, list[dict]] = {}
    unknown: dict[str, int] = {}
    current: dict[str, dict] = {}
    for request in requests:
        finished = results.read_done(results.run_dir(request.run_id))
        if finished is None:
            continue
        if request.method not in current:
            current[request.method] = provenance.unit_code(registry, "methods", request.method)
        change = provenance.method_change(finished, current[request.method])
        if change == provenance.CHANGED:
            changed.setdefault(request.method, []).append(finished)
        elif change == provenance.UNKNOWN:
            unknown[request.method] = unknown.get(request.method, 0) + 1
    for method, runs in changed.items():
        what = provenance.change_message(method, runs, current[method])
        if not rerun_changed:
            click.echo(f"dabench: warning: {what}; rerun with --rerun-changed", err=True)
        else:
            click.echo(f"{what}; {'would rerun' if dry_run else 'rerunning'} {'it' if len(runs) == 1 else 'them'} "
                       "(--rerun-changed)", err=True)
    if rerun_changed:
        for method, count in unknown.items():
            click.echo(f"{count} finished run(s) of '{method}' were made before dabench recorded method code, so "
                       "whether it changed is unknown; --rerun-changed leaves them", err=True)
    rerun = {run["run_id"] for runs in changed.values() for run in runs} if rerun_changed else set()
    return [dataclasses.replace(request, force=True) if request.run_id in rerun else request for request in requests]


@click.command("status")
@_selection_options
def status(suite, pairs, methods, seeds, backbone, config_files, sets, grid, trials, preset) -> None:
    """Done / running / failed / interrupted / pending runs of a sweep (by default the last one started
    with this DABENCH_HOME), with each failed run's error."""
    from dabench.sweep import execute as sweeps

    if suite or pairs or methods:
        selection = _selection(suite, pairs, methods, seeds, backbone, config_files, sets, grid, trials, preset)
    else:
        selection = sweeps.load_selection()
    if selection is None:
        click.echo(sweeps.format_status(sweeps.folder_entries(), f"every run folder in {paths.runs_dir()}:"))
        return
    what = selection["suite"] or selection["pairs"]
    entries = sweeps.sweep_status(_sweep_requests(selection))
    click.echo(sweeps.format_status(entries, f"sweep {selection['methods']} on {what}, seeds {selection['seeds']}:"))
    from dabench.sweep.launchers.attempts import status_lines

    for line in status_lines(entries):  # runs of a Ray sweep that lost their node: where, and where they went on
        click.echo(line)
