"""Over-long text cut in the byte stream, before libxml2 builds it.

libxml2 holds a text node or attribute value whole while it reads it: one 200 MB
``plugin_output`` cost about 1 GB, although the record keeps only its first 1,000,000
characters (:func:`.build.capped`). :class:`TextCap` sits between a file and lxml and follows
the XML's lexical state (tags, quoted attribute values, text, comments, CDATA sections,
processing instructions, a DOCTYPE). When one run of text (the text between two element tags,
CDATA included), one attribute value, comment or processing instruction grows past
:data:`CUT_BYTES`, it passes at least :data:`KEEP_CHARS` more characters on and then drops
the rest of the run, counting the characters it drops exactly as libxml2 would have read them
(UTF-8, character and entity references, line ends). In place of what it dropped it writes a
*sentinel* that only this process can write (it holds a random number), and the record
builders (:func:`restore`) put the count back: records, truncation markers and notes are the
same as if libxml2 had read every byte.

* Nothing changes in a document without such a run: the output is its input, byte for byte.
  Runs are found with a few byte searches per megabyte.
* Cuts are made where the dropped bytes begin a character (never inside a UTF-8 sequence, a
  reference or a CR LF pair). Dropped bytes are checked as libxml2 checks them (valid UTF-8,
  characters XML allows, references, ``]]>`` in text, ``--`` in comments, ``<`` in attribute
  values); at anything it would refuse the filter stops cutting and passes that and the rest
  of the document on as it is, so libxml2 refuses the document as before.
* Only UTF-8 (and ASCII) documents are cut; others pass as they are.
* A run past :data:`CUT_BYTES` makes an item's XML bigger than :data:`MAX_RAW_XML_BYTES`,
  which is never kept for evidence anyway, so ``raw_xml`` is the same too.
* Line numbers libxml2 reports after a cut are those of the filtered stream:
  :meth:`TextCap.original_line` maps them back.
"""
from __future__ import annotations

import io
import os
import re
from typing import BinaryIO

#: A run longer than this many bytes is cut: an item holding it is over
#: ``build.MAX_RAW_XML_BYTES`` (4,000,000), whose XML is not kept anyway.
CUT_BYTES = 4_000_000 + (64 << 10)
#: Characters passed on after CUT_BYTES before dropping: more than any cap keeps
#: (``build.MAX_OUTPUT_CHARS``, 1,000,000), so every capped value has its full share.
KEEP_CHARS = 1_000_001
#: Bytes handled at a time.
CHUNK = 1 << 20

_TEXT, _TAG, _DQ, _SQ, _COMMENT, _CDATA, _PI, _DOCTYPE = range(8)
# per run: 0 passed on (bytes counted), 1 passed on (characters counted), 2 dropped
_PASS, _COUNT, _DROP = 0, 1, 2

# -- sentinels ---------------------------------------------------------------------------------
_NONCE = int.from_bytes(os.urandom(8), "big")
_BITS = 64 + 48 + 48            # nonce, characters dropped, white space at their end
#: In text: white space only (a run outside the root element may only be white space); it
#: begins with a tab, so a CR kept before it never makes a CR LF with it.
_RX_TEXT_SENTINEL = re.compile(f"\t\n([ \t]{{{_BITS}}})\n?")
#: In attribute values (libxml2 turns white space there into spaces).
_RX_ATTR_SENTINEL = re.compile("\ufdd0([0-9a-f]{16}):([0-9]+)\ufdd1 ?")


def _text_sentinel(dropped: int, trailing: int) -> bytes:
    value = (_NONCE << 96) | (dropped << 48) | trailing
    bits = format(value, f"0{_BITS}b").translate(str.maketrans("01", " \t"))
    return ("\t\n" + bits + "\n").encode("ascii")


def _attr_sentinel(dropped: int) -> bytes:
    return f"\ufdd0{_NONCE:016x}:{dropped}\ufdd1\n".encode("utf-8")


