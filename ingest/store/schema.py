"""The history store's tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL.

Times are stored as naive UTC datetimes. Hosts and findings are keyed by the scan and their
position in it (``scan_id, host_seq[, item_seq]``), so bulk paths (executemany, ``COPY``)
need no round trip for generated keys and the same file always gives the same rows.

Schema changes go through Alembic migrations in ``ingest/store/migrations``; this module
always describes the newest revision (:data:`HEAD`), exactly as the migrations leave a
database (a new database is created from it directly; tests/test_schema.py compares the two).
"""
from __future__ import annotations

from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Boolean,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        ForeignKeyConstraint,
                        Index,
                        Integer,
                        LargeBinary,
                        MetaData,
                        String,
                        Table,
                        Text,
                        false,
)

#: The Alembic revision this code reads and writes.
HEAD = "0006"

metadata = MetaData()

scans = Table(
    "scans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_name", String(512), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("report_name", Text),                     # first Report's name
    Column("report_names", JSON, nullable=False),    # every Report's name, in file order
    Column("policy_name", Text),
    Column("scanner_kind", String(32)),
    Column("profile", String(128), nullable=False),  # which findings were stored
    Column("profile_plugins", JSON, nullable=False), # plugin IDs the profile names ([] for all)
    Column("first_host_start", DateTime),
    Column("last_host_start", DateTime),
    Column("first_host_end", DateTime),
    Column("last_host_end", DateTime),
    Column("hosts_count", Integer, nullable=False, default=0),
    Column("items_count", Integer, nullable=False, default=0),
    Column("findings_count", Integer, nullable=False, default=0),
    Column("ingested_at", DateTime, nullable=False),
)

scan_coverage = Table(
    "scan_coverage", metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("has_policy", Boolean, nullable=False),
    Column("plugin_set", JSON),                      # sorted plugin IDs, null when absent
    Column("port_range", Text),
    Column("targets", Text),
    Column("families", JSON, nullable=False),        # [[family, status], ...]
    Column("plugins", JSON, nullable=False),         # [[plugin_id, family, status], ...]
    Column("preferences", JSON, nullable=False),     # [[name, value], ...] (ServerPreferences)
)

hosts = Table(
    "hosts", metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("host_seq", Integer, primary_key=True, autoincrement=False),
    Column("report_name", Text),
    Column("name", Text, nullable=False),            # ReportHost@name as written
    Column("address", Text, nullable=False),         # normalised address used across scans
    Column("host_ip", Text),
    Column("host_fqdn", Text),
    Column("hostname", Text),
    Column("netbios_name", Text),
    Column("mac_address", Text),
    Column("os", Text),
    Column("credentialed", Boolean),
    Column("host_start", DateTime),
    Column("host_end", DateTime),
    Column("identity", String(32)),                  # host_identities.identity (0003)
    Index("ix_hosts_address", "address"),
    Index("ix_hosts_identity", "identity"),
)

findings = Table(
    "findings", metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
    Column("host_seq", Integer, primary_key=True, autoincrement=False),
    Column("item_seq", Integer, primary_key=True, autoincrement=False),
    Column("plugin_id", Integer),
    Column("plugin_name", Text),
    Column("plugin_family", Text),
    Column("severity", Integer),
    Column("risk_factor", Text),
    Column("port", Integer),
    Column("protocol", String(16)),
    Column("svc_name", Text),
    Column("plugin_type", Text),
    Column("synopsis", Text),
    Column("description", Text),
    Column("solution", Text),
    Column("plugin_output", Text),
    Column("cvss3_base_score", Float),
    Column("cvss_base_score", Float),
    Column("cve", JSON, nullable=False),
    Column("xref", JSON, nullable=False),
    Column("see_also", JSON, nullable=False),
    Column("bid", JSON, nullable=False),
    Column("cwe", JSON, nullable=False),
    Column("compliance", JSON),
    Column("extra", JSON, nullable=False),
    Column("profile_role", String(16)),
    Column("raw_xml", Text),
    ForeignKeyConstraint(["scan_id", "host_seq"], ["hosts.scan_id", "hosts.host_seq"],
                         ondelete="CASCADE"),
    Index("ix_findings_plugin", "plugin_id"),
)


