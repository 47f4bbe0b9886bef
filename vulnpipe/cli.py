"""The ``vulnpipe`` command line: a thin layer over the ``ingest`` and ``reports`` libraries.

Exit codes: 0 success; 1 an input or data problem (one clear line on stderr);
2 a usage error (unknown option, missing argument, a value of the wrong form); 3 an alert
asked for with ``run --fail-on``; 70 an internal error (a bug); 130 interrupted (Ctrl-C); 143
terminated (SIGTERM), after the same clean-up as Ctrl-C (no temporary output left,
transactions rolled back, workers ended).
"""
from __future__ import annotations

import copy
import gc
import signal
import sys
import traceback
from pathlib import PurePath
from typing import Any, get_args

import typer
from typer.core import TyperArgument, TyperGroup

from vulnpipe import __version__, console


class _Argument(TyperArgument):
    """A positional argument shown by its name only (``SCAN...``), not its Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")


def _metavar(param: Any) -> str:
    """What ``--help`` shows for a value: PATH, TEXT, INTEGER, [a|b], never a Python type."""
    desc = getattr(param, "type_descriptor", None)       # typer >= 0.25 (its own click)
    if desc is not None:
        kind = desc.annotation
        if desc.is_list:                                 # a repeatable option: its items
            kind = (get_args(kind) or (str,))[0]
        choices = desc.choices
        is_path = desc.is_path or (isinstance(kind, type) and issubclass(kind, PurePath))
        number = {int: "INTEGER", float: "NUMBER"}.get(kind)
    else:                                                # click types
        kind = getattr(param.type, "name", "")
        choices = getattr(param.type, "choices", None) if kind == "choice" else None
        is_path = kind == "path"
        number = {"integer": "INTEGER", "float": "NUMBER"}.get(kind)
    if choices is not None:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
    if is_path:
        return "PATH"
    if param.param_type_name == "argument":
        return param.name.upper()
    return number or "TEXT"


_AFTER_COMMAND = {"quiet": console.set_quiet, "verbose": console.set_verbose}


def _finish(command: Any, globals_: list[Any]) -> None:
    """Every command also takes the ``globals_`` options (-q, -v) after its name, and its help
    names values (PATH, TEXT, ...) instead of Python types; groups pass this on."""
    if hasattr(command, "commands"):
        for sub in command.commands.values():
            _finish(sub, globals_)
        return
    if any(p.name in _AFTER_COMMAND for p in command.params):
        return
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        if param.metavar is None:
            param.metavar = _metavar(param)
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
    for option in globals_:
        copied = copy.copy(option)         # the root's option, acting on this command
        copied.expose_value = False
        copied.callback = lambda _ctx, param, value: value and _AFTER_COMMAND[param.name]()
        command.params.append(copied)


class _Root(TyperGroup):
    """The ``vulnpipe`` group; see :func:`_finish`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _finish(self, [p for p in self.params if p.name in _AFTER_COMMAND])


app = typer.Typer(
    cls=_Root,
    name="vulnpipe",
    help="Turn Nessus scan exports into owned, verified remediation (L2TP exposure first).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        print(f"vulnpipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Only errors on stderr (before or after the command)."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="More detail on stderr (before or after the command)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    console.configure(quiet=quiet, verbose=verbose)


def _register_commands() -> None:
    """Every command, registered explicitly (in the order ``--help`` lists them)."""
    from vulnpipe.commands import (
        config_cmd,
        evidence_cmd,
        history_cmd,
        inspect_cmd,
        jira_cmd,
        join_cmd,
        parse_cmd,
        reconcile_cmd,
        report_cmd,
        run_cmd,
        store_cmd,
        tickets_cmd,
    )

    app.add_typer(config_cmd.config_app, name="config")
    app.add_typer(evidence_cmd.evidence_app, name="evidence")
    app.command("inspect")(inspect_cmd.inspect)
    app.command("join")(join_cmd.join)
    app.command("parse")(parse_cmd.parse)
    app.command("reconcile")(reconcile_cmd.reconcile)
    app.add_typer(report_cmd.report_app, name="report")
    app.command("run")(run_cmd.run)
    app.add_typer(store_cmd.db_app, name="db")
    app.command("ingest")(store_cmd.ingest)
    app.command("scans")(store_cmd.list_scans)
    app.command("findings")(store_cmd.stored_findings)
    app.command("export")(history_cmd.export)
    app.command("import")(history_cmd.import_)
    app.command("tickets")(tickets_cmd.tickets)
    app.command("accept")(tickets_cmd.accept)
    app.command("adjust")(tickets_cmd.adjust)
    app.command("false-positive")(tickets_cmd.false_positive)
    app.command("reopen")(tickets_cmd.reopen)
    app.add_typer(jira_cmd.jira_app, name="jira")


_register_commands()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it cleans up exactly as after Ctrl-C."""


_terminated: list[bool] = []
#: The cyclic garbage collector's thresholds while a command runs. A command is one batch that
#: keeps many long-lived objects (tickets, rows, parsed records) and makes little cyclic
#: garbage; with Python's default (700, 10, 10) the collector re-walked them so often that it
#: took a fifth of `report weekly` on a year of history (benchmarks/RESULTS-history.md).
BATCH_GC_THRESHOLD = (100_000, 20, 10)


def _let_go(exc: BaseException | None) -> None:
    """Finish now what the interrupted work left suspended: clearing the frames of ``exc``'s
    traceback (and of the exceptions it arose from) closes the generators they held, which
    runs their clean-up (a worker pool's shutdown, a temporary file's removal) before the
    process exits, not during the interpreter's own exit (where a pool still running was
    seen to hang it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__context__ or exc.__cause__


def _on_sigterm(_signum: int, _frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second one must not stop the clean-up
    _terminated.append(True)
    raise Terminated()


def main() -> None:
    from vulnpipe.ingest.errors import BadValue, VulnpipeError

    _terminated.clear()
    import logging

    for name in ("sqlalchemy", "psycopg"):     # their errors reach the user as one line, ours
        logging.getLogger(name).addHandler(logging.NullHandler())
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:            # not the main thread (an embedding program's business)
        pass
    threshold = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLD)
    try:
        try:
            app()
        except SystemExit as exc:         # (Typer turns an interrupt into a silent exit 130)
            if exc.code == 130:
                raise (Terminated() if _terminated else KeyboardInterrupt()) from None
            raise
    except BadValue as exc:           # a value of the wrong form: a usage error
        console.error(console.error_text(exc))
        sys.exit(2)
    except VulnpipeError as exc:
        console.error(console.error_text(exc))
        sys.exit(1)
    except Terminated as exc:
        _let_go(exc)
        console.error("terminated (SIGTERM): nothing was half-written")
        sys.exit(143)
    except KeyboardInterrupt as exc:
        _let_go(exc)
        console.error(console.error_text(exc))
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:   # the environment, not a bug: disk full, permissions, a lost file
        console.error(console.error_text(exc))
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one line, not a traceback
        if console.is_verbose():
            raise
        console.error(console.error_text(exc))
        sys.exit(70)
    finally:
        gc.set_threshold(*threshold)
