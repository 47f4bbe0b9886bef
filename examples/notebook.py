# %% [markdown]
# # vulnpipe as a library: parse, join, reconcile, render
#
# A notebook-style script (cells start with `# %%`): open it in VS Code, Jupyter (with
# jupytext) or PyCharm and run it cell by cell, or run it whole from the repository root:
#
#     .venv/bin/python examples/notebook.py
#
# It works on the fictional Kestrel Freight scans in `sample_data/` (see
# sample_data/README.md) and writes nothing outside a temporary folder. Every cell prints
# what it found, so you can compare with the numbers in the tutorial (docs/tutorial.md).
#
# Remember the one trap: L2TP Network Server Detection is Tenable plugin **11387**; plugin
# 68453 is an unrelated Oracle Linux mysql advisory and never counts as L2TP.

# %%
from __future__ import annotations

import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

import vulnpipe  # the library's entry point, with the command line's defaults

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
SAMPLE = ROOT / "sample_data"
SCANS = SAMPLE / "scans"
W48 = SCANS / "2026-W48-weekly.nessus"
RESCANS = sorted(SCANS.glob("2026-W48-rescan-*.nessus"))
INVENTORY = SAMPLE / "inventory.csv"
# The sample company's "today" (Friday of 2026-W48). Fixing the time makes every number
# below the same on every run; in real use leave it out (tickets are judged as of now).
AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

# %% [markdown]
# ## 1. Parse a scan into DataFrames
#
# `vulnpipe.read_frames(inputs, profile)` returns `(hosts, findings)` with explicit dtypes
# (strings, nullable integers, UTC timestamps). Inputs may be `.nessus` files, folders,
# `.zip` or `.gz`. The `l2tp` profile keeps plugin 11387 (role `primary`) and the related
# VPN findings (role `related`); profile `all` keeps everything.

# %%
hosts, findings = vulnpipe.read_frames([W48], profile="l2tp")     # l2tp is the default
print(f"parse: {len(hosts)} hosts, {len(findings)} l2tp-profile findings in {W48.name}")
print("parse: by role:", dict(Counter(findings["profile_role"].tolist())))
print(findings.groupby(["plugin_id", "plugin_name"]).size().rename("findings").to_string())

_, everything = vulnpipe.read_frames([W48], profile="all")
n_68453 = int((everything["plugin_id"] == 68453).sum())
print(f"parse: plugin 68453 under profile 'all': {n_68453}; "
      f"under profile 'l2tp': {int((findings['plugin_id'] == 68453).sum())}")

# %% [markdown]
# ## 2. Join with the asset inventory
#
# `vulnpipe.load_inventory` reads CSV or XLSX (headers are recognised; see docs/config.md).
# `vulnpipe.join_findings` matches every host (ip, fqdn, host name, MAC, then the narrowest
# CIDR range) and adds owner, team, criticality, `match_method`, priority and due date from
# a rule table (by default the built-in one, `ingest.assets.priority.DEFAULT_RULES`). It is
# the join `vulnpipe join` runs, so the answers are the same.

# %%
from vulnpipe.ingest.assets.priority import DEFAULT_RULES

inventory = vulnpipe.load_inventory(INVENTORY)
print(f"join: inventory {inventory.source}: {len(inventory.assets)} assets, "
      f"{len(inventory.issues)} data-quality issue(s)")
for issue in inventory.issues:
    print(f"join:   {issue.kind}: {issue.detail}")

joined = vulnpipe.join_findings(findings, inventory, default_owner="SecOps triage")
per_host = joined.drop_duplicates("host_ip")
print("join: hosts by match method:", dict(Counter(per_host["match_method"].tolist())))
print("join: findings by priority:", dict(sorted(Counter(joined["priority"].tolist()).items())))
primary = joined[joined["profile_role"] == "primary"]
print(primary[["host", "asset_id", "owner", "criticality", "internet_facing", "match_method",
               "priority", "due_date"]].sort_values(["priority", "host"]).head(8).to_string())