# -- 0002: tickets ---------------------------------------------------------------------------

assets = Table(
    "assets", metadata,            # the inventory snapshot tickets were last built with
    Column("asset_id", String(256), primary_key=True),
    Column("name", Text), Column("fqdn", Text),
    Column("ips", JSON, nullable=False), Column("macs", JSON, nullable=False),
    Column("cidrs", JSON, nullable=False),
    Column("owner", Text), Column("owner_email", Text), Column("team", Text),
    Column("business_unit", Text), Column("environment", Text), Column("criticality", String(32)),
    Column("internet_facing", Boolean), Column("os", Text), Column("location", Text),
    Column("source", Text),
    # (0006) every FQDN and every short host name the asset is matched by (normalised, as
    # the inventory's lookups hold them): ``name`` and ``fqdn`` above are only the first.
    # Null in a row stored before 0006: it matches by those first ones, as it did.
    Column("fqdns", JSON), Column("names", JSON),
)

tickets = Table(
    "tickets", metadata,
    Column("key", String(32), primary_key=True),
    Column("profile", String(128), nullable=False),
    Column("asset_key", Text, nullable=False),
    Column("asset_id", String(256)),
    Column("host", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("os", Text),
    Column("state", String(32), nullable=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("fixed_at", DateTime),
    Column("fixed_scan_id", Integer),
    Column("match_method", String(32)),
    Column("owner", Text), Column("owner_email", Text), Column("team", Text),
    Column("business_unit", Text), Column("environment", Text), Column("criticality", String(32)),
    Column("internet_facing", Boolean),
    Column("priority", String(8)), Column("sla_days", Integer), Column("due_date", DateTime),
    Column("acceptance", JSON), Column("false_positive", JSON),
    Column("fqdn", Text),                                          # (0003)
    Column("netbios", Text),                                       # (0003)
    # (0003) a fix was verified once; how many ticket_events / ticket_checks rows it has
    Column("ever_fixed", Boolean, nullable=False, default=False, server_default=false()),
    Column("events_logged", Integer, nullable=False, default=0, server_default="0"),
    Column("checks_logged", Integer, nullable=False, default=0, server_default="0"),
    Column("adjustment", JSON),                # (0004) the risk adjustment in force
    Column("acceptance_ended", DateTime),      # (0004) when its last acceptance expired
    Index("ix_tickets_profile", "profile"),
)

ticket_findings = Table(
    "ticket_findings", metadata,
    Column("ticket_key", String(32), ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True),
    Column("plugin_id", Integer, primary_key=True, autoincrement=False),
    Column("port", Integer, primary_key=True, autoincrement=False),
    Column("protocol", String(16), primary_key=True),
    Column("plugin_name", Text), Column("family", Text), Column("plugin_type", Text),
    Column("role", String(16)), Column("severity", Integer),
    Column("first_seen", DateTime, nullable=False), Column("last_seen", DateTime, nullable=False),
    Column("first_scan_id", Integer, nullable=False), Column("last_scan_id", Integer, nullable=False),
    Column("plugin_output", Text),
    Column("fixed_at", DateTime), Column("fixed_scan_id", Integer),
)

ticket_events = Table(
    "ticket_events", metadata,
    Column("ticket_key", String(32), ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime, nullable=False),
    Column("state", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("scan_id", Integer),
    Column("detail", JSON, nullable=False),
    Column("step_at", DateTime),         # (0003) the time of the scan or decision that made it
)

ticket_checks = Table(
    "ticket_checks", metadata,     # what each scan holding the asset said about each finding
    Column("ticket_key", String(32), ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime, nullable=False),
    Column("scan_id", Integer, nullable=False),
    Column("plugin_id", Integer, nullable=False), Column("port", Integer, nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("result", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("step_at", DateTime),         # (0003) the time of the scan that made it
    Index("ix_ticket_checks_at", "at"),
)

decisions = Table(
    "decisions", metadata,         # people's decisions: never rebuilt, replayed into history
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_key", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("approver", Text),
    Column("until", DateTime),
    Column("rating", String(16)),        # (0004) risk_adjusted: LOW | MODERATE | HIGH
    Index("ix_decisions_ticket", "ticket_key"),
)


# -- 0003: history read in seconds ------------------------------------------------------------
# Hosts are matched to the inventory once per distinct identity (not once per scan), and
# ticket state is kept current: replayed forward as scans and decisions arrive, with a
# checkpoint of every ticket at the end of each week, so a read costs what the period and the
# live tickets hold, never the whole history (see reports/tickets/history.py).

host_identities = Table(
    "host_identities", metadata,   # every distinct way a host was named in a scan
    Column("identity", String(32), primary_key=True),    # digest of the fields below
    Column("name", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("host_ip", Text), Column("host_fqdn", Text), Column("hostname", Text),
    Column("netbios_name", Text), Column("mac_address", Text),
    Column("first_scan_id", Integer, nullable=False),     # where it was first seen
    Column("first_host_seq", Integer, nullable=False),
)

identity_assets = Table(
    "identity_assets", metadata,   # each identity matched against the stored inventory
    Column("identity", String(32), primary_key=True),
    Column("asset_id", String(256)),
    Column("match_method", String(32), nullable=False),
    Column("match_candidates", Text),
    Column("unowned", Boolean),
)

store_meta = Table(
    "store_meta", metadata,        # small facts about derived state (e.g. inventory digest)
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

ticket_state = Table(
    "ticket_state", metadata,      # how far each profile's tickets have been replayed
    Column("profile", String(128), primary_key=True),
    Column("step_at", DateTime),                   # the last step applied (None: nothing yet)
    Column("step_order", Integer, nullable=False),  # 0 scan, 1 decision, 2 acceptance expiry
    Column("step_id", Integer, nullable=False),
    Column("decisions_seen", Integer, nullable=False),   # highest decision id applied
    Column("matches", String(64), nullable=False),       # digest of the host -> asset mapping
)

ticket_scans = Table(
    "ticket_scans", metadata,      # scans applied to a profile's tickets
    Column("profile", String(128), primary_key=True),
    Column("scan_id", Integer, primary_key=True, autoincrement=False),
)

ticket_checkpoints = Table(
    "ticket_checkpoints", metadata,   # every ticket of a profile as it stood at a week's end
    Column("profile", String(128), primary_key=True),
    Column("cutoff", DateTime, primary_key=True),
    Column("data", LargeBinary, nullable=False),  # zlib-compressed JSON
)


# -- 0004: risk adjustments and POA&M dates ----------------------------------------------------

poam_items = Table(
    "poam_items", metadata,        # a POA&M item's Scheduled Completion Date, never recomputed
    Column("item_id", String(96), primary_key=True),      # the POAM ID
    Column("scheduled_completion", DateTime, nullable=False),
    Column("written_at", DateTime, nullable=False),     # when a POA&M first carried it
)


# -- 0005: several campaigns in one store ------------------------------------------------------
# A scan read for several campaigns at once (``[profiles] campaigns``, ``--profile`` given
# more than once, ``ingest --add-campaign``) stores the union of their findings once, and
# says here which campaigns it was read for and which of its findings belong to each. A scan
# read for one campaign has no rows here: ``scans.profile`` says it all, as before.

scan_campaigns = Table(
    "scan_campaigns", metadata,    # each campaign a multi-campaign scan was read for
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("profile", String(128), primary_key=True),
    Column("profile_plugins", JSON, nullable=False),   # plugin IDs the profile names
    Column("findings_count", Integer, nullable=False),  # its findings in the scan
)

finding_campaigns = Table(
    "finding_campaigns", metadata,  # which campaigns each finding of such a scan belongs to
    Column("profile", String(128), primary_key=True),
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    Column("host_seq", Integer, primary_key=True, autoincrement=False),
    Column("item_seq", Integer, primary_key=True, autoincrement=False),
    Column("role", String(16)),                        # its role in that campaign
)
