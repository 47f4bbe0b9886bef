"""Records from Nessus XML, made in one place for every reader.

The streaming parser (:mod:`.reader`), the byte-scanning fast path (:mod:`.fastpath`) and
the worker processes of :mod:`.parallel` all build hosts and findings here, so they cannot
disagree on what an element or attribute means. Also the shared constants and counts.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from lxml import etree

from vulnpipe.ingest.addresses import normalize_hostname, normalize_ip, normalize_macs
from vulnpipe.ingest.nessus.textcap import restore, was_cut
from vulnpipe.ingest.records import Compliance, Finding, Host, Report, make_finding

if TYPE_CHECKING:
    from vulnpipe.ingest.errors import ParseError

ROOT_V2 = "NessusClientData_v2"
CM_NS = "{http://www.nessus.org/cm}"
L2TP_PLUGIN_ID = 11387
ELSA_68453 = 68453
SCAN_INFO_PLUGIN = 19506
SCAN_INFO_ID = str(SCAN_INFO_PLUGIN)
SEVERITIES = frozenset({"0", "1", "2", "3", "4"})

_LIST_TAGS = frozenset({"cve", "xref", "see_also", "bid", "cwe"})
_TEXT_TAGS = frozenset({"risk_factor", "plugin_type", "synopsis", "description", "solution",
                        "plugin_output"})
_FLOAT_TAGS = frozenset({"cvss3_base_score", "cvss_base_score"})
_CM_LEN = len(CM_NS)
# child element -> 0 text, 1 list, 2 see_also (one entry per line), 3 float; others: 4
_KINDS = {**{t: 0 for t in _TEXT_TAGS}, **{t: 1 for t in _LIST_TAGS if t != "see_also"},
          "see_also": 2, **{t: 3 for t in _FLOAT_TAGS}}
#: What a document's last host is followed by when a piece of it is read as a document of
#: its own (the fast path's skeleton, the parallel reader's pieces).
CLOSING_TAGS = b"</Report></NessusClientData_v2>"

# -- what one item may hold (README, Security) ---------------------------------------------------
#: A finding's ``plugin_output`` longer than this many characters is cut to it, with
#: :func:`capped`'s marker; every other text or attribute value of a host or finding at
#: :data:`MAX_TEXT_CHARS`. Counted in ``ParseStats.truncated`` (the commands print a note).
MAX_OUTPUT_CHARS = 1_000_000
MAX_TEXT_CHARS = 65_536
#: An item's XML kept for evidence (``raw_xml``) only up to this many bytes.
MAX_RAW_XML_BYTES = 4 * MAX_OUTPUT_CHARS
#: A ``ReportItem`` holding more markup (``<``) than this is refused as absurd (millions of
#: child elements, deep nesting) before it is built (:class:`.sources.HashingReader`).
MAX_ITEM_MARKUP = 100_000


def capped(text: str | None, limit: int, stats: "ParseStats | None" = None) -> str | None:
    """``text`` cut to ``limit`` characters, with a marker saying how long it was (as the
    export holds it: what :mod:`.textcap` dropped before libxml2 read it is counted)."""
    if text is None or len(text) <= limit:
        return text
    text, length = restore(text)
    if length <= limit:
        return text
    if stats is not None:
        stats.truncated += 1
    return (text[:limit] + f"\n[truncated by vulnpipe: the export holds {length:,} "
            f"characters here, the first {limit:,} are kept]")


def uncut(text: str | None, stats: "ParseStats | None" = None) -> str | None:
    """A value without a cap of its own (a report name, policy values): as it is, unless
    :mod:`.textcap` cut it in the stream; then capped at :data:`MAX_OUTPUT_CHARS`."""
    if text is None or not was_cut(text):
        return text
    return capped(text, MAX_OUTPUT_CHARS, stats)


def absurd_item(line: int | None, name: str) -> "ParseError":
    from vulnpipe.ingest.errors import ParseError

    return ParseError(f"a ReportItem holds more than {MAX_ITEM_MARKUP:,} elements (millions of "
                      "child elements or absurd nesting): refused before it is built",
                      path=name, line=line, hint="the export is damaged or hostile; export "
                                                 "the scan again from the scanner")


def raw_kept(raw: bytes | None) -> bytes | None:
    """An item's XML as kept for evidence: None when over :data:`MAX_RAW_XML_BYTES`."""
    return raw if raw is None or len(raw) <= MAX_RAW_XML_BYTES else None


