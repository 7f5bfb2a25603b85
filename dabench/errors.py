"""The one exception type for mistakes a user can make; the CLI prints it without a traceback."""

from __future__ import annotations


class DabenchError(Exception):
    """A user-facing error: the message says what was wrong, where, and what to do."""


def did_you_mean(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> DabenchError:
    """An 'unknown X' error that lists every valid choice."""
    choices = ", ".join(sorted(valid)) or "(none registered)"
    return DabenchError(f"unknown {kind} '{name}'; valid {kind}s: {choices}")