# %% [markdown]
# ## 3. Reconcile the weekly scan against the rescans
#
# A finding missing from a rescan is `fixed` only when that rescan held the host and could
# have reported it (plugin enabled, port in range, credentials for a local check).
# Otherwise it is `not_covered` (with the reason) or `not_rescanned`. With
# `inventory_asset_of`, hosts are compared by inventory asset, so a DHCP move is not a fix.

# %%
from vulnpipe.reports.reconcile import inventory_asset_of, load_scans, reconcile

baseline = load_scans([W48], "l2tp")
rescans = load_scans(RESCANS, "l2tp")
asset_of = inventory_asset_of([h for s in baseline + rescans for h in s.hosts], inventory)
result = reconcile(baseline, rescans, asset_of)
print("reconcile:", ", ".join(f"{n} {status}" for status, n in result.summary.items()))
for row in result.rows:
    if row.status == "not_covered":
        print(f"reconcile:   not_covered {row.host_ip or row.host} {row.plugin_id} "
              f"{row.port}/{row.protocol}: {row.reason}")
print("reconcile: rescan targets:", " ".join(result.targets()))

# %% [markdown]
# ## 4. Tickets from a (temporary) history store
#
# `ingest.store.open_store(url)` opens or creates the store: a SQLite path, or a
# `postgresql://user@host/db` URL. `ingest_source` stores one scan in one transaction.
# `rebuild_tickets` replays every stored scan and decision in time order into one ticket per
# exposed host, with a key that stays the same week after week.

# %%
from vulnpipe.ingest.store import open_store
from vulnpipe.ingest.store.writer import ingest_source
from vulnpipe.reports.tickets.build import TicketSettings, rebuild_tickets

profile = vulnpipe.resolve_profile("l2tp")
workdir = tempfile.TemporaryDirectory(prefix="vulnpipe-notebook-")
engine = open_store(str(Path(workdir.name) / "vulnpipe.db"))
stored = [ingest_source(engine, source, profile) for source in vulnpipe.expand_inputs([SCANS])]
print(f"store: {len(stored)} scan files ingested:",
      dict(Counter(r.status for r in stored)))

settings = TicketSettings(rules=DEFAULT_RULES, default_owner="SecOps triage")
built, changes = rebuild_tickets(engine, profile, inventory=inventory, settings=settings,
                                 as_of=AS_OF)
states = Counter(t.state for t in built.tickets.values())
print(f"tickets: {len(built.tickets)} tickets:", dict(sorted(states.items())))

# %% [markdown]
# ## 5. Render: ticket views, a table, one ticket as Markdown
#
# `ticket_views` turns tickets into JSON-ready dicts (the fields of the JSONL export,
# `reports.tickets.view.TICKET_FIELDS`) with the remediation text for each host's platform
# from the knowledge base (`reports.knowledge.load_knowledge`, see docs/remediation.md).
# Every export (Excel, Jira CSV, JSONL, Markdown) is rendered from these dicts.

# %%
from vulnpipe.reports.remediation.knowledge import load_knowledge
from vulnpipe.reports.tickets.export import render_markdown
from vulnpipe.reports.tickets.view import TICKET_FIELDS, ticket_views

views = ticket_views(built, load_knowledge(), as_of=AS_OF)
assert all(tuple(v) == TICKET_FIELDS for v in views)
table = pd.DataFrame(views)[["key", "state", "priority", "due_date", "overdue", "owner",
                             "host", "match_method", "platform"]]
print(table.sort_values(["state", "priority", "key"]).to_string(index=False))

rras01 = next(v for v in views if v["address"] == "10.10.1.21")
print(f"render: ticket {rras01['key']} for {rras01['host']} ({rras01['platform']}), "
      f"remediation: {rras01['remediation'][0]['title']}")
markdown = render_markdown(rras01)
print("\n".join(markdown.splitlines()[:14]))

# %%
engine.dispose()
workdir.cleanup()
print("done: parse, join, reconcile, tickets and render all ran")
