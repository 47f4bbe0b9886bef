"""The records the parser produces: frozen, typed, independent of any output format."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, TypeVar

#: Field names of one finding record, in output order (``vulnpipe parse``, ``vulnpipe findings``).
#: They are a stable interface: later stages and users' scripts rely on them.
FINDING_FIELDS: tuple[str, ...] = (
    "scan_file", "report_name", "host", "host_ip", "host_fqdn", "netbios_name", "mac_address",
    "os", "credentialed", "host_start", "host_end", "plugin_id", "plugin_name", "plugin_family",
    "severity", "risk_factor", "port", "protocol", "svc_name", "synopsis", "solution",
    "plugin_output", "cve", "cvss3_base_score", "profile_role",
)

SCANNER_NESSUS = "nessus"
SCANNER_SC = "tenable.sc"
SCANNER_TVM = "tenable.vm"


@dataclass(frozen=True, slots=True)
class Policy:
    """What a scan's policy enabled: the facts coverage decisions rest on."""

    name: str | None
    plugin_set: frozenset[int] | None          # ServerPreferences plugin_set, None when absent
    port_range: str | None                     # 'default', 'all', '1-65535', '22,80,1701' ...
    targets: str | None                        # ServerPreferences TARGET
    scanner_kind: str                          # nessus | tenable.sc | tenable.vm
    families: tuple[tuple[str, str], ...] = ()          # (family, enabled|disabled|mixed)
    plugins: tuple[tuple[int, str, str], ...] = ()      # (plugin id, family, enabled|disabled)
    preferences: tuple[tuple[str, str], ...] = ()       # every ServerPreferences name/value

    def preference(self, name: str) -> str | None:
        for key, value in self.preferences:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Report:
    """One ``Report`` element of a file (a file can hold several), with the file's policy."""

    scan_file: str
    name: str | None
    index: int
    policy: Policy | None


@dataclass(frozen=True, slots=True)
class Host:
    """One ``ReportHost``: identity, platform and scan window."""

    scan_file: str
    report_name: str | None
    name: str                               # ReportHost@name as written by the scanner
    host_ip: str | None                     # normalised address (IPv6 compressed)
    host_fqdn: str | None
    hostname: str | None
    netbios_name: str | None
    mac_addresses: tuple[str, ...]
    os: str | None
    credentialed: bool | None
    host_start: datetime | None             # UTC
    host_end: datetime | None               # UTC
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def address(self) -> str:
        """The normalised address used to match this host across scans."""
        return self.host_ip or self.name.strip().lower()

    @property
    def mac_address(self) -> str | None:
        return ";".join(self.mac_addresses) or None


@dataclass(frozen=True, slots=True)
class Compliance:
    check_name: str | None
    result: str | None
    actual_value: str | None
    policy_value: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One ``ReportItem`` on a host, with every attribute and child element kept."""

    host: Host
    plugin_id: int | None
    plugin_name: str | None
    plugin_family: str | None
    severity: int | None
    port: int | None
    protocol: str | None
    svc_name: str | None
    risk_factor: str | None = None
    plugin_type: str | None = None
    synopsis: str | None = None
    description: str | None = None
    solution: str | None = None
    plugin_output: str | None = None
    cvss3_base_score: float | None = None
    cvss_base_score: float | None = None
    cve: tuple[str, ...] = ()
    xref: tuple[str, ...] = ()
    see_also: tuple[str, ...] = ()
    bid: tuple[str, ...] = ()
    cwe: tuple[str, ...] = ()
    compliance: Compliance | None = None
    extra: tuple[tuple[str, str], ...] = ()     # every other child element, in order
    profile_role: str | None = None             # primary | related | None (profile 'all')
    raw_xml: bytes | None = field(default=None, compare=False, repr=False)

    def record(self) -> dict[str, Any]:
        """The flat record with :data:`FINDING_FIELDS` (datetimes as ISO 8601 UTC text)."""
        rec: dict[str, Any] = {
            **_host_fields(self.host),
            "plugin_id": self.plugin_id,
            "plugin_name": self.plugin_name,
            "plugin_family": self.plugin_family,
            "severity": self.severity,
            "risk_factor": self.risk_factor,
            "port": self.port,
            "protocol": self.protocol,
            "svc_name": self.svc_name,
            "synopsis": self.synopsis,
            "solution": self.solution,
            "plugin_output": self.plugin_output,
            "cve": list(self.cve),
            "cvss3_base_score": self.cvss3_base_score,
        }
        if self.profile_role is not None:
            rec["profile_role"] = self.profile_role
        return rec


_last_host: tuple[Host | None, dict[str, Any]] = (None, {})


def _host_fields(h: Host) -> dict[str, Any]:
    """The host's part of a finding record (kept for the last host: a host's findings come
    one after the other)."""
    global _last_host
    host, fields = _last_host
    if host is h:
        return fields
    fields = {
        "scan_file": h.scan_file,
        "report_name": h.report_name,
        "host": h.name,
        "host_ip": h.host_ip,
        "host_fqdn": h.host_fqdn,
        "netbios_name": h.netbios_name,
        "mac_address": h.mac_address,
        "os": h.os,
        "credentialed": h.credentialed,
        "host_start": iso(h.host_start),
        "host_end": iso(h.host_end),
    }
    _last_host = (h, fields)
    return fields


@lru_cache(maxsize=8192)
def iso(value: datetime | None) -> str | None:
    """ISO 8601 text in UTC, to the second, with a ``Z`` suffix, or None. Aware datetimes
    are converted to UTC; naive ones are taken as UTC already (cached: every finding of a
    host shares its host's times)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


_T = TypeVar("_T")

def _slot_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A function building ``cls`` (a frozen, slotted dataclass) from every field as a
    keyword argument, storing each through its slot. The same object as ``cls(...)``, made
    without the generated ``__init__``'s ``object.__setattr__`` per field (which made up a
    third of the cost of reading every finding of a big export)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    src = (f"def make_{cls.__name__.lower()}(*, {', '.join(names)}):\n"
           "    obj = new(cls)\n"
           + "".join(f"    set_{n}(obj, {n})\n" for n in names)
           + "    return obj\n")
    namespace = {"new": object.__new__, "cls": cls,
                 **{f"set_{n}": cls.__dict__[n].__set__ for n in names}}
    exec(src, namespace)       # noqa: S102 - fixed source built from the field names
    made: Callable[..., _T] = namespace[f"make_{cls.__name__.lower()}"]
    return made


#: ``Finding(...)`` for the readers' hot loop: every field must be given.
make_finding = _slot_constructor(Finding)
