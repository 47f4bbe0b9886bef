"""A summary of one scan file: what scanned it, what it holds, whether it could see L2TP."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vulnpipe.ingest.coverage import plugin_enabled
from vulnpipe.ingest.nessus.build import ELSA_68453, L2TP_PLUGIN_ID
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import PRIMARY, resolve_profile

SEVERITY_NAMES = {"4": "critical", "3": "high", "2": "medium", "1": "low", "0": "info"}


@dataclass
class ScanSummary:
    file: str
    sha256: str
    size: int
    scanner_kind: str | None
    policy_name: str | None
    report_names: list[str]
    hosts: int
    credentialed_hosts: int
    findings: int
    severity: dict[str, int]
    l2tp_plugin_in_policy: bool | None     # None: the file says nothing about it
    port_range: str | None
    l2tp_primary: int
    l2tp_related: int
    l2tp_hosts: int
    plugin_68453_items: int
    related_by_plugin: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(source: Source) -> ScanSummary:
    reader = open_reader(source, resolve_profile("l2tp"))
    hosts = credentialed = 0
    roles: Counter = Counter()
    related: Counter = Counter()
    l2tp_hosts = set()
    for host, findings in reader.hosts():
        hosts += 1
        credentialed += host.credentialed is True
        for f in findings:
            roles[f.profile_role] += 1
            l2tp_hosts.add(host.address)
            if f.profile_role != PRIMARY and f.plugin_id is not None:
                related[f.plugin_id] += 1
    policy = reader.policy
    st = reader.stats
    return ScanSummary(
        file=source.name, sha256=st.sha256 or "", size=st.size,
        scanner_kind=policy.scanner_kind if policy else None,
        policy_name=policy.name if policy else None,
        report_names=[r.name or "" for r in reader.reports],
        hosts=hosts, credentialed_hosts=credentialed, findings=st.items,
        severity={SEVERITY_NAMES.get(k, k): st.severity.get(k, 0)
                  for k in ("4", "3", "2", "1", "0", "other")},
        l2tp_plugin_in_policy=(plugin_enabled(policy, L2TP_PLUGIN_ID, "Firewalls")
                               if policy else None),
        port_range=policy.port_range if policy else None,
        l2tp_primary=roles[PRIMARY], l2tp_related=sum(v for k, v in roles.items() if k != PRIMARY),
        l2tp_hosts=len(l2tp_hosts),
        plugin_68453_items=st.plugin_counts.get(ELSA_68453, 0),
        related_by_plugin=dict(sorted(related.items())),
    )


def render_text(s: ScanSummary) -> str:
    yes_no = {True: "yes", False: "NO: this scan cannot report L2TP", None: "unknown (no policy facts)"}
    sev = ", ".join(f"{k} {v}" for k, v in s.severity.items() if v or k != "other")
    lines = [
        s.file,
        f"  scanner        {s.scanner_kind or 'unknown'}; policy {s.policy_name or '(none)'}",
        f"  reports        {len(s.report_names)}"
        + (f": {', '.join(s.report_names)}" if s.report_names else ""),
        f"  hosts          {s.hosts} ({s.credentialed_hosts} credentialed)",
        f"  findings       {s.findings} ({sev})",
        f"  plugin {L2TP_PLUGIN_ID}   {yes_no[s.l2tp_plugin_in_policy]}; "
        f"port range {s.port_range or 'not set'}",
        f"  L2TP findings  {s.l2tp_primary} primary, {s.l2tp_related} related, on {s.l2tp_hosts} host(s)",
    ]
    if s.plugin_68453_items:
        lines.append(f"  plugin 68453   {s.plugin_68453_items} Oracle Linux mysql advisory finding(s): "
                     "not L2TP, ignored by the l2tp profile")
    return "\n".join(lines)
