"""Streaming reader for Nessus v2 (``NessusClientData_v2``) exports.

Memory stays flat whatever the file size: ``lxml.etree.iterparse`` delivers one
``ReportHost`` at a time, which is turned into records and then released together with
everything before it. XML is parsed with entity resolution, DTD loading and network
access off, so an entity is never expanded and an external reference never read.
"""
from __future__ import annotations

import gc
import io
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from lxml import etree

from vulnpipe.ingest.addresses import normalize_hostname, normalize_ip, normalize_macs
from vulnpipe.ingest.errors import ParseError
from vulnpipe.ingest.profiles import ALL, Profile
from vulnpipe.ingest.records import (SCANNER_NESSUS, SCANNER_SC, SCANNER_TVM, Compliance, Finding, Host,
                      Policy, Report, make_finding)
from vulnpipe.ingest.nessus.sources import HashingReader, Source

ROOT_V2 = "NessusClientData_v2"
CM_NS = "{http://www.nessus.org/cm}"
L2TP_PLUGIN_ID = 11387
ELSA_68453 = 68453
SCAN_INFO_PLUGIN = 19506
_SCAN_INFO_ID = str(SCAN_INFO_PLUGIN)
_SEVERITIES = frozenset({"0", "1", "2", "3", "4"})

_LIST_TAGS = frozenset({"cve", "xref", "see_also", "bid", "cwe"})
_TEXT_TAGS = frozenset({"risk_factor", "plugin_type", "synopsis", "description", "solution",
                        "plugin_output"})
_FLOAT_TAGS = frozenset({"cvss3_base_score", "cvss_base_score"})
_CM_LEN = len(CM_NS)
# child element -> 0 text, 1 list, 2 see_also (one entry per line), 3 float; others: 4
_KINDS = {**{t: 0 for t in _TEXT_TAGS}, **{t: 1 for t in _LIST_TAGS if t != "see_also"},
          "see_also": 2, **{t: 3 for t in _FLOAT_TAGS}}
_SNIFF_BYTES = 4096
_PROLOG_BYTES = 1 << 16


@dataclass
class ParseStats:
    """Counts over every item of a file, whatever the profile kept."""

    reports: int = 0
    hosts: int = 0
    items: int = 0
    severity: Counter = field(default_factory=Counter)   # '0'..'4', 'other'
    plugin_counts: Counter = field(default_factory=Counter)  # only the watched plugins
    port_1701: int = 0
    compliance_items: int = 0          # among the selected findings
    selected: int = 0
    elsa_68453_name: str | None = None
    sha256: str | None = None
    size: int = 0


