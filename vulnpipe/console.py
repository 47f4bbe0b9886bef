"""Terminal output: messages on stderr, progress bars only on a terminal."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

_state = {"quiet": False, "verbose": False}


def configure(quiet: bool = False, verbose: bool = False) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose


def is_verbose() -> bool:
    return _state["verbose"]


def is_tty() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def info(message: str) -> None:
    """A progress or summary line (stderr; silenced by --quiet)."""
    if not _state["quiet"]:
        print(message, file=sys.stderr)


def note(message: str) -> None:
    """Something the user should know even with --quiet."""
    print(f"note: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def verbose(message: str) -> None:
    if _state["verbose"]:
        print(message, file=sys.stderr)


class _NoProgress:
    def add_task(self, *a, **k) -> int:
        return 0

    def update(self, *a, **k) -> None:
        pass

    def advance(self, *a, **k) -> None:
        pass


@contextmanager
def progress() -> Iterator:
    """A rich progress display on a terminal; a silent stand-in when piped or quiet."""
    if _state["quiet"] or not is_tty():
        yield _NoProgress()
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        yield bar
