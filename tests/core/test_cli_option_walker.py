"""Every option and argument of every command, walked from the click tree (a new option is covered the day it
is added) with hostile values for its type: empty, zero, negative, huge, wrong type, a folder, a path under a
file, an unwritable path. Each ends as one message with a non-zero exit, or is accepted and reaches the
command's work (stubbed here: no training, no preparation); never a traceback. Values that cannot be right for
the option's type (a word for an integer, a choice not offered) must exit non-zero."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from dabench.cli import cli, main

BASE = {  # a valid, cheap invocation of each command; its options are replaced one at a time
    ("data", "check"): ["synth-lab"],
    ("data", "prepare"): ["synth-lab"],
    ("list",): ["methods"],
    ("method", "show"): ["shot"],
    ("new-plugin",): ["my_plugin", "--parent", "{tmp}/plugins"],
    ("plugins",): [],
    ("preset", "show"): ["clup-reference"],
    ("report", "export"): ["--out", "{tmp}/export.csv"],
    ("report", "leaderboard"): [],
    ("report", "per-class"): ["--method", "shot", "--pair", "synth-lab:synth-wild"],
    ("report", "plot"): ["--out", "{tmp}/plot.png"],
    ("report", "reindex"): [],
    ("report", "search"): [],
    ("report", "selection"): [],
    ("run",): ["--method", "source_only", "--pair", "synth-lab:synth-wild"],
    ("source", "train"): ["--dataset", "synth-lab"],
    ("status",): [],
    ("sweep",): ["--pairs", "synth-lab:synth-wild", "--methods", "source_only", "--seeds", "0"],
}


class _ReachedWork(Exception):
    """Raised by the stubs: the command accepted its input and began its real work."""


def _hostile(param: click.Parameter, tmp: Path) -> list[tuple[str, bool]]:
    """(value, whether it must be refused) for ``param``'s type."""
    a_file = tmp / "a_file.txt"
    common = [("", False), ("x" * 5000, False), (str(tmp), False), (str(a_file / "under"), False),
              ("/proc/unwritable/x", False)]
    kind = param.type
    if isinstance(kind, (click.types.IntParamType, click.types.IntRange)):
        return [("", True), ("0", False), ("-1", False), ("1" + "0" * 30, False), ("abc", True), ("1.5", True)]
    if isinstance(kind, click.Choice):
        return [("", True), ("no-such-choice", True), (kind.choices[0].upper() + "!", True)]
    if isinstance(kind, (click.Path, click.File)):
        return common + [(str(tmp / "absent" / "file.yaml"), False)]
    return common + [("0", False), ("-1", False), ("=", False), ("a=b=c", False), ("1" + "0" * 30, False)]


def _cases(tmp: Path) -> list[tuple[list[str], str, bool]]:
    cases = []

    def visit(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                visit(sub, (*path, name))
            return
        assert path in BASE, f"command `dabench {' '.join(path)}` has no base invocation in this walker: add one"
        base = [part.replace("{tmp}", str(tmp)) for part in BASE[path]]
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "help":
                continue
            for value, refused in _hostile(param, tmp):
                cases.append(([*path, *_with(base, param, value)], f"{' '.join(path)} {param.name}={value[:30]!r}",
                              refused))

    visit(cli, ())
    return cases


def _with(base: list[str], param: click.Parameter, value: str) -> list[str]:
    """``base`` with ``param`` set to ``value`` (replacing the base's own value of it)."""
    if isinstance(param, click.Argument):
        return [value, *base[1:]] if base and not base[0].startswith("-") else [value, *base]
    flag = max(param.opts, key=len)
    argv, skip = [], False
    for index, part in enumerate(base):
        if skip:
            skip = False
            continue
        if part in param.opts:
            skip = True
            continue
        argv.append(part)
    return [*argv, flag, value]


@pytest.fixture
def stubbed_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def reached(*args, **kwargs):
        raise _ReachedWork

    import dabench.data.check
    import dabench.data.pairs
    import dabench.run.execute
    import dabench.sweep.execute

    monkeypatch.setattr(dabench.run.execute, "execute", reached)
    monkeypatch.setattr(dabench.sweep.execute, "run_sweep", reached)
    monkeypatch.setattr(dabench.data.pairs, "load_prepared", reached)
    monkeypatch.setattr(dabench.data.check, "check_dataset", reached)


def test_every_option_of_every_command_takes_hostile_values_without_a_traceback(
        tmp_path: Path, fresh_home: Path, stubbed_work, registry, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_file.txt").write_text("not a folder\n")
    cases = _cases(tmp_path)
    assert len(cases) > 300, len(cases)  # every command, every option, every hostile value
    failures = []
    for argv, label, refused in cases:
        try:
            main(argv)
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code if isinstance(exit_info.code, int) else 1
        except _ReachedWork:
            code = 0
        except Exception as exc:  # a traceback a user would have seen
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            capsys.readouterr()
            continue
        err = capsys.readouterr().err
        messages = [line for line in err.splitlines() if line.startswith(("dabench: error:", "Error:"))]
        if "Traceback" in err:
            failures.append(f"{label}: a traceback on stderr")
        elif code not in (0, 1) and len(messages) != 1:
            failures.append(f"{label}: exit {code} with {len(messages)} error messages: {err[-300:]!r}")
        elif refused and code == 0:
            failures.append(f"{label}: accepted a value its type cannot take")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:40])
