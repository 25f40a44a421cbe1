"""The package's error types, at the bottom of the layer stack so that every layer can raise them.

The command line maps them to exit codes: :class:`UsageError` (the command or recipe asks for
something impossible) exits 2, any other :class:`TanetError` (a file, a checkpoint or the data
turned out to be bad while running) exits 1. Each message names the file and what is wrong.
"""
from __future__ import annotations

__all__ = ["TanetError", "UsageError"]


class TanetError(Exception):
    """A problem the user can fix, reported as one line (no traceback) by the command line."""


class UsageError(TanetError, ValueError):
    """An option, a recipe key or an argument value that cannot work (exit code 2)."""