def _sentinels(text: str) -> list[tuple[int, int, int, int]]:
    """``(start, end, dropped, trailing)`` of each sentinel this process wrote in ``text``."""
    found = []
    if "\ufdd0" in text:
        for m in _RX_ATTR_SENTINEL.finditer(text):
            if int(m.group(1), 16) == _NONCE:
                found.append((m.start(), m.end(), int(m.group(2)), 0))
    for m in _RX_TEXT_SENTINEL.finditer(text):
        value = int(m.group(1).translate(str.maketrans(" \t", "01")), 2)
        if value >> 96 == _NONCE:
            found.append((m.start(), m.end(), (value >> 48) & ((1 << 48) - 1),
                          value & ((1 << 48) - 1)))
    return sorted(found)


def was_cut(text: str) -> bool:
    """Whether :class:`TextCap` dropped part of ``text``."""
    return len(text) > KEEP_CHARS and bool(_sentinels(text))


def restore(text: str) -> tuple[str, int]:
    """``text`` without the sentinels :class:`TextCap` wrote into it, and the length the
    document's text had (the characters seen plus those dropped)."""
    found = _sentinels(text)
    if not found:
        return text, len(text)
    parts, at, dropped = [], 0, 0
    for start, end, n, _trailing in found:
        parts.append(text[at:start])
        at = end
        dropped += n
    parts.append(text[at:])
    clean = "".join(parts)
    return clean, len(clean) + dropped


def stripped(text: str) -> str:
    """``text.strip()`` as it would be for the text the document holds: a text the stream
    cut keeps a sentinel for what is left after stripping (see :func:`restore`)."""
    if len(text) <= KEEP_CHARS:
        return text.strip()
    found = _sentinels(text)
    if not found:
        return text.strip()
    start, end, n, trailing = found[-1]
    if text[end:].strip():          # more text after the cut (it was not at the run's end)
        return text.strip()
    kept = text[:start]
    if n == trailing:               # the dropped part was white space: gone with strip()
        return kept.strip()
    return kept.lstrip() + _text_sentinel(n - trailing, 0).decode("ascii")


# -- checking and counting dropped bytes ---------------------------------------------------------
class Defect(Exception):
    """Bytes that libxml2 would refuse: the filter stops and lets libxml2 say so."""


_RX_REF = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));")
#: Every byte but the control characters XML forbids (deleting these from valid UTF-8 leaves
#: exactly the forbidden ones: a byte under 0x80 is always a character of its own).
_ALLOWED_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A, 0x0D))
_K_TEXT, _K_ATTR, _K_CDATA, _K_COMMENT, _K_PI = range(5)


def _ref_char(m: re.Match) -> str:
    hex_, dec, named = m.groups()
    if named:
        return {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}[named]
    code = int(hex_, 16) if hex_ else int(dec)
    if code < 0x20 and code not in (9, 10, 13) or 0xD800 <= code <= 0xDFFF or \
            code in (0xFFFE, 0xFFFF) or code > 0x10FFFF:
        raise Defect("reference to a character XML forbids")
    return chr(code)


def _characters(data: bytes, kind: int) -> str:
    """The characters libxml2 reads from ``data`` (which begins and ends on a character
    boundary) in a context of ``kind``; :class:`Defect` where it would refuse them."""
    # (a one-byte search first: memchr is a hundred times faster than a substring search)
    if kind == _K_TEXT and b"]" in data and b"]]>" in data or kind == _K_ATTR and b"<" in data \
            or kind == _K_COMMENT and b"-" in data and b"--" in data:
        raise Defect("markup libxml2 refuses here")
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Defect("not UTF-8") from None
    # (the characters XML forbids, looked for in the bytes: ten times faster than a regex)
    if data.translate(None, _ALLOWED_BYTES) or \
            not data.isascii() and ("\ufffe" in s or "\uffff" in s):
        raise Defect("a character XML forbids")
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if kind in (_K_TEXT, _K_ATTR) and "&" in s:
        s = _references(s)
    return s


_RX_NUMERIC_REF = re.compile(r"&#(?:x[0-9a-fA-F]+|[0-9]+);")
_NAMED_REFS = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"))


