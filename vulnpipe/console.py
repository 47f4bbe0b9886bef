"""Terminal output: messages on stderr, progress bars only on a terminal."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

_state = {"quiet": False, "verbose": False}


def safe(message: str) -> str:
    """What is printed for ``message``: no password, no control character (a file or member
    name, scanner or inventory text may hold escape sequences)."""
    from vulnpipe.ingest.errors import mask_secrets, printable

    return printable(mask_secrets(message))
_advised: set[str] = set()          # advice already given in this run


def configure(quiet: bool = False, verbose: bool = False) -> None:
    """A new run: these settings, no advice given yet."""
    _state["quiet"] = quiet
    _state["verbose"] = verbose
    _advised.clear()


def set_quiet() -> None:
    """``-q`` given after the command's name."""
    _state["quiet"] = True


def set_verbose() -> None:
    """``-v`` given after the command's name."""
    _state["verbose"] = True


def is_verbose() -> bool:
    return _state["verbose"]


def is_tty() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def error_text(exc: BaseException) -> str:
    """The one line the CLI prints for ``exc`` after ``error:`` (and ``run`` puts in its
    summary): a clear input problem as it is, the environment's errors with what to check,
    anything else as an internal error. A database error gives the driver's first line,
    never the statement or its parameters (owners' names, e-mail addresses)."""
    from vulnpipe.ingest.errors import VulnpipeError

    if isinstance(exc, VulnpipeError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return (f"{where}{exc.strerror or exc} (check free disk space, permissions and paths; "
                "nothing was half-written)")
    orig = getattr(exc, "orig", None)          # SQLAlchemy's wrapper of the driver's error
    text = str(orig if isinstance(orig, BaseException) else exc).strip()
    return (f"internal error: {type(exc).__name__}: {text.splitlines()[0] if text else ''} "
            "(a bug in vulnpipe: run again with --verbose for the traceback and report it)")


def info(message: str) -> None:
    """A progress or summary line (stderr; silenced by --quiet)."""
    if not _state["quiet"]:
        print(safe(message), file=sys.stderr)


def _label(word: str, colour: str) -> str:
    """``word:`` in colour on a terminal (NO_COLOR respected), plain when piped."""
    if is_tty() and not os.environ.get("NO_COLOR"):
        return f"\033[{colour}m{word}:\033[0m"
    return f"{word}:"


def note(message: str) -> None:
    """Something the user should know even with --quiet."""
    print(f"{_label('note', '33')} {safe(message)}", file=sys.stderr)


def advice(message: str) -> None:
    """A note about the input the user may want (e.g. plugin 68453 is not L2TP): printed once
    per run however many steps find it, and never with --quiet."""
    if _state["quiet"] or message in _advised:
        return
    _advised.add(message)
    note(message)


def error(message: str) -> None:
    print(f"{_label('error', '1;31')} {safe(message)}", file=sys.stderr)


def verbose(message: str) -> None:
    if _state["verbose"]:
        print(safe(message), file=sys.stderr)


class _Bar:
    """A rich progress bar as a :class:`vulnpipe.workflows.Progress`."""

    def __init__(self, bar) -> None:
        self._bar = bar
        self._task = None

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, description: str | None = None) -> None:
        if self._task is None:
            self.start(description or "")
        if description is not None:
            self._bar.update(self._task, description=description)
        self._bar.advance(self._task)


class _Silent:
    def start(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, description: str | None = None) -> None:
        return None


@contextmanager
def progress() -> Iterator[_Bar | _Silent]:
    """A rich progress display on a terminal; a silent stand-in when piped or quiet. Either
    is a :class:`vulnpipe.workflows.Progress` (``start``, ``advance``)."""
    if _state["quiet"] or not is_tty():
        yield _Silent()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        yield _Bar(bar)
