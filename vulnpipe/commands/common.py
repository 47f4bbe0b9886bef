"""Options and helpers shared by several commands."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

ProfileOpt = typer.Option(None, "--profile", "-p",
                          help="Which findings to keep: l2tp (default), all, or a profile "
                               "from --profiles-file.")
PluginOpt = typer.Option(None, "--plugin",
                         help="Also keep this plugin ID (repeatable). Alone, keeps only these.")
ProfilesFileOpt = typer.Option(None, "--profiles-file",
                               help="TOML file with [profiles.NAME] tables (repeatable).")


def pick_profile(name: Optional[str], plugins: Optional[List[int]],
                 files: Optional[List[Path]]):
    """The profile the options ask for: --profile, else only --plugin IDs, else l2tp."""
    from ingest.profiles import resolve_profile

    if name is None:
        name = "plugins" if plugins else "l2tp"
    return resolve_profile(name, profiles_files=files or (), extra_plugins=plugins or ())

DbOpt = typer.Option(None, "--db", envvar="VULNPIPE_DB",
                     help="Database: a SQLite file path (default vulnpipe.db) or a "
                          "postgresql://user@host:port/db URL.")
