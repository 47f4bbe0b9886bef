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


def _label(word: str, colour: str) -> str:
    """``word:`` in colour on a terminal (NO_COLOR respected), plain when piped."""
    if is_tty() and not os.environ.get("NO_COLOR"):
        return f"\033[{colour}m{word}:\033[0m"
    return f"{word}:"


def note(message: str) -> None:
    """Something the user should know even with --quiet."""
    print(f"{_label('note', '33')} {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"{_label('error', '1;31')} {message}", file=sys.stderr)


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
