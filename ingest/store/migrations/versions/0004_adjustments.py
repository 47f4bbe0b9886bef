"""Risk adjustments and POA&M dates: a decision's adjusted risk rating, each ticket's risk
adjustment in force and the moment its last acceptance ended (the SLA clock can restart
there), and every POA&M item's Scheduled Completion Date, frozen when first written.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("rating", sa.String(16)))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("adjustment", sa.JSON))
        batch.add_column(sa.Column("acceptance_ended", sa.DateTime))
    op.create_table(
        "poam_items",
        sa.Column("item_id", sa.String(96), primary_key=True),
        sa.Column("scheduled_completion", sa.DateTime, nullable=False),
        sa.Column("written_at", sa.DateTime, nullable=False),
    )
    # Ticket state is derived: forgetting how far it was replayed makes the first command
    # that reads tickets replay every scan and decision again (kept), which fills the new
    # columns (when each ticket's acceptances ended).
    op.execute(sa.text("DELETE FROM ticket_state"))


def downgrade() -> None:
    op.drop_table("poam_items")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("acceptance_ended")
        batch.drop_column("adjustment")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("rating")
