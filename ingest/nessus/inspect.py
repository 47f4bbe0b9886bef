"""A summary of one scan file: what scanned it, what it holds, whether it could find the
profile's campaign (for ``l2tp``: plugin 11387 enabled, udp/1701 in the port range)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vulnpipe.ingest.coverage import detectability
from vulnpipe.ingest.nessus.build import ELSA_68453
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import PRIMARY, Profile, resolve_profile

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
    profile: str
    campaign: str                          # how the profile names it ("L2TP")
    detect: str                            # what finds it ("plugin 11387 (udp/1701)")
    detect_plugins: list[int]
    detectable: bool | None                # None: the file cannot tell
    detect_reason: str | None              # why not, when not True
    port_range: str | None
    primary: int
    related: int
    finding_hosts: int                     # hosts with a finding of the profile
    plugin_68453_items: int
    plugin_68453_selected: bool            # whether the profile keeps them
    related_by_plugin: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(source: Source, profile: Profile | None = None) -> ScanSummary:
    """``source`` summarised for ``profile`` (default ``l2tp``)."""
    profile = profile or resolve_profile("l2tp")
    reader = open_reader(source, profile)
    hosts = credentialed = 0
    roles: Counter = Counter()
    related: Counter = Counter()
    finding_hosts = set()
    for host, findings in reader.hosts():
        hosts += 1
        credentialed += host.credentialed is True
        for f in findings:
            roles[f.profile_role] += 1
            finding_hosts.add(host.address)
            if f.profile_role != PRIMARY and f.plugin_id is not None:
                related[f.plugin_id] += 1
    policy = reader.policy
    st = reader.stats
    detectable, why = detectability(policy, profile)
    return ScanSummary(
        file=source.name, sha256=st.sha256 or "", size=st.size,
        scanner_kind=policy.scanner_kind if policy else None,
        policy_name=policy.name if policy else None,
        report_names=[r.name or "" for r in reader.reports],
        hosts=hosts, credentialed_hosts=credentialed, findings=st.items,
        severity={SEVERITY_NAMES.get(k, k): st.severity.get(k, 0)
                  for k in ("4", "3", "2", "1", "0", "other")},
        profile=profile.name, campaign=profile.campaign, detect=profile.detect_text,
        detect_plugins=[d.plugin for d in profile.detect],
        detectable=detectable, detect_reason=why or None,
        port_range=policy.port_range if policy else None,
        primary=roles[PRIMARY], related=sum(v for k, v in roles.items() if k != PRIMARY),
        finding_hosts=len(finding_hosts),
        plugin_68453_items=st.plugin_counts.get(ELSA_68453, 0),
        plugin_68453_selected=profile.role(ELSA_68453, None, None, None, None) is not None,
        related_by_plugin=dict(sorted(related.items())),
    )


def render_text(s: ScanSummary) -> str:
    verdict = {True: "yes", False: f"NO: this scan cannot report {s.campaign}",
               None: "unknown"}[s.detectable]
    if s.detectable is not True and s.detect_reason:
        verdict += f"; {s.detect_reason}"
    sev = ", ".join(f"{k} {v}" for k, v in s.severity.items() if v or k != "other")
    what = ("plugins " if len(s.detect_plugins) > 1 else "plugin ") + \
        ", ".join(map(str, s.detect_plugins))
    lines = [
        s.file,
        f"  scanner        {s.scanner_kind or 'unknown'}; policy {s.policy_name or '(none)'}",
        f"  reports        {len(s.report_names)}"
        + (f": {', '.join(s.report_names)}" if s.report_names else ""),
        f"  hosts          {s.hosts} ({s.credentialed_hosts} credentialed)",
        f"  findings       {s.findings} ({sev})",
        f"  {what:<14} {verdict}; port range {s.port_range or 'not set'}",
        f"  {s.campaign + ' findings':<14} {s.primary} primary, {s.related} related, on "
        f"{s.finding_hosts} host(s)",
    ]
    if s.plugin_68453_items and not s.plugin_68453_selected:
        lines.append(f"  plugin 68453   {s.plugin_68453_items} Oracle Linux mysql advisory finding(s): "
                     f"not L2TP, ignored by the {s.profile} profile")
    return "\n".join(lines)
