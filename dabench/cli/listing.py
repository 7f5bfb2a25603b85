"""`dabench list`, `dabench plugins` and `dabench method show`: what the installed plugins provide and
declare. These load the plugins (which may import torch themselves) and nothing heavier."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import click
import yaml

from dabench.errors import DabenchError
from dabench.host.registry import Pair, annotation_text, get_registry
from dabench.report import leaderboard as report

KINDS = ("methods", "datasets", "pairs", "suites", "backbones", "validators", "presets")


@click.command("list")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--hparams", is_flag=True, help="With methods: every hyperparameter, its type, default and help.")
def list_(kind: str, hparams: bool) -> None:
    """List what the installed plugins provide."""
    registry = get_registry()
    if hparams and kind != "methods":
        raise DabenchError("--hparams goes with `dabench list methods`")
    if kind == "pairs":
        for pair in registry.all_pairs():
            click.echo(pair)
        return
    if kind == "presets":  # shipped with dabench, not provided by plugins
        from dabench.cli.presets import preset_rows

        click.echo(report.render(["preset", "version", "reference", "description"], preset_rows(), "simple"))
        return
    if kind == "suites":
        for suite in registry.suites.values():
            click.echo(f"{suite.id}: {', '.join(suite.pairs)}")
        return
    table = getattr(registry, kind)
    if hparams:
        rows = [[method_id, *row] for method_id, method_cls in sorted(table.items())
                for row in hparam_rows(method_cls, None)]
        click.echo(report.render(["method", *HPARAM_COLUMNS], rows, "simple"))
        return
    rows = [[item_id, registry.provider(kind, item_id), _summary(item)] for item_id, item in sorted(table.items())]
    click.echo(report.render(["id", "plugin", "description"], rows, "simple"))


SUMMARY_WIDTH = 100


def _summary(item: object, width: int = SUMMARY_WIDTH) -> str:
    """The description's first paragraph on one line; past ``width``, cut after its first sentence that fits,
    else at a word boundary outside any parenthesis, marked "…" (a docstring's line break is no place to cut)."""
    text = getattr(item, "description", "") or (item.__doc__ or "")
    return summary_of(text, width)


def summary_of(text: str, width: int = SUMMARY_WIDTH) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    if len(paragraph) <= width:
        return paragraph
    depth, sentence_end, word_end, any_word_end = 0, 0, 0, 0
    for index, char in enumerate(paragraph[:width + 1]):
        if char == " ":
            any_word_end = index
            if depth == 0:
                word_end = index
                if paragraph[index - 1] in ".;" and index > 1:
                    sentence_end = index
        depth += (char in "([{") - (char in ")]}")
    if sentence_end:
        return paragraph[:sentence_end].rstrip(";").rstrip()
    if word_end:
        return paragraph[:word_end].rstrip(" ,;:-") + " …"
    # the first words are all inside a parenthesis: cut at a word in it, and close what is open
    kept = (paragraph[:any_word_end] if any_word_end else paragraph.split(" ", 1)[0]).rstrip(" ,;:-")  # a word whole
    unclosed = {"(": ")", "[": "]", "{": "}"}
    closing = []
    for char in kept:
        if char in unclosed:
            closing.append(unclosed[char])
        elif closing and char == closing[-1]:
            closing.pop()
    return kept + " …" + "".join(reversed(closing))


@click.command("plugins")
def plugins() -> None:
    """Every plugin found, with its version, what it provides, and any error. Two plugins registering
    one id are listed too (each other command refuses to run then); the clash is shown and exits 2."""
    from dabench.host.registry import build_registry, default_host

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


# method show ----------------------------------------------------------------------------------------
HPARAM_COLUMNS = ("hyperparameter", "type", "default", "help")
DIFFERS = " *"  # after a value a pair's defaults change


@click.group("method")
def method_group() -> None:
    """What one method declares."""


@method_group.command("show")
@click.argument("name")
@click.option("--pair", "-p", default=None,
              help="SOURCE:TARGET: also the value each hyperparameter takes on this pair, and where it comes from.")
def method_show(name: str, pair: str | None) -> None:
    """Each hyperparameter of method NAME with its type, default and help; with --pair, the per-target or
    per-pair default that applies (from the method's YAML: `targets: T` or `pairs: S:T`), marked * where
    it differs from the default."""
    registry = get_registry()
    method_cls = registry.method(name)  # the errors `dabench run` gives, in its order
    parsed = registry.pair(pair) if pair is not None else None
    title = " ".join((inspect.getdoc(method_cls) or "").split("\n\n")[0].split())  # the paper, per STYLE.md
    click.echo(f"method {method_cls.id} (plugin {registry.provider('methods', method_cls.id)}): {title}")
    if method_cls.paper:
        click.echo(f"paper: {method_cls.paper}")
    if method_cls.defaults_file is not None:
        click.echo(f"per-target and per-pair defaults: {method_cls.defaults_file}")
    click.echo("")
    rows = hparam_rows(method_cls, parsed)
    if not rows:
        click.echo("no hyperparameters")
        return
    columns = list(HPARAM_COLUMNS) if parsed is None else [*HPARAM_COLUMNS[:3], str(parsed), "from", "help"]
    click.echo(report.render(columns, rows, "simple"))
    for line in _run_setting_lines(method_cls, parsed):
        click.echo(line)
    if parsed is not None and any(row[3].endswith(DIFFERS) for row in rows):
        click.echo(f"*: differs from the default on {parsed}")
    click.echo("change one with --set NAME=VALUE (dabench run, dabench sweep)")


def hparam_rows(method_cls: type, pair: Pair | None) -> list[list[str]]:
    """Per hyperparameter: name, type (the dataclass annotation), default, [value on ``pair``, where that
    value comes from,] help; values as YAML, as ``--set`` takes them."""
    defaults = method_cls.hparam_defaults()
    helps = method_cls.hparam_help()
    types = {f.name: annotation_text(f.type) for f in dataclasses.fields(method_cls.Hparams)}
    if pair is None:
        return [[name, types[name], _yaml_text(default), helps[name]] for name, default in defaults.items()]
    overrides = method_cls.overrides_for(pair.source, pair.target)
    origins = override_origins(method_cls, pair, overrides)
    rows = []
    for name, default in defaults.items():
        value = overrides.get(name, default)
        mark = DIFFERS if _plain(value) != _plain(default) else ""
        rows.append([name, types[name], _yaml_text(default), _yaml_text(value) + mark, origins.get(name, ""),
                     helps[name]])
    return rows


def override_origins(method_cls: type, pair: Pair, overrides: dict[str, Any]) -> dict[str, str]:
    """Where each of ``overrides`` (``method_cls.overrides_for(pair)``) comes from: ``pairs: S:T`` or
    ``targets: T`` of the method's defaults YAML (pairs win, as in Method.overrides_for), else
    ``overrides_for`` (a method that computes them in code)."""
    table: dict[str, Any] = {}
    if method_cls.defaults_file is not None and Path(method_cls.defaults_file).exists():
        from dabench.settings.config import load_yaml

        table = load_yaml(Path(method_cls.defaults_file).read_text()) or {}
    by_target = (table.get("targets") or {}).get(pair.target) or {}
    by_pair = (table.get("pairs") or {}).get(str(pair)) or {}
    origins = {}
    for key, value in overrides.items():
        if key in by_pair and by_pair[key] == value:
            origins[key] = f"pairs: {pair}"
        elif key in by_target and by_target[key] == value:
            origins[key] = f"targets: {pair.target}"
        else:
            origins[key] = "overrides_for"
    return origins


def _run_setting_lines(method_cls: type, pair: Pair | None) -> list[str]:
    """Run settings (not hyperparameters) a method's YAML changes on ``pair``, e.g. ``ssl.epochs``."""
    from dabench.settings.config import describe_changes

    if pair is None:
        return []
    overrides = method_cls.overrides_for(pair.source, pair.target)
    origins = override_origins(method_cls, pair, overrides)
    hparams = method_cls.hparam_defaults()
    return [f"run setting on {pair}: {describe_changes({key: value})} ({origins[key]})"
            for key, value in overrides.items() if key not in hparams]


def _plain(value: Any) -> Any:
    """Tuples as lists (YAML has no tuples), so a default and a YAML value compare as --set would."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _yaml_text(value: Any) -> str:
    return yaml.safe_dump(_plain(value), default_flow_style=True).strip().removesuffix("...").strip()
