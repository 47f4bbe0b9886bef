"""Ticket records: what the timeline produces and the exports read."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from vulnpipe.ingest.store.decisions import Decision as Decision  # re-exported

# ticket states
OPEN = "open"
FIXED = "fixed"
RESURFACED = "resurfaced"
RISK_ACCEPTED = "risk_accepted"
FALSE_POSITIVE = "false_positive"
STATES = (OPEN, RESURFACED, RISK_ACCEPTED, FALSE_POSITIVE, FIXED)
OPEN_STATES = frozenset({OPEN, RESURFACED})
PRIORITIES = ("P1", "P2", "P3", "P4")


def priority_rank(priority: str | None) -> int:
    """For sorting by what matters: P1 first, ..., no priority last."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)

# decision kinds (user input: `vulnpipe accept`, `vulnpipe false-positive`, `vulnpipe reopen`)
ACCEPT = "risk_accepted"
FALSE_POS = "false_positive"
REVOKE = "revoked"
ADJUST = "risk_adjusted"          # `vulnpipe adjust`: an adjusted risk rating (FedRAMP T–U)
RATINGS = ("LOW", "MODERATE", "HIGH")

# check results: what a scan that held the asset said about one finding
PRESENT = "present"
ABSENT_COVERED = "fixed"


def ticket_key(profile: str, asset_key: str) -> str:
    """``VP-`` and 10 hex digits of SHA-256 over the profile and asset identity.

    Derived only from what identifies the exposure, so the same host gets the same key every
    week, on every machine, and re-running never creates a duplicate.
    """
    digest = hashlib.sha256(f"vulnpipe-ticket|{profile}|{asset_key}".encode("utf-8")).hexdigest()
    return "VP-" + digest[:10].upper()


def asset_key_for(asset_id: str | None, address: str) -> str:
    """The ticket's asset identity: the inventory asset when matched, else the host address."""
    return f"asset:{asset_id}" if asset_id else f"host:{address}"


@dataclass(frozen=True, order=True, slots=True)
class FindingKey:
    plugin_id: int
    port: int
    protocol: str

    @property
    def label(self) -> str:
        return f"{self.plugin_id} on {self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Observation:
    """One selected finding as one scan reported it on one asset."""

    key: FindingKey
    plugin_name: str
    family: str | None
    plugin_type: str | None
    role: str | None
    severity: int | None
    seen_at: datetime
    plugin_output: str | None
    host_name: str
    address: str


@dataclass(slots=True)
class Check:
    """What one scan said about one finding of a ticket."""

    at: datetime
    scan_id: int
    scan_name: str
    key: FindingKey
    result: str               # present | fixed | not_covered | unknown
    reason: str = ""
    step: datetime | None = None   # the time of the scan that made it (its replay step)


@dataclass(slots=True)
class TicketFinding:
    key: FindingKey
    plugin_name: str
    family: str | None
    plugin_type: str | None
    role: str | None
    severity: int | None
    first_seen: datetime
    last_seen: datetime
    first_scan_id: int
    last_scan_id: int
    plugin_output: str | None = None                   # from the latest report
    fixed_at: datetime | None = None
    fixed_scan_id: int | None = None
    fixed_reason: str = ""

    @property
    def is_fixed(self) -> bool:
        return self.fixed_at is not None


@dataclass(slots=True)
class Event:
    at: datetime
    state: str                 # the ticket's state after the event
    kind: str                  # opened | fixed | resurfaced | risk_accepted | ... | finding_added
    scan_id: int | None = None
    detail: dict = field(default_factory=dict)
    step: datetime | None = None   # the time of the scan or decision that made it


@dataclass(slots=True)
class Ticket:
    key: str
    profile: str
    asset_key: str
    host_name: str             # as the latest scan named it
    address: str
    os: str | None
    first_seen: datetime
    last_seen: datetime
    state: str = OPEN
    fqdn: str | None = None    # the host's DNS name when the scan resolved one
    netbios: str | None = None  # the host's NetBIOS name when the scan found one
    findings: dict[FindingKey, TicketFinding] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    acceptance: dict | None = None          # the decision in force (reason, approver, until)
    false_positive: dict | None = None
    ever_fixed: bool = False                # a covering rescan proved it fixed at least once
    adjustment: dict | None = None          # the risk adjustment in force (rating, reason, ...)
    acceptance_ended: datetime | None = None  # when its last acceptance expired

    def reported_by(self, key: FindingKey) -> list[str]:
        """The names of the scans that reported finding ``key``, first report first."""
        names: list[str] = []
        for c in self.checks:
            if c.key == key and c.result == PRESENT and c.scan_name not in names:
                names.append(c.scan_name)
        return names

    def state_at(self, when: datetime) -> str | None:
        """The ticket's state at ``when`` (None before it was opened)."""
        state = None
        for ev in self.events:
            if ev.at > when:
                break
            state = ev.state
        return state
