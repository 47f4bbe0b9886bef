"""Several campaigns in one store: which campaigns a scan was read for, and which of its
findings belong to each (only for scans read for more than one).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stored scans keep their one profile (scans.profile): no rows are needed for them.
    op.create_table(
        "scan_campaigns",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("profile_plugins", sa.JSON, nullable=False),
        sa.Column("findings_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "finding_campaigns",
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"),
                  primary_key=True, autoincrement=False),
        sa.Column("host_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item_seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(16)),
    )


def downgrade() -> None:
    op.drop_table("finding_campaigns")
    op.drop_table("scan_campaigns")
