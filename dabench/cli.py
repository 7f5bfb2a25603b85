"""The ``dabench`` command line (DESIGN.md section 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dabench import paths, report, results
from dabench.errors import DabenchError
from dabench.registry import Registry, get_registry

if TYPE_CHECKING:  # the CLI imports torch-heavy modules only inside the commands that need them
    from dabench.source import SourceSpec

JSON_FIELDS = ("run_id", "method", "pair", "seed", "accuracy", "macro_f1", "per_class", "source_accuracy",
               "oracle_accuracy", "seconds", "device")


def _hoist_debug(args: list[str]) -> tuple[bool, list[str]]:
    """``--debug`` anywhere before a lone ``--`` moves to the front, where the group's option reads it
    (users type it after the subcommand, e.g. `dabench run ... --debug`, as often as before it)."""
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    rest = [arg for arg in args[:end] if arg != "--debug"] + args[end:]
    return debug, (["--debug", *rest] if debug else rest)


class _Group(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _hoist_debug(list(args))[1])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors (also accepted after the subcommand).")
def cli(debug: bool) -> None:
    """Benchmark source-free domain adaptation for facial expression recognition."""


@cli.command()
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
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _sweep_requests(selection: dict) -> list:
    from dabench import sweep as sweeps

    registry = get_registry()
    if selection["suite"] and selection["pairs"]:
        raise DabenchError("give --suite or --pairs, not both")
    pairs = list(registry.suite(selection["suite"]).pairs) if selection["suite"] else sweeps.split_list(selection["pairs"])
    planned = sweeps.plan_sweep(registry, sweeps.split_list(selection["methods"]), pairs,
                                sweeps.parse_seeds(selection["seeds"]), selection["backbone"], tuple(selection["sets"]))
    return [request for _, request in planned]


def _selection(suite, pairs, methods, seeds, backbone, config_files, sets) -> dict:
    from dabench import sweep as sweeps

    file_sets = [s for path in config_files for s in sweeps.file_as_sets(path)]
    return {"suite": suite, "pairs": pairs, "methods": methods, "seeds": seeds, "backbone": backbone,
            "sets": file_sets + list(sets)}


@cli.command()
@_selection_options
@click.option("--launcher", default="local", type=click.Choice(["local", "ray"]), show_default=True)
@click.option("--workers", type=int, default=None,
              help="local: worker processes (default: one per visible GPU; else 1, in this process).")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--retry-failed", is_flag=True, help="Rerun the runs that failed before (else they are skipped).")
@click.option("--dry-run", is_flag=True, help="Show what is done, running, failed and pending; run nothing.")
@click.option("--ray-address", default="auto", show_default=True,
              help="ray: the cluster to join ('auto': the one `ray start` made here, else a new local one).")
def sweep(suite, pairs, methods, seeds, backbone, config_files, sets, launcher, workers, device,
          retry_failed, dry_run, ray_address) -> None:
    """Run methods x pairs x seeds. Finished runs are skipped, interrupted ones resume, failed ones are
    reported (and rerun with --retry-failed); exits 1 unless every run ends done (some failed, or are
    still running elsewhere, or were left interrupted), with a line saying which."""
    from dabench import sweep as sweeps

    selection = _selection(suite, pairs, methods, seeds, backbone, config_files, sets)
    requests = _sweep_requests(selection)
    if dry_run:
        click.echo(sweeps.format_status(sweeps.sweep_status(requests), "dry run, nothing started:"))
        return
    sweeps.save_selection(selection)
    summary = sweeps.run_sweep(requests, launcher, workers, device, retry_failed, ray_address, echo=click.echo)
    if summary.exit_code:
        click.echo(summary.message, err=True)
    raise click.exceptions.Exit(summary.exit_code)


@cli.command()
@_selection_options
def status(suite, pairs, methods, seeds, backbone, config_files, sets) -> None:
    """Done / running / failed / interrupted / pending runs of a sweep (by default the last one started
    with this DABENCH_HOME), with each failed run's error."""
    from dabench import sweep as sweeps

    if suite or pairs or methods:
        selection = _selection(suite, pairs, methods, seeds, backbone, config_files, sets)
    else:
        selection = sweeps.load_selection()
    if selection is None:
        click.echo(sweeps.format_status(sweeps.folder_entries(), f"every run folder in {paths.runs_dir()}:"))
        return
    what = selection["suite"] or selection["pairs"]
    click.echo(sweeps.format_status(sweeps.sweep_status(_sweep_requests(selection)),
                                    f"sweep {selection['methods']} on {what}, seeds {selection['seeds']}:"))

