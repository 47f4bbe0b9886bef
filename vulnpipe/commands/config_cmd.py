"""``vulnpipe config check``: is vulnpipe.toml right, and does what it names exist?"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import ConfigOpt

config_app = typer.Typer(help="Check the configuration file.", no_args_is_help=True)


@config_app.command("check")
def check(config: Optional[Path] = ConfigOpt) -> None:
    """Validate vulnpipe.toml (unknown keys and wrong types are errors naming the key), load
    the inventory and profiles it names, reach the database, and print the settings in force.


    Example: vulnpipe config check --config /etc/vulnpipe/vulnpipe.toml
    """
    from vulnpipe.ingest.store import display_url, make_engine
    from vulnpipe.ingest.store.engine import connect_error, resolve_url, schema_revision

    from vulnpipe.workflows import load_config, load_inventory_option
    from vulnpipe.commands.common import pick_db, pick_profile

    cfg = load_config(config)
    print(f"config        {cfg.path or '(none: defaults)'}")
    prof = pick_profile(None, None, None, cfg)
    print(f"profile       {prof.name} ({len(prof.plugin_ids)} plugins named)")
    print("parse         " + ("strict: libxml2 checks every byte" if cfg.parse.strict else
                              "structure checked, dropped items not read (strict = false)"))
    inv = load_inventory_option(cfg, None, None)
    if inv is None:
        print("inventory     (none: the inventory stored by the last run is used)")
    else:
        print(f"inventory     {cfg.inventory.path}: {len(inv.assets)} assets, "
              f"{len(inv.issues)} data-quality issue(s)")
    print(f"owners        default owner {cfg.owners.default_owner or '(none)'}")
    print(f"priority      {len(cfg.priority.rules)} rule(s), fallback "
          f"{cfg.priority.fallback_priority}/{cfg.priority.fallback_sla_days} days")
    url = resolve_url(pick_db(None, cfg))
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        print(f"database      {display_url(url)} (does not exist yet: the first ingest creates it)")
        print(f"report        {cfg.report.weeks} weeks of trend; run output in {cfg.run.out_dir}")
        console.info("configuration OK")
        return
    try:
        revision = schema_revision(make_engine(url))
    except Exception as exc:  # noqa: BLE001 - any driver error is one clear line
        from vulnpipe.ingest.errors import VulnpipeError
        if isinstance(exc, VulnpipeError):
            raise
        raise connect_error(exc, url) from None
    print(f"database      {display_url(url)} (schema {revision or 'empty'})")
    print(f"report        {cfg.report.weeks} weeks of trend; run output in {cfg.run.out_dir}")
    console.info("configuration OK")
