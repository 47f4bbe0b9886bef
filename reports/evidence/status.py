"""Where each ticket finding stands at the end of the period, in the reconcile vocabulary.

A finding is ``fixed`` only when the ticket history says a covering rescan found it gone;
a finding that no later scan could see is ``not_covered`` (with every scan's reason), one
that no later scan held is ``not_rescanned``, one reported again is ``still_open``. The
reconciliation workbook and the ticket evidence files both use these rows.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from vulnpipe.ingest.records import iso
from vulnpipe.reports.hosts import host_name
from vulnpipe.reports.reconcile import FIXED, NOT_COVERED, NOT_RESCANNED, STILL_OPEN, Row
from vulnpipe.reports.tickets.model import FALSE_POSITIVE, PRESENT, RISK_ACCEPTED, Ticket, TicketFinding

FIXED_REASON = "absent from a rescan that covered it (plugin enabled, port in range, host scanned)"


def finding_status(t: Ticket, tf: TicketFinding, asset_id: str | None,
                   scan_name: Callable[[int | None], str | None], as_of: datetime) -> Row:
    """The finding's reconcile row, judged from the ticket's checks up to ``as_of``."""
    base: dict[str, Any] = dict(host=t.host_name, host_ip=t.address, asset_id=asset_id,
                plugin_id=tf.key.plugin_id, plugin_name=tf.plugin_name, port=tf.key.port,
                protocol=tf.key.protocol, baseline_scan=scan_name(tf.first_scan_id),
                baseline_seen=iso(tf.first_seen),
                name=host_name(t.fqdn, t.netbios, t.host_name, t.address))
    checks = [c for c in t.checks if c.key == tf.key and c.at <= as_of]
    note = ""
    if t.state == FALSE_POSITIVE:
        note = "; ticket marked false positive"
    elif t.state == RISK_ACCEPTED:
        note = "; risk accepted"
    if tf.fixed_at is not None and tf.fixed_at <= as_of:
        return Row(**base, status=FIXED, reason=FIXED_REASON + note,
                   rescan_scan=scan_name(tf.fixed_scan_id), rescan_seen=iso(tf.fixed_at))
    later = [c for c in checks if c.result != PRESENT and c.at >= tf.last_seen]
    if later:
        reasons = "; ".join(f"{c.reason or c.result} ({c.scan_name})" for c in later)
        return Row(**base, status=NOT_COVERED, reason=reasons + note,
                   rescan_scan=later[-1].scan_name, rescan_seen=iso(later[-1].at))
    reporting = {c.scan_id for c in checks if c.result == PRESENT}
    if len(reporting) > 1:
        return Row(**base, status=STILL_OPEN,
                   reason=f"reported again by {scan_name(tf.last_scan_id)}" + note,
                   rescan_scan=scan_name(tf.last_scan_id), rescan_seen=iso(tf.last_seen))
    return Row(**base, status=NOT_RESCANNED,
               reason="host in no scan since the detection" + note,
               rescan_scan=None, rescan_seen=None)
