"""The fast path of :class:`~ingest.nessus.NessusReader`: read a plain ``.nessus`` file by
scanning its bytes, and build records only for what the profile selects.

How it works (invisible to callers on well-formed exports: the records are identical to the
full streaming parser's, which tests check on every corpus, generated and random document):

* The file is memory-mapped. ``ReportHost`` boundaries and every item's start tag are found
  with byte searches and regular expressions; an item's attributes decide (through
  :meth:`Profile.role`, cached per distinct attribute text) whether it is kept. Dropped
  items cost no Python object of their own: statistics are counted per distinct
  attribute text.
* The bytes around the hosts (prolog, policy, reports) go through lxml; host properties and
  kept items are decoded from their bytes (simple elements by regex, anything more
  involved with lxml), through the same record builders as the full parser. A host with
  kept items must be made of whole items only.
* What is checked by default: that structure, every item start tag and its attributes,
  the host properties, the kept items and the end of the file. The content of dropped
  items is not read, so a defect there is not reported. With ``strict`` libxml2 also
  checks every byte (in a second process for big files; a host is only handed out once
  the check has passed its last byte) and every host is tiled item by item, so a file is
  read or refused exactly as the full parser does.
* The SHA-256 of the file is computed by a thread on another core, when wanted.
* Anything the fast path does not handle — comments, CDATA, processing instructions or a
  DOCTYPE, encodings other than UTF-8 (or a BOM), default namespaces, unusual nesting, and
  broken structure — raises :class:`FastPathUnsupported`. The reader then lets the full
  parser read the file from the start (skipping the hosts already handed out), so results
  and error messages are the full parser's.
"""
from __future__ import annotations

import hashlib
import io
import mmap
import multiprocessing
import os
import re
import stat
import threading
from collections import Counter
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, cast

from lxml import etree

from vulnpipe.ingest.nessus.build import (
    CLOSING_TAGS,
    ELSA_68453,
    L2TP_PLUGIN_ID,
    MAX_ITEM_MARKUP,
    SEVERITIES,
    build_finding,
    finding_from_element,
    make_host,
    raw_kept,
    to_int,
)
from vulnpipe.ingest.nessus.children import die_with_parent
from vulnpipe.ingest.nessus.textcap import CHUNK, CUT_BYTES, TextCap
from vulnpipe.ingest.records import Finding, Host, Report

if TYPE_CHECKING:
    from vulnpipe.ingest.nessus.reader import NessusReader

#: Files at least this big are checked by libxml2 in a second process while the bytes are
#: scanned; smaller ones are checked first, in-process.
ASYNC_CHECK_BYTES = 24 << 20
#: Bytes libxml2 checks per step (and the granularity at which hosts are released).
CHECK_CHUNK = 4 << 20
#: Bytes the SHA-256 thread reads at a time.
_DIGEST_CHUNK = 32 << 20
#: Scanned bytes after which mapped pages are handed back to the OS (flat memory).
_RELEASE_BYTES = 16 << 20


class FastPathUnsupported(Exception):
    """The fast path cannot read this file (or this part of it); use the full parser."""


# -- byte patterns -------------------------------------------------------------------------
_ATTRS = rb'(?:[ \t\r\n]+[^ \t\r\n=/>]+[ \t\r\n]*=[ \t\r\n]*(?:"[^"<]*"|\'[^\'<]*\'))*'
_NOT_ITEM_TAG = rb'<(?!/?ReportItem[ \t\r\n/>])'
_CONTENT = rb'[^<]*(?:' + _NOT_ITEM_TAG + rb'[^<]*)*'
# One item, for tiling a host body: (attributes, stray non-space byte).
_RX_TILE = re.compile(rb'[ \t\r\n]*(?:<ReportItem(' + _ATTRS + rb')[ \t\r\n]*(?:/>|>' + _CONTENT
                      + rb'</ReportItem[ \t\r\n]*>)|([^ \t\r\n]))')
# The same with the item's inner content: (attributes, content, stray byte).
_RX_TILE_FULL = re.compile(rb'[ \t\r\n]*(?:<ReportItem(' + _ATTRS + rb')[ \t\r\n]*(?:/>|>('
                           + _CONTENT + rb')</ReportItem[ \t\r\n]*>)|([^ \t\r\n]))')
# Simple child elements (text only): (tag, attributes, text, stray byte).
_RX_CHILD = re.compile(rb'[ \t\r\n]*(?:<([^ \t\r\n/>!?<]+)(' + _ATTRS
                       + rb')[ \t\r\n]*(?:/>|>([^<]*)</\1[ \t\r\n]*>)|([^ \t\r\n]))')
