"""``vulnpipe config check``: is vulnpipe.toml right, and does what it names exist?"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import ConfigOpt, load_config

config_app = typer.Typer(help="Check the configuration file.", no_args_is_help=True)


@config_app.command("check")
def check(config: Optional[Path] = ConfigOpt) -> None:
    """Validate vulnpipe.toml (unknown keys, wrong types and missing paths are errors naming
    the key), load the inventory, profiles and remediation knowledge it names, reach the
    database, and print the settings in force.


    Example: vulnpipe config check --config /etc/vulnpipe/vulnpipe.toml
    """
    for topic, text in workflows.check_config(load_config(config)):
        console.out(f"{topic:<13} {text}")
    console.info("configuration OK")
