"""The ``dabench`` command line (DESIGN.md section 3): the click group, ``main`` and its error handling.

One module per command group. Each stays torch-free at import, so ``dabench --help`` and the reports start
at once; a command that trains or plans runs imports the runner, sweep or source modules in its body.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from dabench.cli.data import data_group
from dabench.cli.listing import list_, method_group, plugins
from dabench.cli.presets import preset_group
from dabench.cli.report import report_group
from dabench.cli.run import run
from dabench.cli.scaffold import new_plugin
from dabench.cli.source import source_group
from dabench.cli.sweep import status, sweep
from dabench.errors import DabenchError

__all__ = ["cli", "main"]


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


for _command in (run, sweep, status, report_group, list_, plugins, method_group, preset_group, source_group,
                 data_group, new_plugin):
    cli.add_command(_command)


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
    except (OSError, sqlite3.Error) as exc:  # a full disk met where no write said it: still the one message
        from dabench.store import atomic, paths

        if debug:
            raise
        if atomic.is_no_space(exc):
            where = Path(exc.filename).parent if getattr(exc, "filename", None) else paths.home()
            click.echo(f"dabench: error: {atomic.no_space_error(where)}", err=True)
        else:  # a path the filesystem refused (too long, not a folder, no permission): said with the path
            click.echo(f"dabench: error: {_filesystem_message(exc)}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _filesystem_message(exc: Exception) -> str:
    """One line for an OSError (or sqlite3 error) no command turned into a DabenchError: what the filesystem
    said, about which path (shortened), and how to see where dabench met it."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    path = str(getattr(exc, "filename", None) or "")
    shown = f" ({path[:120]}...{path[-40:]})" if len(path) > 160 else (f" ({path})" if path else "")
    return f"{reason}{shown}; check the path you gave (--debug shows where dabench met it)"
