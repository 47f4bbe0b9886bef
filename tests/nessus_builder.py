"""Build small, valid Nessus v2 documents for tests (lxml does the escaping)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

CM = "http://www.nessus.org/cm"
L2TP = dict(plugin_id=11387, name="L2TP Network Server Detection", family="Firewalls",
            port=1701, protocol="udp", svc="l2tp")
ELSA = dict(plugin_id=68453, name="Oracle Linux 6 : mysql (ELSA-2012-0105)",
            family="Oracle Linux Local Security Checks", port=0, protocol="tcp", svc="general",
            severity=2, plugin_type="local")
PPTP = dict(plugin_id=10622, name="PPTP Detection", family="Service detection", port=1723,
            protocol="tcp", svc="pptp")
IKE1 = dict(plugin_id=11935, name="IPSEC Internet Key Exchange (IKE) Version 1 Detection",
            family="Service detection", port=500, protocol="udp", svc="ike")


@dataclass
class Item:
    plugin_id: int
    name: str = "Some plugin"
    family: str = "General"
    port: int = 0
    protocol: str = "tcp"
    svc: str = "general"
    severity: int = 0
    plugin_type: str = "remote"
    output: str | None = None
    children: dict = field(default_factory=dict)   # tag -> text or list of texts


@dataclass
class HostSpec:
    name: str
    items: list = field(default_factory=list)
    ip: str | None = None
    fqdn: str | None = None
    netbios: str | None = None
    os: str | None = None
    mac: str | None = None
    credentialed: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    extra_tags: dict = field(default_factory=dict)


def item(**kw) -> Item:
    return Item(**kw)


def l2tp(**kw) -> Item:
    return Item(**{**L2TP, **kw})


def _sub(parent, tag, text=None, **attrib):
    el = etree.SubElement(parent, tag, **attrib)
    if text is not None:
        el.text = text
    return el


def policy_element(name="Test policy", plugin_set=None, port_range="default", targets=None,
                   families=None, plugins=None, prefs=None):
    pol = etree.Element("Policy")
    _sub(pol, "policyName", name)
    server = _sub(_sub(pol, "Preferences"), "ServerPreferences")
    values = dict(prefs or {})
    if plugin_set is not None:
        values["plugin_set"] = ";".join(str(p) for p in plugin_set)
    if port_range is not None:
        values["port_range"] = port_range
    if targets is not None:
        values["TARGET"] = targets
    for k, v in values.items():
        pref = _sub(server, "preference")
        _sub(pref, "name", k)
        _sub(pref, "value", v)
    if families is not None:
        fs = _sub(pol, "FamilySelection")
        for fam, status in families.items():
            fi = _sub(fs, "FamilyItem")
            _sub(fi, "FamilyName", fam)
            _sub(fi, "Status", status)
    if plugins is not None:
        ips = _sub(pol, "IndividualPluginSelection")
        for pid, (fam, status) in plugins.items():
            pi = _sub(ips, "PluginItem")
            _sub(pi, "PluginId", str(pid))
            _sub(pi, "Family", fam)
            _sub(pi, "Status", status)
    return pol


def _epoch(dt: datetime) -> str:
    return str(int(dt.replace(tzinfo=dt.tzinfo or timezone.utc).timestamp()))


def document(hosts, *, policy=None, report_name="Test scan", no_policy=False) -> bytes:
    root = etree.Element("NessusClientData_v2")
    if not no_policy:
        root.append(policy if policy is not None else policy_element())
    report = etree.SubElement(root, "Report", name=report_name, nsmap={"cm": CM})
    for h in hosts:
        rh = _sub(report, "ReportHost", name=h.name)
        props = _sub(rh, "HostProperties")
        tags = {}
        if h.end:
            tags["HOST_END_TIMESTAMP"] = _epoch(h.end)
        if h.os:
            tags["operating-system"] = h.os
        if h.mac:
            tags["mac-address"] = h.mac
        if h.credentialed is not None:
            tags["Credentialed_Scan"] = "true" if h.credentialed else "false"
        if h.fqdn:
            tags["host-fqdn"] = h.fqdn
        if h.netbios:
            tags["netbios-name"] = h.netbios
        if h.ip:
            tags["host-ip"] = h.ip
        if h.start:
            tags["HOST_START_TIMESTAMP"] = _epoch(h.start)
        tags.update(h.extra_tags)
        for k, v in tags.items():
            _sub(props, "tag", v, name=k)
        for it in h.items:
            ri = _sub(rh, "ReportItem", port=str(it.port), svc_name=it.svc, protocol=it.protocol,
                      severity=str(it.severity), pluginID=str(it.plugin_id), pluginName=it.name,
                      pluginFamily=it.family)
            _sub(ri, "plugin_type", it.plugin_type)
            _sub(ri, "risk_factor", {0: "None", 1: "Low", 2: "Medium", 3: "High", 4: "Critical"}[it.severity])
            _sub(ri, "synopsis", f"Synopsis of {it.name}")
            _sub(ri, "solution", "n/a")
            for tag, text in it.children.items():
                for t in (text if isinstance(text, list) else [text]):
                    if tag.startswith("cm:"):
                        _sub(ri, f"{{{CM}}}{tag[3:]}", t)
                    else:
                        _sub(ri, tag, t)
            if it.output is not None:
                _sub(ri, "plugin_output", it.output)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write(path: Path, hosts, **kw) -> Path:
    path = Path(path)
    path.write_bytes(document(hosts, **kw))
    return path
