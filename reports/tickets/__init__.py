"""Per-host remediation tickets: stable keys, a history replayed from scan time, decisions.

See :mod:`reports.tickets.timeline` for the rules and :mod:`reports.tickets.build` for
building them from the store.
"""
from vulnpipe.reports.tickets.model import (
                    FALSE_POSITIVE,
                    FIXED,
                    OPEN,
                    OPEN_STATES,
                    RESURFACED,
                    RISK_ACCEPTED,
                    STATES,
                    Decision,
                    Ticket,
                    ticket_key,
)

__all__ = ["FALSE_POSITIVE", "FIXED", "OPEN", "OPEN_STATES", "RESURFACED", "RISK_ACCEPTED",
           "STATES", "Decision", "Ticket", "ticket_key"]