# Host properties as Nessus writes them (anything else goes through _RX_CHILD).
_RX_PROP = re.compile(rb'[ \t\r\n]*(?:<tag name="([^"<&]*)">([^<]*)</tag>|([^ \t\r\n]))')
_PROP_NAMES: dict[bytes, str] = {}
_RX_ATTR = re.compile(rb'([^ \t\r\n=]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|\'([^\']*)\')')
_RX_HOST_START = re.compile(rb'<ReportHost(' + _ATTRS + rb')[ \t\r\n]*(/?)>')
_RX_HOST_END = re.compile(rb'</ReportHost[ \t\r\n]*>')
_RX_PROPS = re.compile(rb'[ \t\r\n]*<HostProperties(' + _ATTRS
                       + rb')[ \t\r\n]*(?:/>|>(.*?)</HostProperties[ \t\r\n]*>)', re.S)
_RX_PROLOG = re.compile(rb'(?:<\?xml(' + _ATTRS + rb')[ \t\r\n]*\?>)?[ \t\r\n]*'
                        + rb'<NessusClientData_v2(' + _ATTRS + rb')[ \t\r\n]*>')
_RX_PREFIXED = re.compile(rb'<[A-Za-z_][^ \t\r\n>/:<]*:')
_RX_REF = re.compile(r'&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);')
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
# What XML 1.0 refuses in text: C0 controls but tab, LF and CR (NUL is left to the
# callers, which use it as a separator and count it), U+FFFE/U+FFFF, and "]]>" outside
# attribute values.
_RX_FORBIDDEN = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|]]>")
_RX_FORBIDDEN_ATTR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HOST_TAG_FOLLOW = frozenset(b" \t\r\n/>")
_XML_SPACE = b" \t\r\n"      # XML's white space (not Python's, which has \v and \f too)


def _ref(m: re.Match) -> str:
    ref = m.group(1)
    if ref[0] != "#":
        return _NAMED[ref]
    code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
    if code < 0x20 and code not in (9, 10, 13) or 0xD800 <= code <= 0xDFFF or \
            code in (0xFFFE, 0xFFFF) or code > 0x10FFFF:
        raise FastPathUnsupported("character reference to a character XML forbids")
    return chr(code)


def _decoded(s: str, forbidden: re.Pattern = _RX_FORBIDDEN) -> str:
    """Character data with references decoded, refusing what an XML parser refuses: a
    reference to anything but XML's own entities or allowed characters, control characters,
    ``]]>`` in text."""
    if forbidden.search(s):
        raise FastPathUnsupported("character XML forbids")
    if "&" in s:
        amps = s.count("&")
        s, n = _RX_REF.subn(_ref, s)
        if n != amps:
            raise FastPathUnsupported("reference to an undeclared entity")
    return s


def _text(raw: bytes) -> str | None:
    """Element text as an XML parser reports it (None when empty)."""
    if not raw:
        return None
    s = raw.decode("utf-8")
    if "\x00" in s:
        raise FastPathUnsupported("NUL character")
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    return _decoded(s)


def _attr_text(raw: bytes) -> str:
    """An attribute value as an XML parser reports it (whitespace normalised, refs decoded)."""
    s = raw.decode("utf-8")
    if "\r" in s or "\n" in s or "\t" in s:
        s = s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _decoded(s, _RX_FORBIDDEN_ATTR)


def _attrs(raw: bytes) -> dict[str, str]:
    """Attributes of a start tag's attribute text (namespace declarations excluded)."""
    out: dict[str, str] = {}
    found = _RX_ATTR.findall(raw)
    for name, dq, sq in found:
        key = name.decode("utf-8")
        if key == "xmlns" or key.startswith("xmlns:"):
            continue
        if ":" in key:      # a prefixed attribute: only a namespace-aware parser can judge it
            raise FastPathUnsupported(f"prefixed attribute {key}")
        if key in out:
            raise FastPathUnsupported(f"attribute {key} twice")
        out[key] = _attr_text(dq or sq)
    return out


_NAMES: dict[bytes, str] = {}


def _children(content: bytes, nsmap: dict[str, str]) -> tuple[list[str], list[str | None]] | None:
    """An element's children as ``(tags, texts)`` when all are simple text elements; None
    when something needs a real XML parser (nesting, namespace declarations...)."""
    if b"xmlns" in content:
        return None
    found = _RX_CHILD.findall(content)
    if not found:
        return [], []
    tags, _attrs_, raw_texts, strays = zip(*found)
    if any(strays):
        return None
    names: list[str | None] = list(map(_NAMES.get, tags))
    if None in names:
        for index, tag in enumerate(tags):
            if names[index] is None:
                name = tag.decode("utf-8")
                if ":" in name:
                    prefix, local = name.split(":", 1)
                    uri = nsmap.get(prefix)
                    if uri is None:
                        return None
                    name = f"{{{uri}}}{local}"
                else:
                    _NAMES[tag] = name
                names[index] = name
    text = b"\x00".join(raw_texts).decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    texts = _decoded(text).split("\x00")
    if len(texts) != len(names):
        return None
    return cast(list[str], names), [t or None for t in texts]