def _text(el) -> str | None:
    if len(el):
        return "".join(el.itertext())
    return el.text


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    n = _int(value)
    if n is None or n <= 0:
        return None
    try:
        return datetime.fromtimestamp(n, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _ctime(value: str | None) -> datetime | None:
    """``Tue Nov 25 08:00:00 2025`` (scanner local time, taken as UTC), else None."""
    if not value:
        return None
    try:
        return datetime.strptime(" ".join(value.split()), "%a %b %d %H:%M:%S %Y").replace(
            tzinfo=timezone.utc)
    except ValueError:
        return None


def _truthy(value: str | None) -> bool | None:
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


def _scan_info_output(items) -> str | None:
    for item in items:
        if item.get("pluginID") == _SCAN_INFO_ID:
            return item.findtext("plugin_output") or ""
    return None


def _scanner_kind(prefs: dict[str, str]) -> str:
    if "sc_version" in prefs:
        return SCANNER_SC
    if any(k.startswith("tenableio.") for k in prefs):
        return SCANNER_TVM
    return SCANNER_NESSUS


def parse_plugin_set(text: str | None) -> frozenset[int] | None:
    if text is None:
        return None
    ids = set()
    for part in text.replace(",", ";").split(";"):
        n = _int(part)
        if n is not None:
            ids.add(n)
    return frozenset(ids)


def _policy(el) -> Policy:
    name = None
    prefs: list[tuple[str, str]] = []
    families: list[tuple[str, str]] = []
    plugins: list[tuple[int, str, str]] = []
    for child in el:
        tag = child.tag
        if tag == "policyName":
            name = (child.text or "").strip() or None
        elif tag == "Preferences":
            server = child.find("ServerPreferences")
            if server is not None:
                for pref in server.iterfind("preference"):
                    key = pref.findtext("name")
                    if key is not None:
                        prefs.append((key.strip(), (pref.findtext("value") or "").strip()))
        elif tag == "FamilySelection":
            for item in child.iterfind("FamilyItem"):
                families.append(((item.findtext("FamilyName") or "").strip(),
                                 (item.findtext("Status") or "").strip().lower()))
        elif tag == "IndividualPluginSelection":
            for item in child.iterfind("PluginItem"):
                pid = _int(item.findtext("PluginId"))
                if pid is not None:
                    plugins.append((pid, (item.findtext("Family") or "").strip(),
                                    (item.findtext("Status") or "").strip().lower()))
    pref_map = dict(prefs)
    return Policy(
        name=name,
        plugin_set=parse_plugin_set(pref_map.get("plugin_set")),
        port_range=pref_map.get("port_range"),
        targets=pref_map.get("TARGET"),
        scanner_kind=_scanner_kind(pref_map),
        families=tuple(families),
        plugins=tuple(plugins),
        preferences=tuple(prefs),
    )


def _sniff(head: bytes, name: str) -> None:
    """Refuse inputs that are plainly not XML exports, with a message that says what they are."""
    if not head.strip():
        raise ParseError("the file is empty", path=name,
                         hint="export the scan again from Nessus as a .nessus file")
    probe = head[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if probe.startswith(b"\xff\xfe") or probe.startswith(b"\xfe\xff"):
        return  # UTF-16 with a BOM: let the XML parser decode it
    if probe.startswith(b"<!doctype html") or probe.startswith(b"<html") or b"<html" in probe[:512]:
        raise ParseError("this is an HTML page, not a .nessus export", path=name,
                         hint="a failed download or a login page was saved; download the "
                              "export again")
    if probe.startswith(b"pk\x03\x04"):
        raise ParseError("this is a zip archive without a .zip name", path=name,
                         hint="rename it to .zip so its members are read")
    if probe.startswith(b"\x1f\x8b"):
        raise ParseError("this is gzip data without a .gz name", path=name,
                         hint="rename it to .gz")
    if not probe.startswith(b"<"):
        raise ParseError("not XML: the file does not start with '<'", path=name,
                         hint="give a Nessus v2 export (.nessus)")
    if b"<!entity" in head.lower():
        raise ParseError("the file declares XML entities in a DOCTYPE, which Nessus exports "
                         "never do; refused as unsafe (entity expansion, external reads)",
                         path=name, hint="export the scan again from the scanner")


def _root_error(tag: str, name: str) -> ParseError:
    if tag == "NessusClientData":
        return ParseError("Nessus v1 export (NessusClientData) is not supported", path=name,
                          line=1, hint="export the scan again as .nessus (v2)")
    return ParseError(f"root element is <{tag}>, not <{ROOT_V2}>", path=name,
                      hint="give a complete Nessus v2 export (.nessus), not a fragment or "
                           "another XML file")


_DOCUMENTS = itertools.count()


class NessusReader:
    """Reads one scan document, host by host.

    >>> reader = NessusReader(source, profile)          # doctest: +SKIP
    >>> for host, findings in reader.hosts(): ...        # doctest: +SKIP
    >>> reader.reports, reader.stats                     # filled as reading goes on

    Raises :class:`ParseError` (one clear line) for anything that is not a readable
    Nessus v2 export. Hosts already yielded before a late error must be discarded by the
    caller (the CLI and the store only commit a file once it has been read to the end).
    """

    def __init__(self, source: Source, profile: Profile = ALL, *, keep_raw: bool = False,
                 fast: bool | None = None, strict: bool = False, digest: bool = True) -> None:
        self.source = source
        self.profile = profile
        self.keep_raw = keep_raw
        #: With a filtering profile the fast path checks the file's structure (prolog,
        #: root, policy, reports, every host, every item's start tag, the end) and fully
        #: only what it keeps: a defect inside an item the profile drops is not reported.
        #: ``strict=True`` has libxml2 check every byte as well (slower), so such a file
        #: is refused exactly as the streaming parser refuses it.
        self.strict = strict
        #: ``False``: the caller has no use for ``stats.sha256``; the fast path then leaves
        #: it None instead of hashing the file on another core.
        self.digest = digest
        #: ``None`` (default): the byte-scanning fast path (:mod:`ingest.fastpath`) for
        #: filtering profiles when the input allows it, the streaming parser for ``all``
        #: (which keeps every item, so skipping bytes gains nothing and it is faster);
        #: ``False``: always the streaming parser; ``True``: the fast path whenever the
        #: input allows it, whatever the profile (tests, benchmarks).
        self.fast = fast
        #: Which reader produced the hosts: ``'full'``, ``'fast'``, or ``'fast+full'`` when
        #: the fast path met something it does not handle and the full parser took over.
        self.path_used: str | None = None
        self.reports: list[Report] = []
        self.policy: Policy | None = None
        self.stats = ParseStats()
        self._hasher: HashingReader | None = None
        self._log_name = f"vulnpipe-document-{id(self)}-{next(_DOCUMENTS)}"

    # -- public -------------------------------------------------------------------------
    def hosts(self) -> Iterator[tuple[Host, list[Finding]]]:
        """Every ``ReportHost`` as ``(Host, [selected Finding])``, in file order.

        Results are identical whichever path reads the file; ``stats`` is complete once the
        iteration has ended.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()   # records are acyclic: collections during a file only cost time
        try:
            use_fast = self.fast is True or (self.fast is None and not self.profile.select_all)
            if use_fast:
                from vulnpipe.ingest.nessus.fastpath import open_fast

                fast = open_fast(self)
                if fast is not None:
                    yield from self._fast_then_full(fast)
                    return
            self.path_used = "full"
            yield from self._hosts_full()
        finally:
            if gc_was_enabled:
                gc.enable()

    def _fast_then_full(self, fast) -> Iterator[tuple[Host, list[Finding]]]:
        from vulnpipe.ingest.nessus.fastpath import FastPathUnsupported

        self.path_used = "fast"
        done = 0
        try:
            with fast:
                for pair in fast.hosts():
                    done += 1
                    yield pair
            return
        except FastPathUnsupported:
            pass
        # Something the fast path does not handle (or a broken file): the full parser reads
        # the file again from the start; hosts already handed out are identical and skipped.
        self.path_used = "fast+full"
        self.reports, self.policy, self.stats = [], None, ParseStats()
        for index, pair in enumerate(self._hosts_full()):
            if index >= done:
                yield pair

    def _hosts_full(self) -> Iterator[tuple[Host, list[Finding]]]:
        name = self.source.name
        try:
            raw = self.source.open()
        except OSError as exc:
            raise ParseError(f"cannot read the file: {exc.strerror or exc}", path=name) from None
        self._hasher = HashingReader(raw, digest=self.digest)
        self._hasher.name = self._log_name     # libxml2 names its errors after the stream
        stream = io.BufferedReader(self._hasher, buffer_size=1 << 20)
        try:
            _sniff(stream.peek(_PROLOG_BYTES), name)
            yield from self._iterate(stream)
            # drain anything after the root element so the hash covers the whole file
            while stream.read(1 << 20):
                pass
        finally:
            stream.close()
        sha256 = self._hasher.sha256
        self.stats.sha256 = sha256.hexdigest() if sha256 is not None else None
        self.stats.size = self._hasher.size

    def read_all(self) -> tuple[list[Host], list[Finding]]:
        """Every host and selected finding (small files and tests; large files: use hosts())."""
        hosts, findings = [], []
        for host, items in self.hosts():
            hosts.append(host)
            findings.extend(items)
        return hosts, findings

    # -- internals ----------------------------------------------------------------------
    def _iterate(self, stream) -> Iterator[tuple[Host, list[Finding]]]:
        name = self.source.name
        context = etree.iterparse(
            stream, events=("start", "end"), tag=("Report", "Policy", "ReportHost"),
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
            remove_comments=True, remove_pis=True)
        report: Report | None = None
        root = None
        try:
            for event, el in context:
                if root is None:
                    root = el.getroottree().getroot()
                    self._check_root(root, name)
                tag = el.tag
                if event == "start":
                    if tag == "Report":
                        report = self._report_started(el, root) or report
                    continue
                if tag == "Policy":
                    self._policy_ended(el, root)
                    self._release(el)
                elif tag == "ReportHost":
                    if report is None:
                        raise ParseError("<ReportHost> outside a <Report>", path=name,
                                         line=el.sourceline, hint="the export is damaged")
                    yield self._host(el, report)
                    self._release(el)
            if root is None:
                self._check_root(context.root, name)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc, stream) from None

    def _report_started(self, el, root) -> Report | None:
        """A ``Report`` start event: a new report when it is a child of the root."""
        if el.getparent() is not root:
            return None
        report = Report(scan_file=self.source.name, name=el.get("name"),
                        index=len(self.reports), policy=self.policy)
        self.reports.append(report)
        self.stats.reports += 1
        return report

    def _policy_ended(self, el, root) -> None:
        if el.getparent() is root:
            self.policy = _policy(el)

    @staticmethod
    def _release(el) -> None:
        el.clear(keep_tail=False)
        parent = el.getparent()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]

    def _check_root(self, root, name: str) -> None:
        if root is None:
            raise ParseError("the file holds no XML element", path=name,
                             hint="give a Nessus v2 export (.nessus)")
        tag = root.tag if isinstance(root.tag, str) else ""
        if tag != ROOT_V2:
            raise _root_error(etree.QName(root).localname if tag else "?", name)

    def _syntax_error(self, exc: etree.XMLSyntaxError, stream) -> ParseError:
        msg = (exc.msg or str(exc)).split(", line ")[0].strip()
        line = exc.lineno
        # After an undeclared entity libxml2 goes on and raises a later, misleading error
        # ("Start tag expected" at line 1, "Extra content at the end", "no element found"):
        # report the first error it logged about this document instead (the exception's log
        # is the thread's: entries are told apart by the name _hosts_full gave the stream)
        first = next((e for e in exc.error_log if e.level >= etree.ErrorLevels.ERROR and
                      (e.filename or "").endswith(self._log_name)), None)
        if first is not None and first.message and first.line and (
                first.type == etree.ErrorTypes.ERR_UNDECLARED_ENTITY or
                exc.code in (etree.ErrorTypes.ERR_DOCUMENT_EMPTY,
                             etree.ErrorTypes.ERR_DOCUMENT_END) or
                "no element found" in msg.lower()):
            msg, line = first.message.strip(), first.line
        low = msg.lower()
        at_end = False
        try:
            while stream.read(1 << 20):
                pass
            at_end = bool(line) and self._hasher is not None and \
                line >= self._hasher.lines - 1
        except OSError:
            pass
        if "premature end" in low or "end of data" in low or "eof" in low or at_end:
            hint = "the file is truncated: export or download it again"
        elif "utf-8" in low or "encoding" in low or "bytes:" in low:
            hint = "the file is not valid UTF-8: export it again without re-encoding"
        else:
            hint = "the XML is not well-formed: export or download the scan again"
        return ParseError(f"not well-formed XML: {msg}", path=self.source.name,
                          line=line or None, hint=hint)

    def _host(self, el, report: Report) -> tuple[Host, list[Finding]]:
        stats = self.stats
        stats.hosts += 1
        props: dict[str, str] = {}
        items = []
        for child in el:
            tag = child.tag
            if tag == "HostProperties":
                for t in child:
                    if t.tag == "tag":
                        key = t.get("name")
                        if key is not None:
                            props[key] = (t.text or "").strip()
            elif tag == "ReportItem":
                items.append(child)
        host = self._make_host(el.get("name") or "", props, report,
                               lambda: _scan_info_output(items))
        profile = self.profile
        watch_ids = (L2TP_PLUGIN_ID, ELSA_68453)
        findings: list[Finding] = []
        for item in items:
            attrib = item.attrib
            stats.items += 1
            sev = attrib.get("severity")
            stats.severity[sev if sev in ("0", "1", "2", "3", "4") else "other"] += 1
            pid = _int(attrib.get("pluginID"))
            port = _int(attrib.get("port"))
            if pid in watch_ids:
                stats.plugin_counts[pid] += 1
                if pid == ELSA_68453 and stats.elsa_68453_name is None:
                    stats.elsa_68453_name = attrib.get("pluginName")
            if port == 1701:
                stats.port_1701 += 1
            role = profile.role(pid, attrib.get("pluginName"), attrib.get("pluginFamily"), port,
                                attrib.get("protocol"))
            if role is None:
                continue
            finding = self._finding(item, host, pid, port, role)
            if finding.compliance is not None:
                stats.compliance_items += 1
            stats.selected += 1
            findings.append(finding)
        return host, findings

    def _make_host(self, name: str, props: dict[str, str], report: Report,
                   scan_info_output: Callable[[], str | None]) -> Host:
        """The host record. ``scan_info_output()`` gives the ``plugin_output`` of the host's
        first plugin 19506 item ('' when it has none, None without such an item); it is only
        called when ``Credentialed_Scan`` does not say."""
        ip = normalize_ip(props.get("host-ip")) or normalize_ip(name)
        credentialed = _truthy(props.get("Credentialed_Scan"))
        if credentialed is None:
            out = scan_info_output()
            if out is not None:
                credentialed = credentials_from_scan_info(out)
        start = _epoch(props.get("HOST_START_TIMESTAMP")) or _ctime(props.get("HOST_START"))
        end = _epoch(props.get("HOST_END_TIMESTAMP")) or _ctime(props.get("HOST_END"))
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

    def _finding(self, item, host: Host, pid: int | None, port: int | None, role: str) -> Finding:
        tags, texts, directs = [], [], []
        for child in item:
            tag = child.tag
            if tag.__class__ is str:
                text = child.text
                tags.append(tag)
                texts.append("".join(child.itertext()) if len(child) else text)
                directs.append(text)
        raw = etree.tostring(item, encoding="utf-8", with_tail=False) if self.keep_raw else None
        return build_finding(item.attrib, tags, texts, directs, host, pid, port, role, raw)


def build_finding(attrib, tags, texts, directs, host: Host, pid: int | None, port: int | None,
                  role: str, raw_xml: bytes | None = None) -> Finding:
    """One finding from a ReportItem's attributes (a mapping) and its child elements, given
    as parallel sequences in document order: ``tags`` (``{uri}local`` for namespaced ones),
    ``texts`` (all text inside each child, None when empty) and ``directs`` (each child's
    own text before any sub-element; ``None`` means "same as ``texts``").

    Both readers (the streaming parser and the fast path) build findings here, so they
    cannot disagree on what a child element means.
    """
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
            values[tag] = _float(text if directs is None else directs[index])
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
        severity=_int(get("severity")),
        port=port,
        protocol=get("protocol"),
        svc_name=get("svc_name"),
        risk_factor=vget("risk_factor"),  # type: ignore[arg-type]
        plugin_type=vget("plugin_type"),  # type: ignore[arg-type]
        synopsis=vget("synopsis"),  # type: ignore[arg-type]
        description=vget("description"),  # type: ignore[arg-type]
        solution=vget("solution"),  # type: ignore[arg-type]
        plugin_output=vget("plugin_output"),  # type: ignore[arg-type]
        cvss3_base_score=vget("cvss3_base_score"),  # type: ignore[arg-type]
        cvss_base_score=vget("cvss_base_score"),  # type: ignore[arg-type]
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
