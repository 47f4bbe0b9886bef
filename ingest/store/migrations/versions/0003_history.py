"""A year of history, read in seconds: host identities, ticket state kept current, weekly
checkpoints, and the step each ticket event and check came from.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_identities",
        sa.Column("identity", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("host_ip", sa.Text), sa.Column("host_fqdn", sa.Text),
        sa.Column("hostname", sa.Text), sa.Column("netbios_name", sa.Text),
        sa.Column("mac_address", sa.Text),
        sa.Column("first_scan_id", sa.Integer, nullable=False),
        sa.Column("first_host_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "identity_assets",
        sa.Column("identity", sa.String(32), primary_key=True),
        sa.Column("asset_id", sa.String(256)),
        sa.Column("match_method", sa.String(32), nullable=False),
        sa.Column("match_candidates", sa.Text),
        sa.Column("unowned", sa.Boolean),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "ticket_state",
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("step_at", sa.DateTime),
        sa.Column("step_order", sa.Integer, nullable=False),
        sa.Column("step_id", sa.Integer, nullable=False),
        sa.Column("decisions_seen", sa.Integer, nullable=False),
        sa.Column("matches", sa.String(64), nullable=False),
    )
    op.create_table(
        "ticket_scans",
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "ticket_checkpoints",
        sa.Column("profile", sa.String(128), primary_key=True),
        sa.Column("cutoff", sa.DateTime, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("identity", sa.String(32)))
        batch.create_index("ix_hosts_identity", ["identity"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("fqdn", sa.Text))
        batch.add_column(sa.Column("netbios", sa.Text))
        batch.add_column(sa.Column("ever_fixed", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("events_logged", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("checks_logged", sa.Integer, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("step_at", sa.DateTime))
    with op.batch_alter_table("ticket_checks") as batch:
        batch.add_column(sa.Column("step_at", sa.DateTime))
        batch.create_index("ix_ticket_checks_at", ["at"])
    with op.batch_alter_table("ticket_findings") as batch:
        batch.drop_column("scans")
    # Ticket state is derived: the first command that reads tickets rebuilds it from the
    # scans and decisions (kept), replacing the rows left here. Hosts get their identities.
    _backfill_identities(op.get_bind())


FIELDS = ("name", "address", "host_ip", "host_fqdn", "hostname", "netbios_name", "mac_address")
_hosts = sa.table("hosts", sa.column("scan_id"), sa.column("host_seq"), sa.column("identity"),
                  *[sa.column(f) for f in FIELDS])
_identities = sa.table("host_identities", sa.column("identity"), sa.column("first_scan_id"),
                       sa.column("first_host_seq"), *[sa.column(f) for f in FIELDS])


def _backfill_identities(bind, batch: int = 20000) -> None:
    from vulnpipe.ingest.store.identities import identity_digest  # stable by contract

    seen: set[str] = set()
    last = (-1, -1)
    while True:
        rows = bind.execute(
            sa.select(_hosts.c.scan_id, _hosts.c.host_seq, *[_hosts.c[f] for f in FIELDS])
            .where(sa.tuple_(_hosts.c.scan_id, _hosts.c.host_seq) > sa.tuple_(*last))
            .order_by(_hosts.c.scan_id, _hosts.c.host_seq).limit(batch)).all()
        if not rows:
            return
        new, updates = [], []
        for r in rows:
            digest = identity_digest(tuple(r[2:]))
            updates.append({"s": r[0], "q": r[1], "i": digest})
            if digest not in seen:
                seen.add(digest)
                new.append({"identity": digest, "first_scan_id": r[0], "first_host_seq": r[1],
                            **dict(zip(FIELDS, r[2:]))})
        bind.execute(_hosts.update().where(_hosts.c.scan_id == sa.bindparam("s"),
                                           _hosts.c.host_seq == sa.bindparam("q"))
                     .values(identity=sa.bindparam("i")), updates)
        if new:
            bind.execute(_identities.insert(), new)
        last = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    raise RuntimeError("revision 0003 cannot be undone: restore the backup taken before "
                       "upgrading")
