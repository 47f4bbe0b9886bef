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
from typing import Iterator

from lxml import etree

from vulnpipe.ingest.errors import ParseError
from vulnpipe.ingest.nessus.build import (
    ELSA_68453,
    L2TP_PLUGIN_ID,
    MAX_ITEM_MARKUP,
    ROOT_V2,
    SCAN_INFO_ID,
    ParseStats,
    finding_from_element,
    make_host,
    to_int,
    uncut,
)
from vulnpipe.ingest.nessus.fastpath import FastPathUnsupported, open_fast
from vulnpipe.ingest.nessus.sources import HashingReader, Source
from vulnpipe.ingest.nessus.textcap import CappedStream, TextCap, stripped
from vulnpipe.ingest.profiles import ALL, Profile
from vulnpipe.ingest.records import SCANNER_NESSUS, SCANNER_SC, SCANNER_TVM, Finding, Host, Policy, Report

_SNIFF_BYTES = 4096
_PROLOG_BYTES = 1 << 16


def _text(el) -> str | None:
    if len(el):
        return "".join(el.itertext())
    return el.text


def _scan_info_output(items) -> str | None:
    for item in items:
        if item.get("pluginID") == SCAN_INFO_ID:
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
        n = to_int(part)
        if n is not None:
            ids.add(n)
    return frozenset(ids)


def _policy(el) -> Policy:
    """The scan's policy. (Values are as the export holds them unless :mod:`.textcap` cut
    one before libxml2 read it: then capped like a finding's text.)"""
    def value(text: str | None) -> str:
        return uncut(stripped(text or "")) or ""

    name = None
    prefs: list[tuple[str, str]] = []
    families: list[tuple[str, str]] = []
    plugins: list[tuple[int, str, str]] = []
    for child in el:
        tag = child.tag
        if tag == "policyName":
            name = value(child.text) or None
        elif tag == "Preferences":
            server = child.find("ServerPreferences")
            if server is not None:
                for pref in server.iterfind("preference"):
                    key = pref.findtext("name")
                    if key is not None:
                        prefs.append((value(key), value(pref.findtext("value"))))
        elif tag == "FamilySelection":
            for item in child.iterfind("FamilyItem"):
                families.append((value(item.findtext("FamilyName")),
                                 value(item.findtext("Status")).lower()))
        elif tag == "IndividualPluginSelection":
            for item in child.iterfind("PluginItem"):
                pid = to_int(item.findtext("PluginId"))
                if pid is not None:
                    plugins.append((pid, value(item.findtext("Family")),
                                    value(item.findtext("Status")).lower()))
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


