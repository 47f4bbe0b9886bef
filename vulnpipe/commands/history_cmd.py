"""``vulnpipe export`` and ``vulnpipe import``: move a history between stores."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import ConfigOpt, DbOpt, load_config, pick_db


def export(
    out: str = typer.Argument(..., metavar="FILE",
                              help="History file to write (.gz: compressed; - for stdout)."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Write the history (every scan as stored, every decision with its time, the stored
    inventory) to one file, for a move to another database or a portable backup. Tickets
    are not in it: they are rebuilt from it, the same.


    Example: vulnpipe export history.jsonl.gz --db vulnpipe.db
    """
    engine = workflows.open_store(pick_db(db, load_config(config)), create=False)
    try:
        moved = workflows.export_history(engine, out)
    finally:
        engine.dispose()
    console.info(f"{moved.database}: exported {moved.text()} to {out}")


def import_(
    source: Path = typer.Argument(..., metavar="FILE", help="A file `vulnpipe export` wrote."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Read a history file into a new, empty database (all or nothing); the first command
    that reads tickets then rebuilds them.


    Example: vulnpipe import history.jsonl.gz --db postgresql://vulnpipe@db.example/vulnpipe
    """
    moved = workflows.import_history(pick_db(db, load_config(config)), source)
    console.info(f"{moved.database}: imported {moved.text()} from {source}")
