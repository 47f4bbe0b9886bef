"""People's decisions about tickets (accept a risk, false positive, revoke), kept forever.

Decisions are never rebuilt: the ticket history replays them at the time they were taken.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from vulnpipe.ingest.store.read import stored, utc
from vulnpipe.ingest.store.schema import decisions, tickets


@dataclass(frozen=True)
class Decision:
    """A person's decision about a ticket (kept forever; the timeline replays it)."""

    ticket_key: str
    kind: str                   # risk_accepted | false_positive | revoked | risk_adjusted
    at: datetime
    reason: str
    approver: str | None = None
    until: datetime | None = None
    id: int = 0
    rating: str | None = None   # risk_adjusted: LOW | MODERATE | HIGH


def ticket_key(conn: Connection, key: str) -> str | None:
    """The stored ticket key ``key`` names, compared without regard to case (``vp-3f9a...``
    is ``VP-3F9A...``); None when there is no such ticket."""
    wanted = key.strip()
    row = conn.execute(select(tickets.c.key).where(tickets.c.key == wanted)).first()
    if row is None:
        row = conn.execute(select(tickets.c.key)
                           .where(func.upper(tickets.c.key) == wanted.upper())).first()
    return row[0] if row else None


def add_decision(conn: Connection, *, ticket_key: str, kind: str, at: datetime, reason: str,
                 approver: str | None = None, until: datetime | None = None,
                 rating: str | None = None) -> int:
    """Record a decision; returns its id."""
    result = conn.execute(insert(decisions).values(
        ticket_key=ticket_key, kind=kind, at=stored(at), reason=reason, approver=approver,
        until=stored(until), rating=rating))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def load_decisions(conn: Connection, keys: list[str] | None = None) -> list[Decision]:
    """Every decision (or those about ``keys``), oldest first."""
    q = select(decisions).order_by(decisions.c.at, decisions.c.id)
    if keys is not None:
        q = q.where(decisions.c.ticket_key.in_(keys))
    return [Decision(ticket_key=r["ticket_key"], kind=r["kind"], at=utc(r["at"]),
                     reason=r["reason"], approver=r["approver"], until=utc(r["until"]),
                     id=r["id"], rating=r["rating"]) for r in conn.execute(q).mappings()]