def _escape_attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))


# -- the well-formedness check ------------------------------------------------------------
#: Elements nested deeper than this are left to the full parser, which refuses a document
#: nested deeper than libxml2's limit (2048 with huge_tree): a SAX target builds no tree, so
#: libxml2 does not count the depth for it, and ``--strict`` would accept what the full
#: parser refuses (in an item the profile drops, say).
MAX_CHECKED_DEPTH = 2000


class _Watch:
    """libxml2 SAX target: elements only counted (nothing is built), no callbacks for text;
    the rare constructs the fast path does not handle, or nesting deeper than
    :data:`MAX_CHECKED_DEPTH`, make the file ``odd`` (the full parser then reads it)."""

    def __init__(self) -> None:
        self.odd = False
        self.depth = 0

    def start(self, tag, attrib) -> None:
        self.depth += 1
        if self.depth > MAX_CHECKED_DEPTH:
            self.odd = True

    def end(self, tag) -> None:
        self.depth -= 1

    def comment(self, text) -> None:
        self.odd = True

    def pi(self, target, data=None) -> None:
        self.odd = True

    def doctype(self, *args) -> None:
        self.odd = True

    def close(self) -> None:
        return None


def _markup_declaration(mm, start: int, end: int, mark: bytes = b"!") -> bool:
    """Whether ``<`` + ``mark`` starts in ``[start, end)``: ``<!`` a comment, CDATA section
    or DOCTYPE, ``<?`` a processing instruction.

    Searches for the byte ``mark`` (memchr speed; both are rare in exports) and looks back."""
    i = mm.find(mark, max(start, 1), end)
    while i >= 0:
        if mm[i - 1] == 0x3C:          # '<'
            return True
        i = mm.find(mark, i + 1, end)
    return False


def _unusual_markup(mm, start: int, end: int) -> bool:
    """Whether a comment, CDATA section, DOCTYPE (``<!``) or processing instruction (``<?``)
    starts in ``[start, end)``: without libxml2's check, the fast path finds them here."""
    return _markup_declaration(mm, start, end) or _markup_declaration(mm, start, end, b"?")


def _find_tag(mm, needle: bytes, tail: bytes, pos: int, end: int = -1) -> int:
    """Position of ``needle + tail`` from ``pos``; the search runs on ``needle``, whose
    last byte is rare in exports, which makes the skip search fast."""
    if end < 0:
        end = len(mm)
    n = len(needle)
    i = mm.find(needle, pos, end)
    while i >= 0 and mm[i + n:i + n + len(tail)] != tail:
        i = mm.find(needle, i + 1, end)
    return i


def check_bytes(mm, size: int, progress: Callable[[int], None]) -> tuple[str, str | None]:
    """Feed the whole file to libxml2 and hash it. ``progress(n)`` reports that bytes
    ``[0, n)`` are well-formed and hold nothing unusual. Returns ``('ok', sha256)``, or
    ``('odd', None)`` / ``('bad', None)`` when the fast path must give way."""
    watch = _Watch()
    parser = etree.XMLParser(target=watch, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=True)
    cap = TextCap()       # libxml2 holds a text run whole: over-long ones are cut first
    digest = hashlib.sha256()
    pos = 0
    while pos < size:
        end = min(pos + CHECK_CHUNK, size)
        chunk = mm[pos:end]
        digest.update(chunk)
        if _markup_declaration(mm, pos, end):
            return "odd", None
        # prefixed element names (compliance cm:..., or an undefined prefix, which libxml2's
        # SAX mode does not report): the full, namespace-aware parser must read the file
        if _RX_PREFIXED.search(mm, max(0, pos - 256), end):
            return "odd", None
        try:
            parser.feed(cap.feed(chunk))
        except etree.XMLSyntaxError:
            return "bad", None
        if watch.odd:
            return "odd", None
        progress(pos)      # libxml2 may still hold back the end of this chunk
        if pos and hasattr(mm, "madvise"):      # hand checked pages back: flat memory
            try:
                mm.madvise(mmap.MADV_DONTNEED, 0, pos - pos % mmap.PAGESIZE)
            except (OSError, ValueError):
                pass
        pos = end
    try:
        parser.feed(cap.close())
        parser.close()
    except etree.XMLSyntaxError:
        return "bad", None
    if watch.odd:
        return "odd", None
    return "ok", digest.hexdigest()


def _check_child(mm, size: int, conn, parent: int) -> None:
    die_with_parent(parent)
    try:
        status, sha = check_bytes(mm, size, conn.send)
        conn.send((status, sha))
    except BaseException:          # the parent falls back to the full parser
        conn.send(("bad", None))
    finally:
        conn.close()


class _Check(Protocol):
    """What the fast path waits on: how far the file is checked, and its SHA-256."""

    sha256: str | None

    def wait(self, offset: int) -> None: ...

    def close(self) -> None: ...


