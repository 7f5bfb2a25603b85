"""`dabench run`: one adaptation run (the runner, which imports torch, is imported when the command runs)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dabench.cli.data import data_root_option
from dabench.cli.presets import estimate_option, preset_option
from dabench.host.registry import get_registry
from dabench.store import paths, results

JSON_FIELDS = ("run_id", "method", "pair", "seed", "accuracy", "macro_f1", "per_class", "source_accuracy",
               "oracle_accuracy", "seconds", "device")


@click.command("run")
@click.option("--method", "-m", required=True, help="Method id (dabench list methods).")
@click.option("--pair", "-p", required=True, help="SOURCE:TARGET, e.g. synth-lab:synth-wild.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--backbone", default=None, help="Backbone id (default: small_cnn for small images, else resnet18).")
@click.option("-c", "--config", "config_files", multiple=True, type=click.Path(path_type=Path),
              help="YAML file(s) merged over the defaults.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one key (value parsed as YAML).")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--source-model", type=click.Path(path_type=Path), default=None,
              help="A source checkpoint trained elsewhere (the source-free workflow).")
@click.option("--force", is_flag=True, help="Rerun even if this exact run is already done.")
@click.option("--rerun-changed", is_flag=True,
              help="Rerun a finished run whose method's code has changed since (else it is reused, with a warning).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the result.")
@preset_option
@click.option("--dry-run", is_flag=True, help="Plan the run and print each stage's image passes and estimated time; "
              "run nothing.")
@estimate_option
@data_root_option
def run(method: str, pair: str, seed: int, backbone: str | None, config_files: tuple[Path, ...],
        sets: tuple[str, ...], device: str, source_model: Path | None, force: bool, rerun_changed: bool,
        as_json: bool, preset: str | None, dry_run: bool, estimate_for: str | None) -> None:
    """Adapt one source model to one target with one method and score it on the target test split."""
    from dabench.run.execute import execute
    from dabench.run.plan import plan_run
    from dabench.settings.presets import override_lines

    paths.check_home()
    registry = get_registry()
    plan = plan_run(registry, method, pair, seed, backbone, config_files, sets, source_model, preset=preset)
    for line in override_lines(plan.config.get("preset")):
        click.echo(f"dabench: {line}", err=True)
    if dry_run:
        from dabench.cli.presets import resolve_profile
        from dabench.run.estimate import cost_report

        click.echo(cost_report([plan], registry, resolve_profile(estimate_for, device)))
        return
    folder = results.run_dir(plan.run_id)
    finished = None if force else results.read_done(folder)
    if finished is not None:
        force = _check_code(finished, registry, plan.method.id, rerun_changed)
    reused = finished is not None and not force
    if reused:
        click.echo(f"reused finished run {plan.run_id} (from {results.finished_at(folder, finished)}; --force reruns)")
    result = execute(plan, registry, device, force)
    click.echo(f"{result['method']} on {result['pair']} (seed {result['seed']}, {result['protocol']}): "
               f"accuracy {100 * result['accuracy']:.2f}%, macro-F1 {100 * result['macro_f1']:.2f}%, "
               f"source model {100 * result['source_accuracy']:.2f}%; {result['seconds']:.1f} s on "
               f"{result['device']}; run {result['run_id']} in {folder}")
    if as_json:
        click.echo(json.dumps({key: result.get(key) for key in JSON_FIELDS}))


def _check_code(finished: dict, registry, method: str, rerun_changed: bool) -> bool:
    """Whether to rerun a finished run: only when its method's code changed and --rerun-changed says so.
    A change is warned about either way; a run with no code record is unknown, not changed."""
    from dabench.run import provenance

    current = provenance.unit_code(registry, "methods", method)
    change = provenance.method_change(finished, current)
    run_id = finished["run_id"]
    if change == provenance.CHANGED:
        what = provenance.change_message(method, [finished], current)
        if rerun_changed:
            click.echo(f"{what}; rerunning it (--rerun-changed)", err=True)
            return True
        click.echo(f"dabench: warning: {what}; rerun with --force, or --rerun-changed", err=True)
    elif change == provenance.UNKNOWN and rerun_changed:
        click.echo(f"run {run_id} was made before dabench recorded method code, so whether '{method}' changed is "
                   "unknown; --rerun-changed leaves it (--force reruns it)", err=True)
    return False
