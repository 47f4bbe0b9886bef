"""Coverage: could this scan have seen that finding on that host?

Nessus reports what it found and omits what it did not see, so "absent from a rescan"
proves a fix only when the rescan could have reported the finding. :func:`coverage`
answers ``covered``, ``not_covered`` (with the reason) or ``unknown`` (no policy facts).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from vulnpipe.ingest.records import Host, Policy

if TYPE_CHECKING:
    from vulnpipe.ingest.profiles import Detector, Profile

COVERED = "covered"
NOT_COVERED = "not_covered"
UNKNOWN = "unknown"

REASON_HOST_ABSENT = "host not in scan"
REASON_NO_POLICY = "no policy information"
REASON_PLUGIN_DISABLED = "plugin not enabled"
REASON_PORT_EXCLUDED = "port outside the scan's port range"
REASON_NO_CREDENTIALS = "local check without credentials"


@dataclass(frozen=True)
class Coverage:
    status: str          # covered | not_covered | unknown
    reason: str = ""

    @property
    def covered(self) -> bool:
        return self.status == COVERED


def plugin_enabled(policy: Policy, plugin_id: int | None, family: str | None) -> bool | None:
    """True/False when the policy says whether ``plugin_id`` ran; None when it cannot tell.

    ``plugin_set`` is authoritative when present. Without it, the plugin's family decides:
    ``enabled`` or ``disabled``; ``mixed`` defers to ``IndividualPluginSelection``.
    """
    if policy.plugin_set is not None:
        return plugin_id in policy.plugin_set if plugin_id is not None else None
    individual = {pid: status for pid, _fam, status in policy.plugins}
    families = {name.lower(): status for name, status in policy.families}
    status = families.get(family.lower()) if family else None
    if status == "enabled":
        return True
    if status == "disabled":
        return False
    if plugin_id is not None and plugin_id in individual:
        return individual[plugin_id] == "enabled"
    if status == "mixed":
        return False
    return None


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def port_in_range(port_range: str | None, port: int | None, protocol: str | None) -> bool | None:
    """Whether Nessus' ``port_range`` setting includes ``port``/``protocol``.

    ``default`` and ``all`` (and no setting) cover every port; port 0 findings (host-level
    checks) are never excluded. Ranges may carry ``T:`` / ``U:`` prefixes for TCP / UDP.
    Returns None when the setting cannot be read.
    """
    if port_range is None or port is None or port == 0:
        return True
    spec = port_range.strip().lower()
    if spec in ("", "default", "all"):
        return True
    proto = (protocol or "").lower()
    current = None            # protocol the following tokens apply to (None: both)
    matched = False
    for token in spec.replace(";", ",").split(","):
        token = token.strip()
        if not token:
            continue
        if token[:2] in ("t:", "u:"):
            current = "tcp" if token[0] == "t" else "udp"
            token = token[2:]
        if token in ("default", "all"):
            if current in (None, proto):
                return True
            continue
        m = _RANGE.match(token)
        if not m:
            return None
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if lo <= port <= hi and current in (None, proto):
            matched = True
    return matched


def coverage(policy: Policy | None, host: Host | None, *, plugin_id: int | None,
             family: str | None = None, port: int | None = None, protocol: str | None = None,
             plugin_type: str | None = None) -> Coverage:
    """Could the scan with ``policy`` have reported this finding on ``host``?"""
    if host is None:
        return Coverage(NOT_COVERED, REASON_HOST_ABSENT)
    if policy is None:
        return Coverage(UNKNOWN, REASON_NO_POLICY)
    enabled = plugin_enabled(policy, plugin_id, family)
    if enabled is None:
        return Coverage(UNKNOWN, REASON_NO_POLICY)
    if not enabled:
        return Coverage(NOT_COVERED, REASON_PLUGIN_DISABLED)
    in_range = port_in_range(policy.port_range, port, protocol)
    if in_range is None:
        return Coverage(UNKNOWN, f"unreadable port_range {policy.port_range!r}")
    if not in_range:
        return Coverage(NOT_COVERED, REASON_PORT_EXCLUDED)
    if (plugin_type or "").lower() == "local" and host.credentialed is not True:
        return Coverage(NOT_COVERED, REASON_NO_CREDENTIALS)
    return Coverage(COVERED)


def _plugins(detectors: Iterable["Detector"], word: str = "or") -> str:
    return f" {word} ".join(f"plugin {d.plugin}" for d in detectors)


def _detector(policy: Policy, d: "Detector") -> tuple[bool | None, str]:
    enabled = plugin_enabled(policy, d.plugin, d.family)
    named = f"plugin {d.plugin}" + (f" ({d.name})" if d.name else "")
    if enabled is False:
        return False, f"{named} not enabled"
    if enabled is None:
        return None, f"the policy does not say whether plugin {d.plugin} ran"
    for port, proto in d.ports:
        in_range = port_in_range(policy.port_range, port, proto)
        if in_range is False:
            return False, f"{proto}/{port} outside the port range '{policy.port_range}'"
        if in_range is None:
            return None, f"unreadable port range '{policy.port_range}'"
    return True, ""


def detectability(policy: Policy | None, profile: "Profile", stored_profile: str | None = None,
                  stored_plugins: Iterable[int] | None = None) -> tuple[bool | None, str]:
    """Could a scan with ``policy`` (None: the file had none) have found ``profile``'s
    campaign at all? ``(True, "")``, or ``(False | None, why not)`` (None: it cannot tell).

    It could when one of the profile's detectors is enabled with all its ports in the port
    range (see :class:`~vulnpipe.ingest.profiles.Detector`). A scan stored under a profile
    (``stored_profile``, keeping ``stored_plugins``) that kept none of the detectors' findings
    could not have shown them either.
    """
    detectors = profile.detect
    if not detectors:
        return None, f"profile '{profile.name}' declares no plugin that detects it"
    if stored_profile not in (None, "all"):
        kept = set(stored_plugins or ())
        if not any(d.plugin in kept for d in detectors):
            return False, (f"stored with profile '{stored_profile}', which leaves "
                           f"{_plugins(detectors, 'and')} out")
        detectors = tuple(d for d in detectors if d.plugin in kept)
    if policy is None:
        return None, f"no policy in the file: cannot tell whether {_plugins(detectors)} ran"
    verdicts = [_detector(policy, d) for d in detectors]
    if any(ok for ok, _why in verdicts):
        return True, ""
    unsure = [why for ok, why in verdicts if ok is None]
    if unsure:
        return None, unsure[0]
    return False, "; ".join(why for _ok, why in verdicts)
