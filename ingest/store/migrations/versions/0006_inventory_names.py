"""The inventory snapshot keeps every name of an asset: each FQDN and short host name it is
matched by, not only the first of each (a later run without an inventory matched new hosts
named by a second name as unmatched).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows stored before keep their first name and FQDN only (null lists here) and match as
    # they did, until the next run given an inventory stores the whole snapshot again.
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("fqdns", sa.JSON))
        batch.add_column(sa.Column("names", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("names")
        batch.drop_column("fqdns")