@cli.group("report")
def report_group() -> None:
    """Tables and figures from the finished runs."""


@report_group.command("reindex")
def reindex() -> None:
    """Rebuild results.sqlite from the run folders. Reports already update it whenever runs/ changes
    (a folder added, deleted or edited); this rebuilds it from scratch, e.g. after restoring a backup."""
    count = results.rebuild_index()
    click.echo(f"indexed {count} finished run(s) from {paths.runs_dir()} in {paths.index_path()}")


def _finished_runs() -> list[dict]:
    records = results.load_results()
    if not records:
        raise DabenchError(f"no finished runs in {paths.runs_dir()}; start one with `dabench run`")
    return records


SELECTION_HELP = ("Which epoch each run is scored at: last (the default), oracle (best epoch on target TEST, "
                  "analysis only, always labelled) or a label-free validator (dabench list validators).")


@report_group.command("leaderboard")
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--suite", default=None, help="Only this suite's pairs, in its order.")
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
@click.option("--selection", default="last", show_default=True, help=SELECTION_HELP)
@click.option("--no-reported", is_flag=True, help="Leave out the published (reported) rows.")
def leaderboard(fmt: str, suite: str | None, metric: str, selection: str, no_reported: bool) -> None:
    """Methods x pairs, mean ± std (n) over seeds, in percent; the best measured cell per column in bold
    (github, latex, html); published rows follow, marked (reported)."""
    from dabench import reported

    records = results.load_results()
    pairs = list(get_registry().suite(suite).pairs) if suite else None
    if not records and (no_reported or not suite):
        raise DabenchError(f"no finished runs in {paths.runs_dir()}; start one with `dabench run`")
    header, rows, bold = report.leaderboard(records, pairs, metric, selection, get_registry().validators)
    if not no_reported:
        rows += reported.leaderboard_rows(header[1:-1], metric)
    click.echo(report.render(header, rows, fmt, bold))


@report_group.command("selection")
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
def selection_report(fmt: str, metric: str) -> None:
    """Per method and pair: the score each selection criterion picks, and its gap to the oracle."""
    from dabench.reports.selection import selection_table

    header, rows = selection_table(_finished_runs(), get_registry().validators, metric)
    click.echo(report.render(header, rows, fmt))


VARIANT_HELP = ("Which settings variant, as the leaderboard shows it in brackets (e.g. 'epochs=1, "
                "backbone=resnet18'), or 'default'; needed when the runs have several.")


@report_group.command("per-class")
@click.option("--method", "-m", required=True, help="Method id.")
@click.option("--pair", "-p", required=True, help="SOURCE:TARGET.")
@click.option("--protocol", default="inductive", type=click.Choice(["inductive", "transductive"]), show_default=True)
@click.option("--format", "fmt", default="simple", type=click.Choice(report.FORMATS), show_default=True)
@click.option("--normalise", is_flag=True, help="Confusion rows in % of the true class instead of mean counts.")
@click.option("--variant", default=None, help=VARIANT_HELP)
def per_class(method: str, pair: str, protocol: str, fmt: str, normalise: bool, variant: str | None) -> None:
    """Per-class accuracy and the confusion matrix (final models, mean over seeds)."""
    from dabench.reports.per_class import confusion_table, per_class_table, runs_of

    runs = runs_of(_finished_runs(), get_registry().method(method).id, pair, protocol, variant)
    click.echo(report.render(*per_class_table(runs), fmt))
    click.echo("")
    click.echo(report.render(*confusion_table(runs, normalise), fmt))


@report_group.command("plot")
@click.option("--out", type=click.Path(path_type=Path), default=Path("leaderboard.png"), show_default=True)
@click.option("--suite", default=None, help="Only this suite's pairs, in its order.")
@click.option("--metric", default="accuracy", type=click.Choice(report.METRICS), show_default=True)
@click.option("--selection", default="last", show_default=True, help=SELECTION_HELP)
@click.option("--confusion", "confusion_of", nargs=2, default=None, metavar="METHOD PAIR",
              help="Draw the confusion-matrix heat map of METHOD on PAIR instead of the bar chart.")
@click.option("--variant", default=None, help="With --confusion: " + VARIANT_HELP)
def plot(out: Path, suite: str | None, metric: str, selection: str, confusion_of: tuple[str, str] | None,
         variant: str | None) -> None:
    """A PNG: the leaderboard as bars with std error bars, or a confusion heat map (needs dabench[plots])."""
    from dabench.reports import plot as plots
    from dabench.reports.per_class import runs_of

    records = _finished_runs()
    if confusion_of:
        written = plots.plot_confusion(runs_of(records, get_registry().method(confusion_of[0]).id,
                                               confusion_of[1], variant=variant), out)
    else:
        pairs = list(get_registry().suite(suite).pairs) if suite else None
        written = plots.plot_leaderboard(records, out, pairs, metric, selection, get_registry().validators)
    click.echo(f"wrote {written}")