def _references(s: str) -> str:
    """``s`` with its references replaced, as ``_RX_REF.sub(_ref_char, s)``; :class:`Defect`
    when an ``&`` begins none that libxml2 accepts. Replaced a kind at a time (no call per
    reference), ``&amp;`` last: a reference holds one ``&``, its first character, so none
    overlap, and no replacement before the last makes an ``&``."""
    numeric = _RX_NUMERIC_REF.findall(s) if "&#" in s else []
    if len(numeric) + sum(s.count(ref) for ref, _c in (*_NAMED_REFS, ("&amp;", "&"))) \
            != s.count("&"):
        raise Defect("a reference libxml2 refuses or does not know")
    chars = {}
    for ref in set(numeric):
        m = _RX_REF.fullmatch(ref)
        assert m is not None
        chars[ref] = _ref_char(m)               # (Defect: a character XML forbids)
    if "&" in chars.values():                   # (it might make a reference with what follows)
        return _RX_REF.sub(_ref_char, s)
    for ref, char in (*chars.items(), *_NAMED_REFS, ("&amp;", "&")):
        if ref in s:
            s = s.replace(ref, char)
    return s


def _split(buf: bytes, lo: int, refs: bool) -> int:
    """Where to stop in ``buf`` (from ``lo``, inside a run) so that what follows begins a
    character: not inside a UTF-8 sequence or a reference, not after a CR (it may begin a
    CR LF), nor after ``]``, ``-`` or ``?`` (which may begin ``]]>``, ``--`` or ``?>``)."""
    s = len(buf)
    i = s - 1                           # a UTF-8 sequence cut short
    while i >= lo and i >= s - 4 and 0x80 <= buf[i] < 0xC0:
        i -= 1
    if i >= lo and buf[i] >= 0xC0 and s - i < (2 if buf[i] < 0xE0 else 3 if buf[i] < 0xF0 else 4):
        s = i
    k = 0
    while k < 2 and s > lo and buf[s - 1] in b"\r]-?":
        s -= 1
        k += 1
    if refs:
        a = buf.rfind(b"&", max(lo, s - 40), s)
        if a >= 0 and buf.find(b";", a, s) < 0:
            s = a
    return s


