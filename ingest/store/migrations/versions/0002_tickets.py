"""Tickets: inventory snapshot, tickets, their findings, events, checks, and decisions.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

from vulnpipe.ingest.store.schema import assets, decisions, ticket_checks, ticket_events, ticket_findings, tickets

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# New tables only: their definitions are taken from the schema module as of this revision.
# A later revision that changes one of them must spell out its own operations.
TABLES = (assets, tickets, ticket_findings, ticket_events, ticket_checks, decisions)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
