"""The one exception type for mistakes a user can make; the CLI prints it without a traceback."""

from __future__ import annotations

import contextlib
import inspect
import traceback
from collections.abc import Iterator
from pathlib import Path


class DabenchError(Exception):
    """A user-facing error: the message says what was wrong, where, and what to do."""


def did_you_mean(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> DabenchError:
    """An 'unknown X' error that lists every valid choice."""
    choices = ", ".join(sorted(valid)) or "(none registered)"
    return DabenchError(f"unknown {kind} '{name}'; valid {kind}s: {choices}")


class PluginError(DabenchError):
    """A plugin broke its contract while a run used it (it raised, or returned what it must not). The
    message names the plugin and its line; a run keeps the full traceback in its folder's error.txt."""


@contextlib.contextmanager
def blame_plugin(kind: str, name: str, plugin: object) -> Iterator[None]:
    """Run plugin code; anything but a DabenchError it raises becomes one PluginError naming the plugin,
    the innermost line of its own code in the traceback, and the exception (the original is its cause)."""
    try:
        yield
    except (DabenchError, MemoryError):
        raise
    except Exception as exc:  # not KeyboardInterrupt/SystemExit: an interrupted run resumes, it did not fail
        if type(exc).__name__ == "OutOfMemoryError":  # torch's (a RuntimeError): the device ran out, no plugin bug
            raise
        raise PluginError(f"{kind} '{name}' raised {type(exc).__name__}: {exc} (at {plugin_line(exc, plugin)}); "
                          f"this is a bug in the {kind}'s code (its whole traceback: --debug, or a run's error.txt)") from exc


def plugin_line(exc: BaseException, plugin: object) -> str:
    """``file:line in function`` of the innermost traceback frame inside ``plugin``'s own package (its
    module's folder), else the innermost frame of all."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown line"
    try:
        home = Path(inspect.getfile(plugin if inspect.isclass(plugin) or inspect.ismodule(plugin)
                                    else type(plugin))).resolve().parent
    except (TypeError, OSError):
        home = None
    own = [f for f in frames if home is not None and Path(f.filename).resolve().is_relative_to(home)]
    frame = (own or frames)[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"