class _Gate:
    """Knows how far the file has been checked; blocks until a given offset is."""

    def __init__(self, mm, size: int, in_process: bool = False) -> None:
        self.size = size
        self.checked = 0
        self.sha256: str | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        if (not in_process and size >= ASYNC_CHECK_BYTES
                and "fork" in multiprocessing.get_all_start_methods()):
            ctx = multiprocessing.get_context("fork")
            parent, child = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_check_child, args=(mm, size, child, os.getpid()),
                                     daemon=True)
            self._proc.start()
            child.close()
            self._conn = parent
        else:
            status, sha = check_bytes(mm, size, lambda n: None)
            self._finish(status, sha)

    def _finish(self, status: str, sha: str | None) -> None:
        if status != "ok":
            raise FastPathUnsupported(status)
        self.checked = self.size + 1
        self.sha256 = sha

    def wait(self, offset: int) -> None:
        while self.checked < offset:
            try:
                assert self._conn is not None, "wait() after close()"
                msg = self._conn.recv()
            except (EOFError, OSError):
                raise FastPathUnsupported("check process ended") from None
            if isinstance(msg, int):
                self.checked = msg
            else:
                self._finish(*msg)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join()
            if self._conn is not None:
                self._conn.close()
            self._proc = None


class FileDigest:
    """The file's SHA-256, computed by a thread while the main thread scans (hashlib lets
    go of the GIL, so it runs on another core). It reads with ``pread`` rather than through
    the map, so the pages it reads are not added to this process's memory."""

    def __init__(self, mm, fd: int | None, size: int) -> None:
        self.size = size
        self.sha256: str | None = None
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(mm, fd), daemon=True,
                                        name="vulnpipe-sha256")
        self._thread.start()

    def _run(self, mm, fd: int | None) -> None:
        digest = hashlib.sha256()
        # big reads: the thread takes the GIL back after each, waiting up to a switch interval
        buf = bytearray(_DIGEST_CHUNK)
        view = memoryview(buf)
        try:
            pos = 0
            while pos < self.size and not self._stop:
                if fd is not None:
                    n = min(os.preadv(fd, [buf], pos), self.size - pos)
                    if n <= 0:
                        raise OSError("the file is shorter than its size")
                    digest.update(view[:n])
                else:
                    n = min(_DIGEST_CHUNK, self.size - pos)
                    digest.update(mm[pos:pos + n])
                pos += n
            self.sha256 = digest.hexdigest()
        except BaseException as exc:        # noqa: BLE001 - reported by wait()
            self._error = exc

    def wait(self, offset: int) -> None:
        """Hosts need no waiting; the end of the file (``offset > size``) waits for the
        digest."""
        if offset > self.size:
            self._thread.join()
            if self._error is not None:
                raise FastPathUnsupported(f"hashing the file: {self._error}")

    def close(self) -> None:
        self._stop = True
        self._thread.join()


class _NoCheck:
    """Neither a check nor a digest (pieces of a file read by worker processes)."""

    sha256: str | None = None

    def wait(self, offset: int) -> None:
        return None

    def close(self) -> None:
        return None


# -- the skeleton: everything but the hosts, through the full parser's handlers -----------------
class _Skeleton:
    """Parses the bytes around the hosts (root, Policy, Report elements) with lxml and
    hands Report starts and Policy ends to the reader's own handlers."""

    def __init__(self, reader: "NessusReader") -> None:
        self.reader = reader
        self.parser = etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
            huge_tree=True, remove_comments=True, remove_pis=True)
        self.cap = TextCap()
        self.stack: list = []
        self.root: etree._Element | None = None
        self.report: Report | None = None

    def feed(self, data) -> None:
        """Bytes (or a map's slice) of the document, through :class:`.textcap.TextCap` (an
        over-long policy value is cut before libxml2 builds it)."""
        for i in range(0, len(data), CHUNK):
            self.parser.feed(self.cap.feed(data[i:i + CHUNK]))
            self._events()

    def feed_range(self, mm, start: int, end: int) -> None:
        """Bytes ``[start, end)`` of ``mm``, a megabyte at a time."""
        for i in range(start, end, CHUNK):
            self.feed(mm[i:min(i + CHUNK, end)])

    def close(self) -> None:
        self.parser.feed(self.cap.close())
        self.parser.close()
        self._events()

    def _events(self) -> None:
        for event, el in self.parser.read_events():
            if self.root is None:
                self.root = el
            tag = el.tag
            if event == "start":
                self.stack.append(el)
                if tag == "Report":
                    self.report = self.reader._report_started(el, self.root) or self.report
            else:
                self.stack.pop()
                if tag == "Policy":
                    self.reader._policy_ended(el, self.root)

    def nsmap(self) -> dict[str, str]:
        """Namespace prefixes in scope where the next host starts."""
        if not self.stack:
            raise FastPathUnsupported("host outside the root")
        ns = self.stack[-1].nsmap
        if None in ns:
            raise FastPathUnsupported("default namespace")
        return ns


