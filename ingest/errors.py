"""Errors that reach the user as one clear line.

Every error raised by vulnpipe's libraries for bad input is a :class:`VulnpipeError`:
the CLI prints ``str(err)`` on stderr and exits non-zero, never a traceback.
"""
from __future__ import annotations

import re

#: Password forms in URLs and connection strings: ``user:PW@host``; ``password=PW``,
#: ``sslpassword=PW``, ``PGPASSWORD=PW`` (a query, libpq ``key=value`` text, an environment
#: line, URL-encoded in ``?options=``), quoted or not.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")
_KEYWORD = re.compile(r"([A-Za-z_]*(?:passw(?:or)?d|pwd|passphrase)[A-Za-z_]*[ \t]*(?:=|%3[dD])[ \t]*)"
                      r"('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)", re.IGNORECASE)
_SECRETS: set[str] = set()
MASK = "***"


def remember_secret(value: str | None) -> None:
    """A password met (in a database URL, say) is masked wherever it shows up later, even in
    a driver's message that quotes it."""
    if value and len(value) >= 4 and value != MASK:
        _SECRETS.add(value)


def mask_secrets(text: str) -> str:
    """``text`` with every password form masked (``***``): URL user info, ``password=``
    and similar keys in queries and connection strings, and every password remembered by
    :func:`remember_secret`. The one masking function: errors, messages, manifests and
    reports all go through it."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    return _KEYWORD.sub(lambda m: m.group(1) + MASK, text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (escape sequences, bidi
    overrides, ...) shown as ``\\xNN``/``\\uNNNN``, tabs and newlines kept."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
        # never more than one line, never a password, never a control character
        return printable(mask_secrets(" ".join(text.split())))


class ParseError(VulnpipeError):
    """A .nessus input that cannot be read."""


class InputError(VulnpipeError):
    """A command-line input (path, option value, profile) that is wrong."""


class BadValue(InputError):
    """An option's value of the wrong form (a date, an ISO week, a quarter): a usage error,
    which the CLI reports with exit status 2 like the option parser's own."""
