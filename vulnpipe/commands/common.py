"""Options and option parsing shared by several commands (the library work is in
:mod:`vulnpipe.workflows`)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.config import Config, load_config
from vulnpipe.ingest.errors import BadValue

if TYPE_CHECKING:
    from vulnpipe.ingest.profiles import Profile

ProfileOpt = typer.Option(None, "--profile", "-p", metavar="NAME",
                          help="Which findings to keep: l2tp (default), all, or a profile "
                               "from --profiles-file.")
CampaignsOpt = typer.Option(None, "--profile", "-p", metavar="NAME",
                            help="Which findings to keep: l2tp (default), all, or a profile "
                                 "from --profiles-file. Repeat it for several campaigns (their "
                                 "findings are stored once, each marked with its campaigns). "
                                 "Default: [profiles] campaigns in vulnpipe.toml, else "
                                 "[profiles] default.")
PluginOpt = typer.Option(None, "--plugin", metavar="ID",
                         help="Also keep this plugin ID (repeatable). Alone, keeps only these.")
ProfilesFileOpt = typer.Option(None, "--profiles-file", metavar="PATH",
                               help="TOML file with [profiles.NAME] tables (repeatable).")

StrictOpt = typer.Option(None, "--strict/--no-strict", show_default=False,
                         help="Have libxml2 check every byte of each file (slower). By default a "
                              "filtering profile checks the file's structure and fully reads only "
                              "the items it keeps, so a defect inside a dropped item is not "
                              "reported. Default: [parse] strict in vulnpipe.toml, else off.")

DbOpt = typer.Option(None, "--db", envvar="VULNPIPE_DB", metavar="URL",
                     help="Database: a SQLite file path (default vulnpipe.db) or a "
                          "postgresql://user@host:port/db URL.")

InventoryOpt = typer.Option(None, "--inventory", "-i", metavar="PATH",
                            help="Asset inventory (CSV or XLSX). Default: [inventory] path in "
                                 "vulnpipe.toml, else the inventory stored by the last run.")
SheetOpt = typer.Option(None, "--sheet", metavar="NAME", help="XLSX inventory sheet (default: the first).")
ConfigOpt = typer.Option(None, "--config", "-c", metavar="PATH",
                         help="Config file (default: $VULNPIPE_CONFIG, else ./vulnpipe.toml "
                              "when present).")
AsOfOpt = typer.Option(None, "--as-of", metavar="DATE", help="Judge states as of this date/time (ISO 8601, "
                                             "UTC). Default: now.")
ExcludeOpt = typer.Option(
    None, "--exclude", metavar="GLOB",
    help="Leave out inputs whose name or path matches (repeatable), e.g. '*-partial.nessus'.")
QuarantineOpt = typer.Option(
    None, "--quarantine", metavar="DIR",
    help="Move each refused scan file into this folder (so later runs over the same export "
         "folder do not meet it again); the command still exits 1 that once.")


def pick_strict(strict: Optional[bool], cfg: Config | None = None) -> bool:
    """--strict / --no-strict, else [parse] strict from ``cfg``, else off."""
    if strict is not None:
        return strict
    return bool(cfg is not None and cfg.parse.strict)


def pick_profile(name: Optional[str], plugins: Optional[List[int]],
                 files: Optional[List[Path]], cfg: Config | None = None) -> "Profile":
    """The profile the options ask for (see :func:`vulnpipe.workflows.resolve_profile_for`)."""
    return workflows.resolve_profile_for(cfg, name, plugins or (), files or ())


def pick_campaigns(names: Optional[List[str]], plugins: Optional[List[int]],
                   files: Optional[List[Path]], cfg: Config | None = None) -> "Profile":
    """The campaigns the options ask for (see :func:`vulnpipe.workflows.resolve_campaigns_for`)."""
    return workflows.resolve_campaigns_for(cfg, names or (), plugins or (), files or ())


def pick_db(db: Optional[str], cfg: Config | None = None) -> Optional[str]:
    """--db (or VULNPIPE_DB), else [store] url from ``cfg`` (by default ./vulnpipe.toml),
    else None (vulnpipe.db)."""
    return workflows.store_url(cfg, db)


def parse_when(text: str | None, *, end_of_day: bool = False, what: str = "date") -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime (None stays None).

    A bare date means the start of that day, or with ``end_of_day`` the start of the next
    (an acceptance "until 2026-12-31" is valid through that whole day).
    """
    if text is None:
        return None
    try:
        if len(text.strip()) == 10:
            day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return day + timedelta(days=1) if end_of_day else day
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"{what} {text!r} is not a date",
                       hint="write it as YYYY-MM-DD, or an ISO 8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_days_or_all(text: str, what: str) -> int | None:
    """A whole number of days from 0, or ``all`` (None)."""
    from vulnpipe.config import MAX_FIXED_WITHIN_DAYS

    value = text.strip().lower()
    if value == "all":
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_FIXED_WITHIN_DAYS:
        raise BadValue(f"{what} {text!r} is not a number of days",
                       hint=f"give whole days from 0 to {MAX_FIXED_WITHIN_DAYS}, or all")
    return int(value)


def notify(level: str, text: str) -> None:
    """The workflows' ``notify`` hook: messages on stderr as :mod:`vulnpipe.console` prints them."""
    {"error": console.error, "note": console.note, "info": console.info,
     "verbose": console.verbose}[level](text)


__all__ = ["AsOfOpt", "CampaignsOpt", "ConfigOpt", "DbOpt", "InventoryOpt", "PluginOpt", "ProfileOpt",
           "ProfilesFileOpt", "SheetOpt", "StrictOpt", "load_config", "notify", "parse_days_or_all",
           "parse_when",
           "pick_campaigns", "pick_db", "pick_profile", "pick_strict"]