@dataclass
class ParseStats:
    """Counts over every item of a file, whatever the profile kept."""

    reports: int = 0
    hosts: int = 0
    items: int = 0
    severity: Counter[str] = field(default_factory=Counter)   # '0'..'4', 'other'
    plugin_counts: Counter[int] = field(default_factory=Counter)  # only the watched plugins
    port_1701: int = 0
    compliance_items: int = 0          # among the selected findings
    selected: int = 0
    elsa_68453_name: str | None = None
    sha256: str | None = None
    size: int = 0
    truncated: int = 0                 # values cut to the caps above (selected items, hosts)


def to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def epoch(value: str | None) -> datetime | None:
    n = to_int(value)
    if n is None or n <= 0:
        return None
    try:
        return datetime.fromtimestamp(n, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def ctime(value: str | None) -> datetime | None:
    """``Tue Nov 25 08:00:00 2025`` (scanner local time, taken as UTC), else None."""
    if not value:
        return None
    try:
        return datetime.strptime(" ".join(value.split()), "%a %b %d %H:%M:%S %Y").replace(
            tzinfo=timezone.utc)
    except ValueError:
        return None


def truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "yes", "1"):
        return True
    if v in ("false", "no", "0"):
        return False
    return None


def credentials_from_scan_info(output: str) -> bool | None:
    """Plugin 19506's "Credentialed checks : yes|no" line, else None."""
    for line in output.splitlines():
        if line.strip().lower().startswith("credentialed checks"):
            return line.split(":", 1)[-1].strip().lower().startswith("yes")
    return None


def make_host(name: str, props: dict[str, str], report: Report,
              scan_info_output: Callable[[], str | None],
              stats: ParseStats | None = None) -> Host:
    """The host record. ``scan_info_output()`` gives the ``plugin_output`` of the host's
    first plugin 19506 item ('' when it has none, None without such an item); it is only
    called when ``Credentialed_Scan`` does not say. Values over :data:`MAX_TEXT_CHARS` are
    cut (:func:`capped`)."""
    name = capped(name, MAX_TEXT_CHARS, stats) or ""
    if any(len(v) > MAX_TEXT_CHARS for v in props.values()):
        props = {k: capped(v, MAX_TEXT_CHARS, stats) or "" for k, v in props.items()}
    ip = normalize_ip(props.get("host-ip")) or normalize_ip(name)
    credentialed = truthy(props.get("Credentialed_Scan"))
    if credentialed is None:
        out = scan_info_output()
        if out is not None:
            credentialed = credentials_from_scan_info(out)
    start = epoch(props.get("HOST_START_TIMESTAMP")) or ctime(props.get("HOST_START"))
    end = epoch(props.get("HOST_END_TIMESTAMP")) or ctime(props.get("HOST_END"))
    return Host(
        scan_file=report.scan_file,
        report_name=report.name,
        name=name,
        host_ip=ip,
        host_fqdn=normalize_hostname(props.get("host-fqdn")),
        hostname=normalize_hostname(props.get("hostname")),
        netbios_name=(props.get("netbios-name") or None),
        mac_addresses=normalize_macs(props.get("mac-address")),
        os=(props.get("operating-system") or None),
        credentialed=credentialed,
        host_start=start,
        host_end=end,
        properties=tuple(sorted(props.items())),
    )