# -- the reader -----------------------------------------------------------------------------------
def open_fast(reader: "NessusReader") -> "FastFile | None":
    """A fast reader for ``reader.source`` when it is a plain UTF-8 file the fast path can
    take on, else None (the full parser reads it)."""
    try:
        # only regular files: opening and closing a pipe or FIFO would lose what it holds
        if not stat.S_ISREG(os.stat(reader.source.path).st_mode):
            return None
        raw = reader.source.open()
    except (OSError, TypeError, ValueError):
        return None
    if not (isinstance(raw, io.BufferedReader) and isinstance(raw.raw, io.FileIO)):
        raw.close()
        return None
    try:
        size = os.fstat(raw.fileno()).st_size
        if size == 0:
            raise ValueError("empty")
        mm = mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        raw.close()
        return None
    body = body_start(mm)
    if body is None:
        mm.close()
        raw.close()
        return None
    return FastFile(reader, raw, mm, size, body, strict=reader.strict, digest=reader.digest)


def body_start(doc) -> int | None:
    """Where the first element after the root's start tag may begin in ``doc`` (bytes or a
    map), or None when its prolog is not one the fast path reads (a declared encoding other
    than UTF-8, a namespace on the root, no root in the first 64 KB)."""
    m = _RX_PROLOG.match(doc, 0, 1 << 16)
    if m is None or not _utf8_declaration(m.group(1)) or b"xmlns" in (m.group(2) or b""):
        return None
    return m.end()


def _utf8_declaration(attrs: bytes | None) -> bool:
    """Whether an XML declaration's attributes say UTF-8 (or nothing); False for anything the
    fast path cannot read, which the full parser then judges."""
    if not attrs:
        return True
    try:
        enc = _attrs(attrs).get("encoding")
    except (FastPathUnsupported, UnicodeDecodeError):
        return False
    return enc is None or enc.strip().lower() in ("utf-8", "utf8")


