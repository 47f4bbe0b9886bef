"""What several commands need from the options and the config: inventory, ticket settings."""
from __future__ import annotations

from pathlib import Path

from vulnpipe.config import Config, load_config


def load_inventory_option(cfg: Config, inventory: Path | None, sheet: str | None):
    """The inventory from ``--inventory``, else from the config, else None (use the store's)."""
    from vulnpipe.ingest.assets.inventory import load_inventory

    path = inventory or cfg.inventory.path
    if path is None:
        return None
    return load_inventory(path, sheet=sheet if sheet is not None else cfg.inventory.sheet,
                          columns=cfg.inventory.columns)


def ticket_settings(cfg: Config):
    from vulnpipe.reports.tickets.build import TicketSettings

    return TicketSettings(rules=cfg.priority.rules, fallback=cfg.priority.fallback,
                          default_owner=cfg.owners.default_owner,
                          default_owner_email=cfg.owners.default_owner_email)


__all__ = ["load_config", "load_inventory_option", "ticket_settings"]