#: Office documents by what their first bytes hold: a zip (OOXML, OpenDocument) names its
#: parts; an old Office file is an OLE2 compound document; PDF says so itself.
_OFFICE_ZIP = ((b"xl/", "an Excel workbook (.xlsx)"), (b"word/", "a Word document (.docx)"),
               (b"ppt/", "a PowerPoint presentation (.pptx)"),
               (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (.ods)"),
               (b"opendocument.text", "an OpenDocument text (.odt)"),
               (b"[Content_Types].xml", "an Office document"),
               (b"docProps/", "an Office document"))


def _office_kind(head: bytes) -> str | None:
    """What office file ``head`` (the first bytes of an input) begins, or None."""
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an old Office 97-2003 file (.xls, .doc or .ppt)"
    if head.startswith(b"%PDF-"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return next((what for marker, what in _OFFICE_ZIP if marker in head), None)
    return None


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
    office = _office_kind(head)
    if office:
        raise ParseError(f"this is {office}, not a .nessus export", path=name,
                         hint="export the scan from Nessus in the .nessus format (Export > "
                              "Nessus); vulnpipe cannot read scan results from an office file")
    if probe.startswith(b"pk\x03\x04"):
        raise ParseError("this is a zip archive without a .zip name", path=name,
                         hint="rename it to .zip so its members are read")
    if probe.startswith(b"\x1f\x8b"):
        raise ParseError("this is gzip data without a .gz name", path=name,
                         hint="rename it to .gz")
    if not probe.startswith(b"<"):
        raise ParseError("not XML: the file does not start with '<'", path=name,
                         hint="give a Nessus v2 export (.nessus)")


def _check_doctype(root, name: str, line=lambda n: n) -> None:
    """Refuse a document whose DOCTYPE declares entities, as libxml2 read it (whatever the
    encoding, however far into the file): checked when the root element starts, before any
    element is used. Entities are never resolved anyway; this also stops internal ones being
    expanded in attribute values."""
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and next(iter(dtd.entities()), None) is not None:
        raise _entities_error(name, line(root.sourceline))


def _entities_error(name: str, line: int | None) -> ParseError:
    return ParseError("the file declares XML entities in a DOCTYPE, which Nessus exports never "
                      "do; refused as unsafe (entity expansion, external reads)", path=name,
                      line=line, hint="export the scan again from the scanner")


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
                 fast: bool = False, strict: bool = False, digest: bool = True) -> None:
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
        #: ``True``: the byte-scanning fast path (:mod:`.fastpath`) when the input allows it,
        #: the streaming parser otherwise (and from the start whenever the fast path meets
        #: something it does not handle); ``False``: the streaming parser. Which to use is
        #: decided by :func:`vulnpipe.ingest.nessus.open_reader`, the one place that chooses.
        self.fast = fast
        #: Which reader produced the hosts: ``'full'``, ``'fast'``, or ``'fast+full'`` when
        #: the fast path met something it does not handle and the full parser took over.
        self.path_used: str | None = None
        self.reports: list[Report] = []
        self.policy: Policy | None = None
        self.stats = ParseStats()
        self._hasher: HashingReader | None = None
        self._cap: TextCap | None = None
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
            if self.fast:
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
        self._hasher = HashingReader(raw, digest=self.digest, item_markup=MAX_ITEM_MARKUP,
                                     name=name)
        self._hasher.name = self._log_name     # libxml2 names its errors after the stream
        # over-long text is cut before libxml2 builds it (memory stays flat; records and
        # notes are the same: see textcap)
        self._cap = TextCap()
        stream = io.BufferedReader(CappedStream(self._hasher, self._cap), buffer_size=1 << 20)
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
                    _check_doctype(root, name, self._line)
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
                                         line=self._line(el.sourceline),
                                         hint="the export is damaged")
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
        report = Report(scan_file=self.source.name, name=uncut(el.get("name")),
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

    def _line(self, line: int | None) -> int | None:
        """The file's line for a line libxml2 reported (text cut before it removed lines)."""
        if line and self._cap is not None and self._cap.cuts:
            return self._cap.original_line(line)
        return line

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
        line = self._line(line)
        low = msg.lower()
        if "entity amplification" in low or "entity reference loop" in low:
            return _entities_error(self.source.name, line or None)   # (libxml2 stopped it)
        at_end = False
        try:
            while stream.read(1 << 20):
                pass
            at_end = line is not None and line > 0 and self._hasher is not None and \
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
                            props[key] = stripped(t.text or "")
            elif tag == "ReportItem":
                items.append(child)
        host = make_host(el.get("name") or "", props, report, lambda: _scan_info_output(items),
                         stats)
        profile = self.profile
        watch_ids = (L2TP_PLUGIN_ID, ELSA_68453)
        findings: list[Finding] = []
        for item in items:
            attrib = item.attrib
            stats.items += 1
            sev = attrib.get("severity")
            stats.severity[sev if sev in ("0", "1", "2", "3", "4") else "other"] += 1
            pid = to_int(attrib.get("pluginID"))
            port = to_int(attrib.get("port"))
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
            finding = finding_from_element(item, host, pid, port, role, self.keep_raw, stats)
            if finding.compliance is not None:
                stats.compliance_items += 1
            stats.selected += 1
            findings.append(finding)
        return host, findings