class TextCap:
    """Push filter: ``feed(bytes) -> bytes`` as many times as needed, then ``close()``.

    ``cut_bytes``/``keep_chars``: see :data:`CUT_BYTES`, :data:`KEEP_CHARS` (tests use small
    ones)."""

    def __init__(self, cut_bytes: int = CUT_BYTES, keep_chars: int = KEEP_CHARS) -> None:
        self.cut_bytes = cut_bytes
        self.keep_chars = keep_chars
        #: Per cut: (the filtered stream's line after it, lines it removed).
        self.cuts: list[tuple[int | None, int]] = []
        self._carry = b""
        self._started = False        # the encoding was looked at
        self._off = False            # passing everything on as it is
        self._state = _TEXT
        self._hold = False           # the rest of the buffer waits for the next one
        # the text run (between two element tags, CDATA content included)
        self._run = 0
        self._phase = _PASS
        self._count = 0              # characters counted (_COUNT) or dropped (_DROP)
        self._trailing = 0           # white space at the end of what was dropped
        self._lines_dropped = 0
        self._cdata_open = False     # a CDATA section passed on whose end was dropped
        self._tail = b""             # the last two bytes dropped (of the run; of the inner one)
        self._itail = b""
        # the attribute value, comment or processing instruction being read
        self._inner = 0
        self._iphase = _PASS
        self._icount = 0
        self._ilines_dropped = 0
        self._can_cut = True         # (a processing instruction: once its target has ended)
        self._quote = b'"'
        self._dt_quote = b""         # DOCTYPE: the quote it is inside, b"" if none
        self._dt_in = b""            # DOCTYPE: the end of the comment or PI it is inside
        self._dt_subset = False
        self._nl_base: int | None = 0   # newlines in the input before the buffer (None: unknown)
        self._net = 0                # newlines the cuts so far added (sentinels) less removed
        self._nl_carry: int | None = None
        self._rooted = False         # the root element has started
        self._root_end = b"</"       # its end tag's beginning
        self._after_root = False     # it (may have) ended
        self._out: list[bytes] = []
        self._emit = 0               # where passing on resumes in the buffer; -1: dropping

    # -- public ----------------------------------------------------------------------------------
    def feed(self, data: bytes, newlines: int | None = None) -> bytes:
        """The bytes to pass on for ``data``. ``newlines``: how many newlines the input held
        before ``data`` (what :meth:`original_line` needs; without it, lines are not mapped)."""
        if self._off:
            data, self._carry = self._carry + data, b""
            return data
        if not self._started:
            if newlines is not None and not self._carry:
                self._nl_base = newlines
            head = self._carry + data
            utf8 = _utf8(head)
            if utf8 is None:                # the XML declaration is not complete yet
                self._carry = head
                return b""
            data, self._carry = head, b""
            newlines = self._nl_base if newlines is not None else None
            self._started = True
            if not utf8:
                self._off = True
                return data
        if len(data) > CHUNK:
            out = []
            for i in range(0, len(data), CHUNK):
                out.append(self.feed(data[i:i + CHUNK], newlines))
                if newlines is not None:
                    newlines += data.count(b"\n", i, i + CHUNK)
            return b"".join(out)
        if self._carry:
            buf = self._carry + data
            if newlines is not None:
                newlines -= self._carry.count(b"\n")
        else:
            buf = data
        self._nl_base = newlines
        self._carry = b""
        self._buffer(buf)
        pieces = self._out
        self._out = []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> bytes:
        """What is left. (A document that ends inside a run is passed on as it is from where
        dropping began: libxml2 finds it truncated.)"""
        buf, self._carry = self._carry, b""
        if self._started and not self._off and self._emit < 0:
            self._nl_base = self._nl_carry
            self._stop(buf, 0)
        else:
            self._pass(buf)
        self._off = True
        out = self._out
        self._out = []
        return b"".join(out)

    def original_line(self, line: int) -> int:
        """The document's line for a line libxml2 reported in the filtered stream."""
        return line + sum(removed for after, removed in self.cuts
                          if after is not None and line > after)

    # -- passing on ------------------------------------------------------------------------------
    def _pass(self, piece: bytes) -> None:
        if piece:
            self._out.append(piece)

    def _drop_from(self, buf: bytes, at: int) -> None:
        if self._emit >= 0:
            self._pass(buf[self._emit:at])
        self._emit = -1

    def _resume(self, buf: bytes, at: int, sentinel: bytes, lines_dropped: int) -> None:
        """Pass on again from ``buf[at]``, after ``sentinel`` for what was dropped."""
        self._pass(sentinel)
        self._net += sentinel.count(b"\n") - lines_dropped
        # the line the filtered stream is on after it (None: the input's lines are unknown)
        after = None if self._nl_base is None else \
            self._nl_base + buf.count(b"\n", 0, at) + self._net
        self.cuts.append((after, lines_dropped - sentinel.count(b"\n")))
        self._emit = at

    def _stop(self, buf: bytes, at: int, prefix: bytes = b"") -> None:
        """Something libxml2 refuses in ``buf[at:]`` (``prefix``: the bytes dropped just
        before that it needs to see it): what was dropped is accounted for and everything
        from there on is passed on as it is (libxml2 then says what is wrong)."""
        if self._emit >= 0:
            self._pass(buf[self._emit:])
        else:
            if self._iphase == _DROP:
                if self._state in (_DQ, _SQ):
                    self._resume(buf, at, _attr_sentinel(self._icount), self._ilines_dropped)
                else:
                    self._resume(buf, at, b"\n", self._ilines_dropped)
            if self._phase == _DROP and self._state in (_TEXT, _CDATA):
                self._resume(buf, at, _text_sentinel(self._count, self._trailing),
                             self._lines_dropped)
                if self._state == _CDATA and not self._cdata_open:
                    self._pass(b"<![CDATA[")
            self._pass(prefix)
            self._pass(buf[at:])
        self._emit = len(buf)
        self._off = True

    # -- the lexical state -----------------------------------------------------------------------
    def _buffer(self, buf: bytes) -> None:
        n = len(buf)
        p = 0
        self._hold = False
        self._emit = 0 if self._emit >= 0 else -1
        try:
            while p < n and not self._hold:
                st = self._state
                if st == _TEXT or st == _CDATA:
                    p = self._text(buf, p)
                elif st == _TAG:
                    m = _RX_TAGSTOP.search(buf, p)
                    if m is None:
                        p = n
                    elif buf[m.start()] == 0x3E:            # '>'
                        self._state, self._run, p = _TEXT, 0, m.end()
                    else:
                        self._state = _DQ if buf[m.start()] == 0x22 else _SQ
                        self._quote = buf[m.start():m.end()]
                        self._inner, self._iphase, p = 0, _PASS, m.end()
                        self._can_cut = True
                elif st == _DOCTYPE:
                    p = self._doctype(buf, p)
                else:
                    p = self._inner_run(buf, p)
        except Defect:
            return
        self._carry = buf[p:]
        if self._emit >= 0:
            self._pass(buf[self._emit:p])
            self._emit = 0
        elif self._nl_base is not None:      # (dropping: the lines before what is held)
            self._nl_carry = self._nl_base + buf.count(b"\n", 0, p)

    def _text(self, buf: bytes, p: int) -> int:
        """Text (or CDATA content) from ``p``; returns where to go on."""
        n = len(buf)
        cdata = self._state == _CDATA
        j = buf.find(b"]]>" if cdata else b"<", p)
        if j < 0:                                   # the run goes on past this buffer
            s = _split(buf, p, not cdata)
            self._segment(buf, p, s, cdata)
            if self._phase == _PASS:
                if self._run > self.cut_bytes:
                    self._phase, self._count = _COUNT, 0
            elif self._phase == _COUNT and self._count >= self.keep_chars:
                self._phase, self._count, self._trailing = _DROP, 0, 0
                self._lines_dropped = 0
                self._cdata_open = cdata
                self._tail = b"" if cdata else buf[max(0, s - 2):s]
                self._drop_from(buf, s)
            self._hold = True
            return s
        self._segment(buf, p, j, cdata)
        if cdata:
            self._state = _TEXT
            self._tail = b""                        # (']]>' ended the section: not text)
            if self._phase == _DROP and self._cdata_open:
                self._pass(b"]]>")                  # the section passed on ends
                self._cdata_open = False
            return j + 3
        # '<': what follows decides
        if j + 9 > n and (j + 1 == n or buf[j + 1] == 0x21):     # '<!' cut short
            self._hold = True
            return j
        nxt = buf[j + 1]
        if nxt == 0x21:                             # '!'
            if buf.startswith(b"<!--", j):
                self._open_inner(j, _COMMENT)
                return j + 4
            if buf.startswith(b"<![CDATA[", j):
                if self._phase == _DROP and self._outside():
                    self._stop(buf, j)              # CDATA outside the root: refused
                    raise Defect("CDATA outside the root element")
                self._state = _CDATA
                return j + 9
            if buf.startswith(b"<!DOCTYPE", j) and self._phase != _DROP:
                self._state = _DOCTYPE
                self._dt_quote, self._dt_in, self._dt_subset = b"", b"", False
                return j + 9
            self._stop(buf, j)                      # markup libxml2 refuses
            raise Defect("markup")
        if nxt == 0x3F:                             # '?'
            self._open_inner(j, _PI)
            m = _RX_PI_TARGET_END.search(buf, j + 2)
            self._can_cut = m is not None
            return j + 2
        # an element's tag: the run ends
        if not self._after_root:            # (its name may go on in the next buffer)
            m = None if self._rooted else _RX_NAME.match(buf, j + 1)
            if n - j <= len(self._root_end) or m is not None and m.end() == n:
                self._hold = True
                return j
        if self._phase == _DROP:
            self._resume(buf, j, _text_sentinel(self._count, self._trailing), self._lines_dropped)
        self._phase, self._run, self._count = _PASS, 0, 0
        self._state = _TAG
        self._root_tag(buf, j)
        # no comment, CDATA, DOCTYPE or PI before the last '<' of the buffer: every '<' up to
        # it starts a tag, and every run in between is shorter than the buffer
        last = buf.rfind(b"<")
        if last > j and not _declaration(buf, j, last):
            # (the root's end tag can only be the last tag here: after it, only comments, PIs
            # and white space may come; an element after it is refused by libxml2 anyway)
            self._state = _TEXT
            return last
        return j + 1

    def _root_tag(self, buf: bytes, j: int) -> None:
        """Follow whether text runs are outside the root element (where only white space may
        be: nothing else is dropped there). Errs on the side of outside: the first tag that
        may end an element named like the root counts as its end."""
        if self._after_root:
            return
        if not self._rooted:
            if buf[j + 1:j + 2] != b"/":
                m = _RX_NAME.match(buf, j + 1)
                if m is None:                   # (not well-formed: libxml2 says so)
                    self._after_root = True
                else:
                    self._rooted = True
                    self._root_end = b"</" + m.group()
            return
        end = self._root_end
        nxt = buf[j + len(end):j + len(end) + 1]
        if buf.startswith(end[:len(buf) - j], j) and (not nxt or nxt[0] not in _NAME_BYTES):
            self._after_root = True

    def _outside(self) -> bool:
        """Whether the text run is (or may be) outside the root element."""
        return not self._rooted or self._after_root

    def _segment(self, buf: bytes, a: int, b: int, cdata: bool) -> None:
        """Bytes ``buf[a:b]`` of the text run (ending on a character boundary)."""
        self._run += b - a
        phase = self._phase
        if phase == _PASS or b <= a:
            return
        data = buf[a:b]
        if phase == _DROP and not cdata:
            # what libxml2 refuses may straddle two pieces: ']]>' in text
            if b"]]>" in self._tail + data[:2]:
                self._stop(buf, a, self._tail)
                raise Defect("']]>' in text")
            self._tail = (self._tail + data[-2:])[-2:]
        try:
            if phase == _DROP and not cdata and self._outside() and data.strip(b" \t\r\n"):
                raise Defect("text outside the root element")
            chars = _characters(data, _K_CDATA if cdata else _K_TEXT)
        except Defect:
            self._stop(buf, a)
            raise
        self._count += len(chars)
        if phase == _DROP:
            self._lines_dropped += buf.count(b"\n", a, b)
            r = len(chars) - len(chars.rstrip())
            self._trailing = self._trailing + r if r == len(chars) else r

    def _open_inner(self, j: int, state: int) -> None:
        """A comment or processing instruction starts at ``j`` (passed on, even while the
        text run around it is dropped: libxml2 checks it and leaves it out)."""
        if self._phase == _DROP:
            self._emit = j
        self._state = state
        self._inner, self._iphase, self._icount = 0, _PASS, 0
        self._can_cut = True

    def _inner_run(self, buf: bytes, p: int) -> int:
        """An attribute value, comment or processing instruction from ``p``."""
        st = self._state
        term = self._quote if st in (_DQ, _SQ) else b"-->" if st == _COMMENT else b"?>"
        kind = _K_ATTR if st in (_DQ, _SQ) else _K_COMMENT if st == _COMMENT else _K_PI
        j = buf.find(term, p)
        if j < 0:
            s = _split(buf, p, kind == _K_ATTR)
            self._inner_segment(buf, p, s, kind)
            if self._iphase == _PASS and self._inner > self.cut_bytes and self._can_cut:
                if kind == _K_ATTR:
                    self._iphase, self._icount = _COUNT, 0
                else:
                    self._start_inner_drop(buf, s)
            elif self._iphase == _COUNT and self._icount >= self.keep_chars:
                self._start_inner_drop(buf, s)
            self._hold = True
            return s
        self._inner_segment(buf, p, j, kind)
        if self._iphase == _DROP:
            if kind == _K_COMMENT and (buf[j - 1] == 0x2D if j > p else
                                       self._itail.endswith(b"-")):     # '--->'
                self._stop(buf, p)
                raise Defect("comment ending in '-'")
            self._resume(buf, j, _attr_sentinel(self._icount) if kind == _K_ATTR else b"\n",
                         self._ilines_dropped)
        self._iphase = _PASS
        if kind == _K_ATTR:
            self._state = _TAG
            return j + 1
        self._state = _TEXT
        end = j + len(term)
        if self._phase == _DROP:                    # back to dropping the text around it
            self._drop_from(buf, end)
        return end

    def _start_inner_drop(self, buf: bytes, at: int) -> None:
        self._iphase, self._icount, self._ilines_dropped = _DROP, 0, 0
        self._itail = buf[max(0, at - 2):at]
        self._drop_from(buf, at)

    def _inner_segment(self, buf: bytes, a: int, b: int, kind: int) -> None:
        self._inner += b - a
        if self._iphase == _PASS or b <= a:
            return
        data = buf[a:b]
        if self._iphase == _DROP:
            # what libxml2 refuses may straddle two pieces: '--' in a comment
            if kind == _K_COMMENT and self._itail.endswith(b"-") and data[:1] == b"-":
                self._stop(buf, a, b"-")
                raise Defect("'--' in a comment")
            self._itail = (self._itail + data[-2:])[-2:]
        try:
            chars = _characters(data, kind)
        except Defect:
            self._stop(buf, a)
            raise
        self._icount += len(chars)
        if self._iphase == _DROP:
            self._ilines_dropped += buf.count(b"\n", a, b)

    def _doctype(self, buf: bytes, p: int) -> int:
        """Inside a DOCTYPE (never cut): only its end is looked for."""
        n = len(buf)
        while p < n:
            if self._dt_quote or self._dt_in:
                end = self._dt_quote or self._dt_in
                j = buf.find(end, p)
                if j < 0:
                    self._hold = True
                    return max(p, n - len(end) + 1)
                self._dt_quote = self._dt_in = b""
                p = j + len(end)
                continue
            m = _RX_DOCTYPE.search(buf, p)
            if m is None:
                self._hold = True
                return max(p, n - 3)
            tok = m.group()
            p = m.end()
            if tok in (b'"', b"'"):
                self._dt_quote = tok
            elif tok == b"<!--":
                self._dt_in = b"-->"
            elif tok == b"<?":
                self._dt_in = b"?>"
            elif tok == b"[":
                self._dt_subset = True
            elif tok == b"]":
                self._dt_subset = False
            elif not self._dt_subset:                    # '>': the end
                self._state, self._run = _TEXT, 0
                return p
        return p


