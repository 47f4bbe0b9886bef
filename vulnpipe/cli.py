"""The ``vulnpipe`` command line: a thin layer over the ``ingest`` and ``reports`` libraries.

Exit codes: 0 success; 1 an input or data problem (one clear line on stderr);
2 a usage error (unknown option, missing argument); 70 an internal error (a bug);
130 interrupted.
"""
from __future__ import annotations

import sys

import typer

from vulnpipe import __version__, console

app = typer.Typer(
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and notes on stderr."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    console.configure(quiet=quiet, verbose=verbose)


def _register_commands() -> None:
    """Every command, registered explicitly (in the order ``--help`` lists them)."""
    from vulnpipe.commands import (
        config_cmd,
        evidence_cmd,
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
    app.command("tickets")(tickets_cmd.tickets)
    app.command("accept")(tickets_cmd.accept)
    app.command("false-positive")(tickets_cmd.false_positive)
    app.command("reopen")(tickets_cmd.reopen)
    app.add_typer(jira_cmd.jira_app, name="jira")


_register_commands()


def main() -> None:
    from vulnpipe.ingest.errors import VulnpipeError

    try:
        app()
    except VulnpipeError as exc:
        console.error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:   # the environment, not a bug: disk full, permissions, a lost file
        where = f"{exc.filename}: " if exc.filename else ""
        console.error(f"{where}{exc.strerror or exc} (check free disk space, permissions and "
                      "paths; nothing was half-written)")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one line, not a traceback
        if console.is_verbose():
            raise
        console.error(f"internal error: {type(exc).__name__}: {exc} "
                      "(a bug in vulnpipe: run again with --verbose for the traceback and report it)")
        sys.exit(70)
