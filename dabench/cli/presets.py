"""`dabench preset show NAME` and `dabench list presets`: the reference recipes shipped as config layers
(dabench.settings.presets), and the options `run`, `sweep` and `source train` share for presets and costs."""

from __future__ import annotations

import click
import yaml

from dabench.settings import presets

preset_option = click.option(
    "--preset", default=None, metavar="NAME",
    help="A reference's recipe as one layer between the defaults and -c/--set (dabench list presets).")
estimate_option = click.option(
    "--estimate-for", "estimate_for", default=None, metavar="PROFILE|FILE.json",
    help="With --dry-run: estimate wall time from this throughput profile (e.g. h200), your own JSON file, or "
         "'index' (your finished runs on this machine's device; the adaptation stage only). Default: the "
         "profile of this machine's GPU, if one was measured.")


def preset_rows() -> list[list[str]]:
    rows = []
    for name in presets.known():
        preset = presets.load(name)
        rows.append([preset.name, str(preset.version), preset.reference, " ".join(preset.description.split())])
    return rows


@click.group("preset")
def preset_group() -> None:
    """Reference recipes shipped as config layers (--preset NAME)."""


@preset_group.command("show")
@click.argument("name")
def preset_show(name: str) -> None:
    """What preset NAME sets (for every method, per method, per pair), what it copies and what it does not match."""
    preset = presets.load(name)
    click.echo(f"preset {preset.name} v{preset.version}: {' '.join(preset.description.split())}")
    click.echo(f"reference: {preset.reference}; file (values with their sources): {preset.path}")
    sections = [("run settings (every method)", preset.settings)]
    sections += [(f"method {method}", values) for method, values in sorted(preset.methods.items())]
    sections += [(f"pair {pair}, method {method}", values) for pair, by_method in sorted(preset.pairs.items())
                 for method, values in sorted(by_method.items())]
    for title, values in sections:
        click.echo(f"\n{title}:")
        click.echo(yaml.safe_dump(values, sort_keys=True, default_flow_style=False).rstrip())
    if preset.not_matched:
        click.echo("\nnot matched:")
        for line in preset.not_matched:
            click.echo(f"- {' '.join(line.split())}")
    click.echo("\nlayering: defaults <- method per-pair YAML <- preset <- -c <- --set (a -c/--set value wins "
               "and the run's config lists it under preset.overridden)")


def resolve_profile(estimate_for: str | None, device: str = "auto") -> dict | None:
    """The throughput profile a --dry-run estimates with: --estimate-for, else this machine's GPU's, else None."""
    from dabench.run import estimate

    if estimate_for == "index":
        from dabench.run.measured import measured_profile
        from dabench.run.record import device_name
        from dabench.train.device import resolve_device

        return measured_profile(device_name(resolve_device(device)))
    if estimate_for is not None:
        return estimate.load_profile(estimate_for)
    if device == "cpu":
        return None
    import torch

    return estimate.profile_for_device(torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