_RX_NAME = re.compile(rb"[^ \t\r\n/>]+")
#: Bytes that may go on an element name (anything but what ends one).
_NAME_BYTES = frozenset(range(256)) - frozenset(b" \t\r\n/>")


def _declaration(buf: bytes, a: int, b: int) -> bool:
    """Whether ``<!`` or ``<?`` starts in ``buf[a:b]``. (``!`` and ``?`` are rare in exports:
    searching for them runs at memory speed, ``<`` is everywhere.)"""
    for mark in (b"!", b"?"):
        i = buf.find(mark, a + 1, b + 1)
        while i >= 0:
            if buf[i - 1] == 0x3C:
                return True
            i = buf.find(mark, i + 1, b + 1)
    return False


_RX_DOCTYPE = re.compile(rb"[\"'\[\]>]|<!--|<\?")
_RX_PI_TARGET_END = re.compile(rb"[ \t\r\n]|\?>")


_RX_TAGSTOP = re.compile(rb"[\"'>]")


def _utf8(head: bytes) -> bool | None:
    """Whether a document beginning with ``head`` is UTF-8 (or ASCII) as far as its first
    bytes and XML declaration say; None when more bytes are needed to tell."""
    if len(head) < 4:
        return None
    if head.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00", b"\x4c\x6f\xa7\x94")) or \
            head[1:2] == b"\x00":
        return False
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.startswith(b"<?xml"[:len(head)]):
        return True
    end = head.find(b"?>")
    if end < 0:
        return None if len(head) < 512 else False
    m = re.search(rb"encoding[ \t\r\n]*=[ \t\r\n]*[\"']([A-Za-z0-9._-]*)[\"']", head[:end])
    return m is None or m.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


class CappedStream(io.RawIOBase):
    """A read-only stream of ``raw`` through :class:`TextCap` (``.cap``)."""

    def __init__(self, raw: BinaryIO | io.RawIOBase, cap: TextCap | None = None) -> None:
        self._raw = raw
        self.cap = cap or TextCap()
        self._pending = b""
        self._eof = False
        self.name = getattr(raw, "name", "<stream>")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        want = len(b)
        while not self._pending and not self._eof:
            lines = getattr(self._raw, "lines", None)      # (HashingReader counts them)
            data = self._raw.read(CHUNK)
            if not data:
                self._eof = True
                self._pending = self.cap.close()
            else:
                self._pending = self.cap.feed(data, None if lines is None else lines - 1)
        n = min(want, len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()
