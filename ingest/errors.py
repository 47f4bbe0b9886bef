"""Errors that reach the user as one clear line.

Every error raised by vulnpipe's libraries for bad input is a :class:`VulnpipeError`:
the CLI prints ``str(err)`` on stderr and exits non-zero, never a traceback.
"""
from __future__ import annotations


class VulnpipeError(Exception):
    """A problem the user can fix. ``str()`` is a single line: where, what, what to do."""

    def __init__(self, what: str, *, path: object | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.what = what
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        text = where + self.what
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())  # never more than one line


class ParseError(VulnpipeError):
    """A .nessus input that cannot be read."""


class InputError(VulnpipeError):
    """A command-line input (path, option value, profile) that is wrong."""


class BadValue(InputError):
    """An option's value of the wrong form (a date, an ISO week, a quarter): a usage error,
    which the CLI reports with exit status 2 like the option parser's own."""