@report_group.command("export")
@click.option("--format", "fmt", default="csv", type=click.Choice(["csv", "json"]), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (default: stdout).")
def export(fmt: str, out: Path | None) -> None:
    """Every finished run with its resolved config and each criterion's selection (pandas.read_csv-ready)."""
    from dabench.reports.export import attach_configs, export_csv, export_json

    records = attach_configs(_finished_runs())
    text = (export_csv if fmt == "csv" else export_json)(records, get_registry().validators)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        click.echo(f"wrote {len(records)} run(s) to {out}")


@cli.command("list")
@click.argument("kind", type=click.Choice(["methods", "datasets", "pairs", "suites", "backbones",
                                                 "validators"]))
def list_(kind: str) -> None:
    """List what the installed plugins provide."""
    registry = get_registry()
    if kind == "pairs":
        for pair in registry.all_pairs():
            click.echo(pair)
        return
    if kind == "suites":
        for suite in registry.suites.values():
            click.echo(f"{suite.id}: {', '.join(suite.pairs)}")
        return
    table = getattr(registry, kind)
    rows = [[item_id, registry.provider(kind, item_id), _summary(item)] for item_id, item in sorted(table.items())]
    click.echo(report.render(["id", "plugin", "description"], rows, "simple"))


def _summary(item: object) -> str:
    text = getattr(item, "description", "") or (item.__doc__ or "")
    return text.strip().splitlines()[0] if text.strip() else ""


@cli.command()
def plugins() -> None:
    """Every plugin found, with its version, what it provides, and any error. Two plugins registering
    one id are listed too (each other command refuses to run then); the clash is shown and exits 2."""
    from dabench.registry import build_registry, default_host

    host = default_host()
    registry = build_registry(host, collect_conflicts=True)  # before the listing: it may mark plugins broken
    provides: dict[str, list[str]] = {}
    for (kind, item_id), plugin in registry.providers.items():
        provides.setdefault(plugin, []).append(f"{kind[:-1]} {item_id}")
    rows = [[info.name, info.distribution, info.version, "ok", ", ".join(sorted(provides.get(info.name, [])))]
            for info in host.loaded]
    rows += [[info.name, info.distribution, info.version, "BROKEN", info.error] for info in host.broken]
    click.echo(report.render(["plugin", "distribution", "version", "status", "provides / error"], rows, "simple"))
    if registry.conflicts:
        for conflict in registry.conflicts:
            click.echo(f"dabench: error: {conflict}", err=True)
        raise click.exceptions.Exit(2)


@cli.group("source")
def source_group() -> None:
    """Source models."""


@source_group.command("train")
@click.option("--dataset", default=None, help="Source dataset id: train on all of its canonical classes.")
@click.option("--pair", "-p", default=None,
              help="SOURCE:TARGET: train the source model a run of this pair uses (the pair's shared classes, "
                   "its image size and settings), so `dabench run --pair` reuses it from the cache.")
@click.option("--backbone", default=None, help="Backbone id (default: the dataset's, or the pair's).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--image-size", default=None, type=click.IntRange(8, 1024),
              help="Input size in px (default: the backbone's, else the data's).")
@click.option("-c", "--config", "config_files", multiple=True, type=click.Path(path_type=Path),
              help="With --pair: YAML file(s) of run settings, as for `dabench run`.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="With --pair: a run setting, as for `dabench run` (e.g. --set source.epochs=10).")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
def source_train(dataset: str | None, pair: str | None, backbone: str | None, seed: int, image_size: int | None,
                 config_files: tuple[Path, ...], sets: tuple[str, ...], device: str) -> None:
    """Train (or find in the cache) a source model: of a dataset on its canonical classes (--dataset), or
    the one a run of a pair uses, on the classes both sides share (--pair; fer2013:ckplus has 6)."""
    from dabench.source import artifact_folder, get_source_model, with_data_key
    from dabench.train.device import resolve_device

    registry = get_registry()
    if (dataset is None) == (pair is None):
        raise DabenchError("give one of --dataset NAME (all of its classes) or --pair SOURCE:TARGET (the pair's "
                           "shared classes, the source model `dabench run` on that pair uses)")
    if pair is not None:
        spec = _pair_source_spec(registry, pair, seed, backbone, image_size, config_files, sets)
    else:
        if config_files or sets:
            raise DabenchError("-c and --set go with --pair (they are run settings, resolved as `dabench run` "
                               "resolves them); with --dataset use --backbone, --seed and --image-size")
        spec = _dataset_source_spec(registry, dataset, seed, backbone, image_size)
    spec = with_data_key(spec, registry)
    _, meta = get_source_model(spec, registry, resolve_device(device))
    classes = f"{len(spec.classes)} classes" + (f" of {pair}" if pair else "")
    click.echo(f"source model {spec.dataset}/{spec.backbone}/{spec.image_size}px seed {seed} ({classes}): source "
               f"val accuracy {100 * meta['source_val_accuracy']:.2f}%, source test accuracy "
               f"{100 * (meta['source_test_accuracy'] or 0):.2f}%; checkpoint {artifact_folder(spec) / 'model.pt'}")


def _dataset_source_spec(registry: Registry, dataset: str, seed: int, backbone: str | None,
                         image_size: int | None) -> SourceSpec:
    import dataclasses

    from dabench.labels import CANONICAL_CLASSES
    from dabench.source import SourceSpec
    from dabench.train.supervised import SupervisedRecipe

    ds = registry.dataset(dataset)
    backbone = backbone or ds.default_backbone
    size = image_size or registry.backbone(backbone).default_image_size or ds.native_size
    classes = tuple(name for name in CANONICAL_CLASSES if name in ds.classes)
    return SourceSpec(ds.id, classes, backbone, size, dataclasses.asdict(SupervisedRecipe()), seed, {})


def _pair_source_spec(registry: Registry, pair: str, seed: int, backbone: str | None, image_size: int | None,
                      config_files: tuple[Path, ...], sets: tuple[str, ...]) -> SourceSpec:
    """The SourceSpec a `dabench run` of ``pair`` uses: its config resolved by the runner's own plan_run
    (for source_only, whose run settings are the defaults), then the runner's own source_spec."""
    from dabench.runner import plan_run, source_spec

    if image_size is not None:
        sets = (*sets, f"image_size={image_size}")
    return source_spec(plan_run(registry, "source_only", pair, seed, backbone, config_files, sets))


@cli.group("data")
def data_group() -> None:
    """Datasets: check layouts, prepare the cached arrays."""


@data_group.command("prepare")
@click.argument("name")
@click.option("--resolution", default=None, type=click.IntRange(8, 1024),
              help="Side in px (default: the dataset's native size).")
@click.option("--data-root", type=click.Path(path_type=Path), default=None, help="Folder holding NAME/ (default $DABENCH_DATA).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A dataset option, e.g. --set crop=haar --set rgb=true --set dedup=true.")
def data_prepare(name: str, resolution: int | None, data_root: Path | None, sets: tuple[str, ...]) -> None:
    """Build the cached uint8 arrays of a dataset."""
    from dabench.config import parse_set
    from dabench.data.pairs import prepare

    dataset = get_registry().dataset(name)
    resolution = resolution or dataset.native_size
    options = {key: value for assignment in sets for key, value in parse_set(assignment).items()}
    prepared = prepare(dataset, options, resolution, data_root)
    counts = ", ".join(f"{split} {len(data)}" for split, data in prepared.splits.items())
    click.echo(f"{name}: prepared at {resolution} px ({counts}) in {paths.cache_dir('datasets') / prepared.key}")


@data_group.command("check")
@click.argument("name")
@click.option("--data-root", type=click.Path(path_type=Path), default=None, help="Folder holding NAME/ (default $DABENCH_DATA).")
def data_check(name: str, data_root: Path | None) -> None:
    """Layout, counts, unreadable files, duplicates and leakage of a dataset; exit 2 if the layout is wrong."""
    from dabench.data.check import check_dataset

    dataset = get_registry().dataset(name)
    report_ = check_dataset(dataset, dataset.locate(data_root or paths.data_root()))
    click.echo("\n".join(report_.lines()))
    if report_.unreadable:
        sys.exit(1)


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder in which dabench-NAME/ is created.")
def new_plugin(name: str, parent: Path) -> None:
    """Write a plugin package skeleton (method, dataset, conformance test) that passes its own tests."""
    from dabench.scaffold import new_plugin as scaffold

    root = scaffold(name, parent)
    click.echo(f"wrote {root}\nnext: pip install -e {root} && pytest {root / 'tests'} && dabench plugins")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line (no traceback unless --debug) and exit 2."""
    args = sys.argv[1:] if argv is None else argv
    debug = _hoist_debug(list(args))[0]
    try:
        code = cli.main(args=args, prog_name="dabench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DabenchError as exc:
        if debug:
            raise
        click.echo(f"dabench: error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