class FastFile:
    """One file opened for the fast path (a context manager; :meth:`hosts` reads it)."""

    def __init__(self, reader: "NessusReader", raw, mm, size: int, body_start: int, *,
                 strict: bool = False, in_process_check: bool = False,
                 digest: bool = True, piece: tuple[int, int, int] | None = None,
                 learned: tuple[dict, set] | None = None) -> None:
        """``mm`` is a memory map (or any bytes-like object); ``raw`` the file it maps, or
        None. ``strict``: libxml2 checks every byte (``in_process_check`` keeps that check
        in this process). ``digest``: compute the file's SHA-256 (``stats.sha256``).
        ``piece``: ``(head, begin, end)`` reads only the hosts starting in ``[begin, end)``,
        as a document made of bytes ``[0, head)`` (prolog, policy, report start), those hosts
        and closing tags (worker processes of :mod:`ingest.parallel`; no check, no digest).
        ``learned``: ``(info, selected)`` decoded item start tags to share between readers
        of the same profile (the pieces a worker reads)."""
        self.reader = reader
        self.strict = strict
        self.in_process_check = in_process_check
        self.digest = digest
        self.piece = piece
        self.raw = raw
        self.mm = mm
        self.size = size
        self.body_start = body_start
        self.gate: _Check | None = None
        # per distinct ReportItem attribute text: (severity key, plugin id, port, raw plugin
        # id, plugin name, role, attributes)
        self._info: dict[bytes, tuple]
        self._selected: set[bytes]
        self._info, self._selected = learned if learned is not None else ({}, set())
        self._counts: Counter = Counter()
        self._released = 0

    def __enter__(self) -> "FastFile":
        return self

    def __exit__(self, *exc) -> None:
        if self.gate is not None:
            self.gate.close()
        if self.raw is not None:
            self.mm.close()
            self.raw.close()

    # -- reading ---------------------------------------------------------------------------
    def hosts(self) -> Iterator[tuple[Host, list[Finding]]]:
        try:
            yield from self._hosts()
        except (FastPathUnsupported, etree.XMLSyntaxError, UnicodeDecodeError, ValueError,
                KeyError, IndexError, OverflowError) as exc:
            raise FastPathUnsupported(str(exc)) from None

    def _hosts(self) -> Iterator[tuple[Host, list[Finding]]]:
        mm, size = self.mm, self.size
        reader = self.reader
        gate: _Check
        if self.strict:
            gate = _Gate(mm, size, self.in_process_check)
        elif self.digest and self.piece is None:
            gate = FileDigest(mm, self.raw.fileno() if self.raw is not None else None, size)
        else:
            gate = _NoCheck()
        self.gate = gate
        # without libxml2's check, comments, CDATA, DOCTYPEs and PIs are found here
        declarations = not self.strict
        skeleton = _Skeleton(reader)
        select_all = reader.profile.select_all
        pos, stop = 0, size
        if self.piece is not None:
            head, pos, stop = self.piece
            if _unusual_markup(mm, self.body_start, head):
                raise FastPathUnsupported("comment, CDATA, DOCTYPE or processing instruction")
            skeleton.feed_range(mm, 0, head)
        while True:
            start = self._next_host(pos, stop)
            if start < 0:
                break
            if start - pos > CHUNK or mm[pos:start].strip(_XML_SPACE):
                # (libxml2 need not see the usual newline)
                if self.piece is not None and pos > self.piece[1]:
                    raise FastPathUnsupported("markup between hosts of a piece")
                skeleton.feed_range(mm, pos, start)
            report = skeleton.report
            if report is None:
                raise FastPathUnsupported("host outside a report")
            nsmap = skeleton.nsmap()
            host, findings, end = self._host(start, report, nsmap, select_all)
            if declarations and _unusual_markup(mm, max(pos, self.body_start), end):
                raise FastPathUnsupported("comment, CDATA, DOCTYPE or processing instruction")
            pos = end
            gate.wait(pos)
            yield host, findings
            if pos - self._released >= _RELEASE_BYTES:
                self._release(pos)
        if self.piece is not None:
            if mm[pos:stop].strip(_XML_SPACE):
                raise FastPathUnsupported("markup between hosts")
            skeleton.feed(CLOSING_TAGS)
            skeleton.close()
            self._finish_stats()
            return
        if declarations and _unusual_markup(mm, max(pos, self.body_start), size):
            raise FastPathUnsupported("comment, CDATA, DOCTYPE or processing instruction")
        skeleton.feed_range(mm, pos, size)
        skeleton.close()
        gate.wait(size + 1)       # the end of the check, with the file's SHA-256
        self._finish_stats()

    def _next_host(self, pos: int, stop: int) -> int:
        mm = self.mm
        i = _find_tag(mm, b"<ReportH", b"ost", pos, stop)
        if i >= 0 and mm[i + 11] not in _HOST_TAG_FOLLOW:
            raise FastPathUnsupported("element named like ReportHost")
        return i

    def _release(self, pos: int) -> None:
        """Give mapped pages before ``pos`` back (they stay in the page cache)."""
        upto = pos - pos % mmap.PAGESIZE
        if upto > self._released and hasattr(self.mm, "madvise"):
            try:
                self.mm.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            except (OSError, ValueError, AttributeError):
                pass
            self._released = upto

    def _host(self, start: int, report, nsmap: dict[str, str], select_all: bool
              ) -> tuple[Host, list[Finding], int]:
        mm = self.mm
        reader = self.reader
        if mm.find(b">", start, start + CUT_BYTES) < 0:
            raise FastPathUnsupported("a host start tag over CUT_BYTES")
        m = _RX_HOST_START.match(mm, start)
        if m is None or b"xmlns" in m.group(1):
            raise FastPathUnsupported("host start tag")
        name = _attrs(m.group(1)).get("name") or ""
        reader.stats.hosts += 1
        if m.group(2):                                  # <ReportHost .../>
            host = make_host(name, {}, report, lambda: None, reader.stats)
            return host, [], m.end()
        end_tag = _find_tag(mm, b"</ReportH", b"ost", m.end(), min(self.size, m.end() + CUT_BYTES))
        if end_tag < 0 and self.size - m.end() > CUT_BYTES:     # a big host: pages read leave
            end_tag = find_far(mm, b"</ReportH", b"ost", m.end(), self.size)
        e = _RX_HOST_END.match(mm, end_tag) if end_tag >= 0 else None
        if e is None:
            raise FastPathUnsupported("host not closed")
        body = m.end()
        if end_tag - body > CUT_BYTES and _long_run(mm, body, end_tag):
            # a text or attribute value too long to build here: the full parser cuts it in
            # the stream (textcap) before libxml2 builds it (the pages read leave memory)
            self._release(end_tag)
            raise FastPathUnsupported("a text or attribute value over CUT_BYTES")
        if end_tag - body > 3 * MAX_ITEM_MARKUP and _markup(mm, body, end_tag) > MAX_ITEM_MARKUP:
            # an item may hold more than the full parser accepts: it decides (and refuses
            # before building such an item)
            raise FastPathUnsupported("a host with very much markup")
        props: dict[str, str] = {}
        p = _RX_PROPS.match(mm, body, end_tag)
        if p is not None:
            self._props(p, props, nsmap)
            body = p.end()
        contents: tuple = ()
        if select_all:          # every item is kept: tile the host with whole items
            tile = _RX_TILE_FULL.findall(mm, body, end_tag)
            keys: tuple | list = ()
            if tile:
                keys, contents, stray = zip(*tile)
                if any(stray):
                    raise FastPathUnsupported("unexpected markup in a host")
        elif self.strict:       # nothing but whole items, each a child of the host
            tile = _RX_TILE.findall(mm, body, end_tag)
            keys = [k for k, _ in tile]
            if any(stray for _, stray in tile):
                raise FastPathUnsupported("unexpected markup in a host")
        else:                   # only the start tags: most items are dropped unread
            keys = _RX_ITEM_START.findall(mm, body, end_tag)
            if b"" in keys:
                raise FastPathUnsupported("unexpected start tag in a host")
        info = self._info
        if keys:
            self._counts.update(keys)
            new = set(keys).difference(info)
            if new:
                self._learn(sorted(new, key=keys.index) if len(new) > 1 else new)
        if not select_all and (not keys or self._selected.isdisjoint(keys)):
            wanted: list[int] = []
        elif select_all:
            wanted = list(range(len(keys)))
        else:
            selected = self._selected
            wanted = [i for i, k in enumerate(keys) if k in selected]
        spans: list[tuple[int, int]] | None = None
        if wanted and not select_all:
            # a host with findings to hand out must hold nothing but whole items
            tiles = list(_RX_TILE_FULL.finditer(mm, body, end_tag))
            if len(tiles) != len(keys) or any(t.group(3) for t in tiles) or \
                    any(t.group(1) != _start_attrs(k) for t, k in zip(tiles, keys)):
                raise FastPathUnsupported("unexpected markup in a host")
            contents = tuple(t.group(2) or b"" for t in tiles)
            spans = [(t.start(1) - len(b"<ReportItem"), t.end()) for t in tiles]

        def spans_of() -> list[tuple[int, int]]:
            nonlocal spans
            if spans is None:
                spans = [s.span() for s in _RX_ITEM_SPAN.finditer(mm, body, end_tag)]
                if len(spans) != len(keys):
                    raise FastPathUnsupported("item boundaries")
            return spans

        def item_content(i: int) -> bytes:
            if contents:
                return contents[i]
            a, b = spans_of()[i]
            return _inner(mm[a:b])

        def item_children(i: int):
            children = _children(item_content(i), nsmap)
            if children is None:
                return None, self._lxml_item(spans_of()[i], nsmap)
            return children, None

        def scan_info() -> str | None:
            for i, key in enumerate(keys):
                if info[key][3] == "19506":
                    children, el = item_children(i)
                    if el is not None:
                        return el.findtext("plugin_output") or ""
                    tags, texts = children
                    return texts[tags.index("plugin_output")] or "" if "plugin_output" in tags else ""
            return None

        host = make_host(name, props, report, scan_info, reader.stats)
        findings: list[Finding] = []
        stats = reader.stats
        for i in wanted:
            key = keys[i]
            sev, pid, port, pid_raw, pname, role, attrs = info[key]
            children, el = item_children(i)
            if el is not None:
                finding = finding_from_element(el, host, pid, port, role, reader.keep_raw,
                                               stats)
            else:
                finding = build_finding(attrs, children[0], children[1], None, host, pid, port,
                                        role, None, stats)
            if reader.keep_raw:      # the item's bytes, verbatim, for evidence packs
                a, b = spans_of()[i]
                finding = replace(finding, raw_xml=raw_kept(bytes(self.mm[a:b])))
            if finding.compliance is not None:
                stats.compliance_items += 1
            findings.append(finding)
        stats.selected += len(findings)
        return host, findings, e.end()

    def _lxml_item(self, span: tuple[int, int], nsmap: dict[str, str]):
        """One item parsed by lxml (inside a wrapper that declares the prefixes in scope)."""
        a, b = span
        decls = "".join(f' xmlns:{k}="{_escape_attr(v)}"' for k, v in nsmap.items() if k)
        doc = b"<w" + decls.encode("utf-8") + b">" + self.mm[a:b] + b"</w>"
        wrapper = etree.fromstring(doc, _FRAGMENT_PARSER)
        return wrapper[0]

    def _props(self, m: re.Match, props: dict[str, str], nsmap: dict[str, str]) -> None:
        if b"xmlns" in m.group(1):
            raise FastPathUnsupported("namespace on HostProperties")
        content = m.group(2) or b""
        found = _RX_PROP.findall(content)
        if found:
            names, values, strays = zip(*found)
            if not any(strays):        # the usual <tag name="...">value</tag> list
                cache = _PROP_NAMES
                keys = [cache.get(n) or cache.setdefault(n, _attr_text(n)) for n in names]
                text = b"\x00".join(values).decode("utf-8")
                if "\r" in text:
                    text = text.replace("\r\n", "\n").replace("\r", "\n")
                texts = _decoded(text).split("\x00")
                if len(texts) != len(keys):
                    raise FastPathUnsupported("NUL character")
                props.update(zip(keys, map(str.strip, texts)))
                return
        for tag, attrs, text, stray in _RX_CHILD.findall(content):
            if stray or b"xmlns" in attrs:
                raise FastPathUnsupported("host properties")
            if tag != b"tag":
                if b":" in tag:
                    raise FastPathUnsupported("namespaced host property")
                continue
            key = _attrs(attrs).get("name")
            if key is not None:
                props[key] = (_text(text) or "").strip()

    def _learn(self, keys) -> None:
        """Decode the attributes of item start tags not seen before, in file order."""
        profile = self.reader.profile
        for key in keys:
            if b"xmlns" in key:
                raise FastPathUnsupported("namespace declaration on an item")
            a = _attrs(_start_attrs(key))
            sev = a.get("severity")
            pid_raw = a.get("pluginID")
            pid = to_int(pid_raw)
            port = to_int(a.get("port"))
            name = a.get("pluginName")
            role = profile.role(pid, name, a.get("pluginFamily"), port, a.get("protocol"))
            self._info[key] = (sev if sev in SEVERITIES else "other", pid, port, pid_raw,
                               name, role, a)
            if role is not None:
                self._selected.add(key)

    def _finish_stats(self) -> None:
        stats = self.reader.stats
        info = self._info
        for key, n in self._counts.items():         # in the order first seen in the file
            sev, pid, port = info[key][:3]
            if pid == ELSA_68453 and stats.elsa_68453_name is None:
                stats.elsa_68453_name = info[key][4]
            stats.items += n
            stats.severity[sev] += n
            if pid == L2TP_PLUGIN_ID or pid == ELSA_68453:
                stats.plugin_counts[pid] += n
            if port == 1701:
                stats.port_1701 += n
        stats.sha256 = self.gate.sha256 if self.gate is not None else None
        stats.size = self.size


