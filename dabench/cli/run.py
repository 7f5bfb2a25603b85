"""`dabench run`: one adaptation run (the runner, which imports torch, is imported when the command runs)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dabench import results
from dabench.registry import get_registry

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
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the result.")
def run(method: str, pair: str, seed: int, backbone: str | None, config_files: tuple[Path, ...],
        sets: tuple[str, ...], device: str, source_model: Path | None, force: bool, as_json: bool) -> None:
    """Adapt one source model to one target with one method and score it on the target test split."""
    from dabench.runner import execute, plan_run

    registry = get_registry()
    plan = plan_run(registry, method, pair, seed, backbone, config_files, sets, source_model)
    result = execute(plan, registry, device, force)
    click.echo(f"{result['method']} on {result['pair']} (seed {result['seed']}, {result['protocol']}): "
               f"accuracy {100 * result['accuracy']:.2f}%, macro-F1 {100 * result['macro_f1']:.2f}%, "
               f"source model {100 * result['source_accuracy']:.2f}%; {result['seconds']:.1f} s on "
               f"{result['device']}; run {result['run_id']} in {results.run_dir(result['run_id'])}")
    if as_json:
        click.echo(json.dumps({key: result.get(key) for key in JSON_FIELDS}))