def finding_from_element(item: etree._Element, host: Host, pid: int | None, port: int | None, role: str,
                         keep_raw: bool = False, stats: ParseStats | None = None) -> Finding:
    """One finding from a parsed ``ReportItem`` element (``keep_raw``: with its XML)."""
    tags, texts, directs = [], [], []
    for child in item:
        tag = child.tag
        if tag.__class__ is str:
            text = child.text
            tags.append(tag)
            texts.append("".join(child.itertext()) if len(child) else text)
            directs.append(text)
    raw = etree.tostring(item, encoding="utf-8", with_tail=False) if keep_raw else None
    return build_finding(item.attrib, tags, texts, directs, host, pid, port, role, raw_kept(raw),
                         stats)


def build_finding(attrib: Mapping[str, str], tags: Sequence[str], texts: Sequence[str | None],
                  directs: Sequence[str | None] | None, host: Host, pid: int | None, port: int | None,
                  role: str, raw_xml: bytes | None = None,
                  stats: ParseStats | None = None) -> Finding:
    """One finding from a ReportItem's attributes (a mapping) and its child elements, given
    as parallel sequences in document order: ``tags`` (``{uri}local`` for namespaced ones),
    ``texts`` (all text inside each child, None when empty) and ``directs`` (each child's
    own text before any sub-element; ``None`` means "same as ``texts``").

    Both readers (the streaming parser and the fast path) build findings here, so they
    cannot disagree on what a child element means. Values are capped (:func:`capped`):
    ``plugin_output`` at :data:`MAX_OUTPUT_CHARS`, the others at :data:`MAX_TEXT_CHARS`.
    """
    if any(t is not None and len(t) > MAX_TEXT_CHARS for t in texts):
        texts = [capped(t, MAX_OUTPUT_CHARS if tag == "plugin_output" else MAX_TEXT_CHARS, stats)
                 for tag, t in zip(tags, texts)]
        directs = None if directs is None else [capped(t, MAX_TEXT_CHARS) for t in directs]
    if any(len(v) > MAX_TEXT_CHARS for v in attrib.values()):
        attrib = {k: capped(v, MAX_TEXT_CHARS, stats) or "" for k, v in attrib.items()}
    values: dict[str, object] = {}
    lists: dict[str, list[str]] = {}
    cm: dict[str, str | None] = {}
    extra: list[tuple[str, str]] = []
    kinds = _KINDS
    for index, tag in enumerate(tags):
        kind = kinds.get(tag, 4)
        text = texts[index]
        if kind == 0:
            values[tag] = text
        elif kind == 4:
            if tag.startswith(CM_NS):
                cm[tag[_CM_LEN:]] = text
            else:
                extra.append((tag, text or ""))
        elif kind == 1:
            text = (text or "").strip()
            if text:
                lists.setdefault(tag, []).append(text)
        elif kind == 2:
            text = (text or "").strip()
            lists.setdefault(tag, []).extend(s.strip() for s in text.splitlines() if s.strip())
        else:
            values[tag] = to_float(text if directs is None else directs[index])
    compliance = None
    if cm:
        compliance = Compliance(
            check_name=cm.get("compliance-check-name"),
            result=cm.get("compliance-result"),
            actual_value=cm.get("compliance-actual-value"),
            policy_value=cm.get("compliance-policy-value"),
        )
    get = attrib.get
    vget = values.get
    lget = lists.get
    return make_finding(
        host=host,
        plugin_id=pid,
        plugin_name=get("pluginName"),
        plugin_family=get("pluginFamily"),
        severity=to_int(get("severity")),
        port=port,
        protocol=get("protocol"),
        svc_name=get("svc_name"),
        risk_factor=vget("risk_factor"),
        plugin_type=vget("plugin_type"),
        synopsis=vget("synopsis"),
        description=vget("description"),
        solution=vget("solution"),
        plugin_output=vget("plugin_output"),
        cvss3_base_score=vget("cvss3_base_score"),
        cvss_base_score=vget("cvss_base_score"),
        cve=tuple(lget("cve", ())),
        xref=tuple(lget("xref", ())),
        see_also=tuple(lget("see_also", ())),
        bid=tuple(lget("bid", ())),
        cwe=tuple(lget("cwe", ())),
        compliance=compliance,
        extra=tuple(extra),
        profile_role=role or None,
        raw_xml=raw_xml,
    )