# Every "<Report" in a host: the text of an item's start tag between the name and ">"
# (checked against _ATTRS when first seen, see _start_attrs), or b"" for anything else
# (a host or report starting inside a host: a missing end tag, an appended copy...).
_RX_ITEM_START = re.compile(rb'<Report(?:Item([ \t\r\n][^>]*)>)?')
_RX_START_ATTRS = re.compile(rb'(' + _ATTRS + rb')[ \t\r\n]*/?')


def _start_attrs(key: bytes) -> bytes:
    """The attribute text of a start tag's text as _RX_ITEM_START found it (which stops at
    the first ">", even one inside a quoted value: then this does not match)."""
    m = _RX_START_ATTRS.fullmatch(key)
    if m is None:
        raise FastPathUnsupported("item start tag")
    return m.group(1)


_RX_ITEM_SPAN = re.compile(rb'<ReportItem' + _ATTRS + rb'[ \t\r\n]*(?:/>|>' + _CONTENT
                           + rb'</ReportItem[ \t\r\n]*>)')
_RX_INNER = re.compile(rb'<ReportItem' + _ATTRS + rb'[ \t\r\n]*(?:/>|>(' + _CONTENT
                       + rb')</ReportItem[ \t\r\n]*>)')
_FRAGMENT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                   huge_tree=True, remove_comments=True, remove_pis=True)


