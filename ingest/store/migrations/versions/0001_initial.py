"""The first schema: scans, scan coverage, hosts, findings.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_name", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("report_name", sa.Text),
        sa.Column("report_names", sa.JSON, nullable=False),
        sa.Column("policy_name", sa.Text),
        sa.Column("scanner_kind", sa.String(32)),
        sa.Column("profile", sa.String(128), nullable=False),
        sa.Column("profile_plugins", sa.JSON, nullable=False),
        sa.Column("first_host_start", sa.DateTime),
        sa.Column("last_host_start", sa.DateTime),
        sa.Column("first_host_end", sa.DateTime),
        sa.Column("last_host_end", sa.DateTime),
        sa.Column("hosts_count", sa.Integer, nullable=False),
        sa.Column("items_count", sa.Integer, nullable=False),
        sa.Column("findings_count", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "scan_coverage",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("has_policy", sa.Boolean, nullable=False),
        sa.Column("plugin_set", sa.JSON),
        sa.Column("port_range", sa.Text),
        sa.Column("targets", sa.Text),
        sa.Column("families", sa.JSON, nullable=False),
        sa.Column("plugins", sa.JSON, nullable=False),
        sa.Column("preferences", sa.JSON, nullable=False),
    )
    op.create_table(
        "hosts",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("host_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("report_name", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("host_ip", sa.Text),
        sa.Column("host_fqdn", sa.Text),
        sa.Column("hostname", sa.Text),
        sa.Column("netbios_name", sa.Text),
        sa.Column("mac_address", sa.Text),
        sa.Column("os", sa.Text),
        sa.Column("credentialed", sa.Boolean),
        sa.Column("host_start", sa.DateTime),
        sa.Column("host_end", sa.DateTime),
    )
    op.create_index("ix_hosts_address", "hosts", ["address"])
    op.create_table(
        "findings",
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("host_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("plugin_id", sa.Integer),
        sa.Column("plugin_name", sa.Text),
        sa.Column("plugin_family", sa.Text),
        sa.Column("severity", sa.Integer),
        sa.Column("risk_factor", sa.Text),
        sa.Column("port", sa.Integer),
        sa.Column("protocol", sa.String(16)),
        sa.Column("svc_name", sa.Text),
        sa.Column("plugin_type", sa.Text),
        sa.Column("synopsis", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("solution", sa.Text),
        sa.Column("plugin_output", sa.Text),
        sa.Column("cvss3_base_score", sa.Float),
        sa.Column("cvss_base_score", sa.Float),
        sa.Column("cve", sa.JSON, nullable=False),
        sa.Column("xref", sa.JSON, nullable=False),
        sa.Column("see_also", sa.JSON, nullable=False),
        sa.Column("bid", sa.JSON, nullable=False),
        sa.Column("cwe", sa.JSON, nullable=False),
        sa.Column("compliance", sa.JSON),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("profile_role", sa.String(16)),
        sa.Column("raw_xml", sa.Text),
        sa.ForeignKeyConstraint(["scan_id", "host_seq"], ["hosts.scan_id", "hosts.host_seq"],
                                ondelete="CASCADE"),
    )
    op.create_index("ix_findings_plugin", "findings", ["plugin_id"])


def downgrade() -> None:
    op.drop_table("findings")
    op.drop_table("hosts")
    op.drop_table("scan_coverage")
    op.drop_table("scans")
