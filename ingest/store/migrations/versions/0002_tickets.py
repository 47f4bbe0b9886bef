"""Tickets: inventory snapshot, tickets, their findings, events, checks, and decisions.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The tables as this revision made them, spelled out: later revisions change the schema
# module, never what an older database is upgraded through.


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("asset_id", sa.String(256), primary_key=True),
        sa.Column("name", sa.Text), sa.Column("fqdn", sa.Text),
        sa.Column("ips", sa.JSON, nullable=False), sa.Column("macs", sa.JSON, nullable=False),
        sa.Column("cidrs", sa.JSON, nullable=False),
        sa.Column("owner", sa.Text), sa.Column("owner_email", sa.Text), sa.Column("team", sa.Text),
        sa.Column("business_unit", sa.Text), sa.Column("environment", sa.Text),
        sa.Column("criticality", sa.String(32)),
        sa.Column("internet_facing", sa.Boolean), sa.Column("os", sa.Text),
        sa.Column("location", sa.Text), sa.Column("source", sa.Text),
    )
    op.create_table(
        "tickets",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("profile", sa.String(128), nullable=False),
        sa.Column("asset_key", sa.Text, nullable=False),
        sa.Column("asset_id", sa.String(256)),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("os", sa.Text),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("fixed_at", sa.DateTime),
        sa.Column("fixed_scan_id", sa.Integer),
        sa.Column("match_method", sa.String(32)),
        sa.Column("owner", sa.Text), sa.Column("owner_email", sa.Text), sa.Column("team", sa.Text),
        sa.Column("business_unit", sa.Text), sa.Column("environment", sa.Text),
        sa.Column("criticality", sa.String(32)),
        sa.Column("internet_facing", sa.Boolean),
        sa.Column("priority", sa.String(8)), sa.Column("sla_days", sa.Integer),
        sa.Column("due_date", sa.DateTime),
        sa.Column("acceptance", sa.JSON), sa.Column("false_positive", sa.JSON),
    )
    op.create_index("ix_tickets_profile", "tickets", ["profile"])
    op.create_table(
        "ticket_findings",
        sa.Column("ticket_key", sa.String(32), sa.ForeignKey("tickets.key", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("plugin_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("port", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("protocol", sa.String(16), primary_key=True),
        sa.Column("plugin_name", sa.Text), sa.Column("family", sa.Text),
        sa.Column("plugin_type", sa.Text),
        sa.Column("role", sa.String(16)), sa.Column("severity", sa.Integer),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("first_scan_id", sa.Integer, nullable=False),
        sa.Column("last_scan_id", sa.Integer, nullable=False),
        sa.Column("scans", sa.JSON, nullable=False),
        sa.Column("plugin_output", sa.Text),
        sa.Column("fixed_at", sa.DateTime), sa.Column("fixed_scan_id", sa.Integer),
    )
    op.create_table(
        "ticket_events",
        sa.Column("ticket_key", sa.String(32), sa.ForeignKey("tickets.key", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("scan_id", sa.Integer),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "ticket_checks",
        sa.Column("ticket_key", sa.String(32), sa.ForeignKey("tickets.key", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("scan_id", sa.Integer, nullable=False),
        sa.Column("plugin_id", sa.Integer, nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_key", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approver", sa.Text),
        sa.Column("until", sa.DateTime),
    )
    op.create_index("ix_decisions_ticket", "decisions", ["ticket_key"])


def downgrade() -> None:
    for name in ("decisions", "ticket_checks", "ticket_events", "ticket_findings", "tickets",
                 "assets"):
        op.drop_table(name)