def _long_run(mm, start: int, stop: int) -> bool:
    """Whether ``[start, stop)`` holds more than :data:`.textcap.CUT_BYTES` without markup: a
    text or attribute value over the cut. (Looked at only in a host that big: one backward
    search per CUT_BYTES, to the last ``<`` in reach: no run between it and where the search
    began can be over the cut.)"""
    pos = start
    while True:
        i = mm.rfind(b"<", pos + 1, min(stop, pos + CUT_BYTES + 2))
        if i < 0:
            return stop - pos > CUT_BYTES
        pos = i


def find_far(mm, needle: bytes, tail: bytes, pos: int, end: int) -> int:
    """:func:`_find_tag` over a long stretch of a map, handing the pages it has read back to
    the OS as it goes (they would count in this process's memory: a host of 200 MB)."""
    window = 16 << 20
    while pos < end:
        stop = min(end, pos + window + len(needle) + len(tail))
        i = _find_tag(mm, needle, tail, pos, stop)
        if i >= 0:
            return i
        drop_pages(mm, pos, min(end, pos + window))
        pos += window
    return -1


def drop_pages(mm, start: int, end: int) -> None:
    start -= start % mmap.PAGESIZE
    if end > start and hasattr(mm, "madvise"):
        try:
            mm.madvise(mmap.MADV_DONTNEED, start, end - start - (end - start) % mmap.PAGESIZE)
        except (OSError, ValueError):
            pass


def _markup(mm, start: int, end: int) -> int:
    """How many ``<`` bytes ``[start, end)`` holds (counted a megabyte at a time)."""
    return sum(mm[i:min(i + (1 << 20), end)].count(b"<") for i in range(start, end, 1 << 20))


def _inner(item: bytes) -> bytes:
    m = _RX_INNER.fullmatch(item)
    if m is None:
        raise FastPathUnsupported("item")
    return m.group(1) or b""
