"""Reading one big ``.nessus`` file on every core.

The file is cut at ``ReportHost`` boundaries into pieces; worker processes read each piece
(from their own map of the file: the file's prolog, policy and report start, then the
piece's hosts) with the fast path, or with the streaming parser for profile ``all`` and
``strict``; the main process hashes the whole file meanwhile (when the caller wants the
SHA-256) and hands the hosts out in file order, or, through :func:`iter_encoded`, what the
workers made of them (output bytes: records themselves cost more to send between processes
than to make). Results, statistics and errors are the same as
:class:`~ingest.nessus.NessusReader`'s with the same options: whenever a piece cannot be
read that way (a broken file, several reports, markup the fast path does not handle, a
worker that dies) the ordinary reader takes over, skipping the hosts already handed out.

Readers are chosen by :func:`vulnpipe.ingest.nessus.readers.open_reader`, which returns a
:class:`ParallelReader` only where that pays off (plain files of at least
:data:`MIN_PARALLEL_BYTES`, a filtering profile or encoded output, not strict, more than
one core, ``fork`` available); :mod:`.files` reads many small files at once.
"""
from __future__ import annotations

import gc
import io
import mmap
import multiprocessing
import os
import re
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, cast

from lxml import etree

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.ingest.nessus.build import CLOSING_TAGS, ParseStats
from vulnpipe.ingest.nessus.children import die_with_parent
from vulnpipe.ingest.nessus.fastpath import (
    FastFile,
    FastPathUnsupported,
    FileDigest,
    body_start,
    drop_pages,
    find_far,
)
from vulnpipe.ingest.nessus.reader import NessusReader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import ALL, Profile
from vulnpipe.ingest.records import Finding, Host, Policy, Report

#: Plain files at least this big are read by several processes.
MIN_PARALLEL_BYTES = 50 << 20
#: :func:`open_reader` splits files only with at least this many cores.
MIN_WORKERS = 2
#: Pieces are about a quarter of a worker's share of the file, within these bounds (each
#: piece re-reads the file's head: prolog, policy, report start).
PIECE_BYTES = (8 << 20, 64 << 20)
#: With profile ``all`` (every item kept, encoded output held until written) pieces are
#: smaller, so the pieces in flight stay small.
PIECE_BYTES_ALL = (2 << 20, 8 << 20)
_RX_TAIL = re.compile(rb"[ \t\r\n]*</Report[ \t\r\n]*>[ \t\r\n]*"
                      rb"</NessusClientData_v2[ \t\r\n]*>[ \t\r\n]*")


def plain_size(source: Source) -> int | None:
    """The size of a plain file read as it is; None for an archive member, a compressed
    file (whose content may be many times its size) or anything else."""
    try:
        if source.name == source.path.name and source.path.is_file() and \
                not source.path.name.lower().endswith(".gz"):
            return source.path.stat().st_size
    except OSError:
        pass
    return None


def min_parallel_bytes() -> int:
    """:data:`MIN_PARALLEL_BYTES`, or the environment's ``VULNPIPE_PARALLEL_MIN_BYTES``
    (tests and tuning; a very large value keeps every file in one process)."""
    try:
        return int(os.environ.get("VULNPIPE_PARALLEL_MIN_BYTES", MIN_PARALLEL_BYTES))
    except ValueError:
        return MIN_PARALLEL_BYTES


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: Per worker process: item start tags decoded so far, per reading (see FastFile's learned).
_LEARNED: dict[str, tuple[dict, set]] = {}

#: ``encode(pairs) -> (bytes, findings)``: turns ``(Host, [Finding])`` pairs into output
#: bytes in a worker (see :meth:`ParallelReader.encoded`); a module-level function or a
#: ``functools.partial`` of one, as it is sent to the worker processes.
Encoder = Callable[[Iterable[tuple[Host, list[Finding]]]], tuple[bytes, int]]


def _piece(token: str, path: str, name: str, profile: Profile, strict: bool, keep_raw: bool,
           head: int, start: int, end: int, encode: Encoder | None = None):
    """Worker: read hosts ``[start, end)`` of the file as a document of their own.

    Returns ``(hosts, n_hosts, stats, reports, policy)``, where ``hosts`` is the list of
    ``(Host, [Finding])`` pairs, or ``(bytes, findings)`` when ``encode`` is given; None
    when the piece cannot be read this way (the ordinary reader then decides)."""
    gc.disable()
    try:
        return _read_range(token, path, name, profile, strict, keep_raw, head, start, end,
                           encode)
    except (FastPathUnsupported, VulnpipeError, etree.LxmlError, OSError, ValueError,
            LookupError, UnicodeError, OverflowError):
        return None            # a piece this way cannot read: the ordinary reader decides
    finally:
        gc.enable()


def _read_range(token: str, path: str, name: str, profile: Profile, strict: bool,
                keep_raw: bool, head: int, start: int, end: int, encode: Encoder | None):
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if strict or profile.select_all:
            # libxml2 reads the piece as a document of its own (strict: it checks every
            # byte; 'all': the streaming parser is the faster reader when every item is kept)
            if _several_reports(mm, start, end):
                return None                               # several reports: not split
            if not strict:
                # the piece as a stream (never a copy: a piece may hold a 200 MB text, which
                # the reader cuts before libxml2 builds it)
                if body_start(mm) is None:
                    return None
                source = Source(name=name, path=Path(path),
                                opener=lambda: cast(BinaryIO, _Joined(
                                    mm, ((0, head), (start, end)), CLOSING_TAGS)))
                reader = NessusReader(source, profile, keep_raw=keep_raw, fast=False,
                                      digest=False)
                return _collect(reader, reader.hosts(), encode)
            doc = mm[:head] + mm[start:end] + CLOSING_TAGS
            body = body_start(doc)
            if body is None:
                return None
            source = Source(name=name, path=Path(path), opener=lambda: io.BytesIO(doc))
            reader = NessusReader(source, profile, strict=strict, keep_raw=keep_raw,
                                  fast=False, digest=False)
            fast = FastFile(reader, None, doc, len(doc), body, strict=True,
                            in_process_check=True)
        else:
            body = body_start(mm[:head])
            if body is None:
                return None
            # (several reports: markup between hosts, which a piece refuses)
            reader = NessusReader(Source(name=name, path=Path(path),
                                         opener=lambda: open(path, "rb")),
                                  profile, keep_raw=keep_raw)
            learned = _LEARNED.setdefault(token, ({}, set()))
            fast = FastFile(reader, None, mm, len(mm), body, digest=False,
                            piece=(head, start, end), learned=learned)
        with fast:
            return _collect(reader, fast.hosts(), encode)


#: What may begin a Report's start or end tag.
_RX_REPORT_START = re.compile(rb"</?Report[ \t\r\n>/]")


def _several_reports(mm, start: int, end: int) -> bool:
    """Whether a ``Report`` may start or end in ``[start, end)`` (searched 16 MB at a time,
    the pages read handed back)."""
    window = 16 << 20
    for a in range(start, end, window):
        b = min(end, a + window)
        if _RX_REPORT_START.search(mm, a, min(end, b + 9)):
            return True
        if end - start > window:
            drop_pages(mm, a, b)
    return False


class _Joined(io.RawIOBase):
    """Byte ranges of a map, then ``tail``, read as one stream (a piece of a file read as a
    document of its own: the file's head, the piece's hosts, closing tags)."""

    def __init__(self, mm, ranges, tail: bytes) -> None:
        self._mm = mm
        self._ranges = list(ranges)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._ranges and self._ranges[0][0] >= self._ranges[0][1]:
            self._ranges.pop(0)
        if self._ranges:
            a, z = self._ranges[0]
            n = min(len(b), z - a)
            b[:n] = self._mm[a:a + n]
            self._ranges[0] = (a + n, z)
            if len(self._ranges) == 1:        # the piece's pages read leave memory
                drop_pages(self._mm, a, a + n)
            return n
        n = min(len(b), len(self._tail))
        b[:n] = self._tail[:n]
        self._tail = self._tail[n:]
        return n


def _collect(reader: NessusReader, pairs, encode: Encoder | None):
    if encode is None:
        hosts = list(pairs)
        return hosts, len(hosts), reader.stats, reader.reports, reader.policy
    counted = _Counted(pairs)
    data = encode(counted)
    return data, counted.count, reader.stats, reader.reports, reader.policy


class _Counted:
    """Iterates over ``pairs``, counting them."""

    def __init__(self, pairs) -> None:
        self._pairs = pairs
        self.count = 0

    def __iter__(self):
        for pair in self._pairs:
            self.count += 1
            yield pair


class ParallelReader:
    """Reads one plain file with several processes; same interface as ``NessusReader``."""

    def __init__(self, source: Source, profile: Profile = ALL, *, workers: int | None = None,
                 strict: bool = False, keep_raw: bool = False, digest: bool = True) -> None:
        self.source = source
        self.profile = profile
        self.strict = strict
        self.keep_raw = keep_raw
        self.digest = digest
        self.workers = workers or os.cpu_count() or 1
        self.reports: list[Report] = []
        self.policy: Policy | None = None
        self.stats = ParseStats()
        self.path_used: str | None = None

    read_all = NessusReader.read_all      # the same collecting loop over self.hosts()

    def hosts(self) -> Iterator[tuple[Host, list[Finding]]]:
        done = 0
        try:
            for hosts, _count in self._parallel(None):
                for pair in hosts:
                    done += 1
                    yield pair
            return
        except FastPathUnsupported:
            pass
        yield from self._ordinary(done)

    def encoded(self, encode: Encoder) -> Iterator[tuple[bytes, int]]:
        """The selected findings as output bytes, made by ``encode`` in the worker processes
        (see :data:`Encoder`): ``(bytes, findings)`` pieces in file order. Only bytes cross
        between processes, which is what makes profile ``all`` worth splitting."""
        done = 0
        try:
            for (data, findings), count in self._parallel(encode):
                done += count
                yield data, findings
            return
        except FastPathUnsupported:
            pass
        yield from encode_in_batches(self._ordinary(done), encode)

    def _ordinary(self, done: int) -> Iterator[tuple[Host, list[Finding]]]:
        """The ordinary reader's hosts after the first ``done`` (already handed out)."""
        reader = NessusReader(self.source, self.profile, strict=self.strict,
                              keep_raw=self.keep_raw, digest=self.digest)
        for index, pair in enumerate(reader.hosts()):
            if index >= done:
                yield pair
        self.reports, self.policy, self.stats = reader.reports, reader.policy, reader.stats
        self.path_used = "parallel+" + (reader.path_used or "full")

    def _cuts(self, mm, size: int) -> tuple[int, list[tuple[int, int]], int] | None:
        first = mm.find(b"<ReportHost")
        last = mm.rfind(b"</ReportHost>")
        if first < 0 or last < 0 or not _RX_TAIL.fullmatch(mm, last + 13, size):
            return None
        end = last + 13
        low, high = PIECE_BYTES_ALL if self.profile.select_all else PIECE_BYTES
        # every piece reads the head (prolog, policy) again: pieces at least 8 times as big
        low = max(low, 8 * first)
        if low > high:
            if self.profile.select_all:
                return None         # a huge policy: the pieces' output would be too big
            high = low
        piece = max(low, min(high, (end - first) // (self.workers * 4)))
        count = max(self.workers, (end - first) // piece)
        bounds = [first]
        for k in range(1, count):
            # (pages read leave memory as it goes: one host may be hundreds of MB)
            at = find_far(mm, b"<ReportHost", b"", max(bounds[-1] + 1,
                                                         first + (end - first) * k // count), end)
            if at < 0:
                break
            bounds.append(at)
        bounds.append(end)
        return first, list(zip(bounds, bounds[1:])), end

    def _parallel(self, encode: Encoder | None) -> Iterator[tuple[Any, int]]:
        """Each piece's result (a list of hosts, or ``encode``'s output) and its number of
        hosts, in file order."""
        path = str(self.source.path)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            cuts = self._cuts(mm, size)
            if hasattr(mmap, "MADV_DONTNEED"):
                # the pages read to find the cuts leave this process (not the page cache):
                # they would count in its memory until the end, more for bigger files
                mm.madvise(mmap.MADV_DONTNEED)
            if cuts is None:
                raise FastPathUnsupported("layout")
            head, pieces, _end = cuts
            token = f"{os.getpid()}:{id(self)}:{time.monotonic_ns()}"
            args = (token, path, self.source.name, self.profile, self.strict, self.keep_raw, head)
            pending: deque = deque()
            todo = iter(pieces)
            pool = None
            try:        # the first submissions fork every worker (before any thread starts)
                pool = new_pool(self.workers)
                for a, b in todo:
                    pending.append(pool.submit(_piece, *args, a, b, encode))
                    if len(pending) >= self.workers * 2:
                        break
            except (OSError, BrokenProcessPool, RuntimeError) as exc:
                stop_pool(pool)
                raise FastPathUnsupported(f"no worker processes: {exc}") from None
            hasher = FileDigest(mm, f.fileno(), size) if self.digest else None
            completed = False
            try:
                first = True
                while pending:
                    try:
                        result = pending.popleft().result()
                    except BrokenProcessPool:       # a worker died (killed, out of memory)
                        raise FastPathUnsupported("a worker process ended") from None
                    nxt = next(todo, None)
                    if nxt is not None:
                        try:
                            pending.append(pool.submit(_piece, *args, *nxt, encode))
                        except BrokenProcessPool:   # a worker died since: as above
                            raise FastPathUnsupported("a worker process ended") from None
                    if result is None:
                        raise FastPathUnsupported("piece")
                    output, count, stats, reports, policy = result
                    if first:
                        self.reports, self.policy = reports, policy
                        self.stats.reports = stats.reports
                        first = False
                    _add(self.stats, stats)
                    yield output, count
                completed = True
            finally:
                stop_pool(pool)
                if hasher is not None and not completed:
                    hasher.close()         # stopped early: do not wait for the whole file
            if hasher is not None:
                hasher.wait(size + 1)
                self.stats.sha256 = hasher.sha256
            self.stats.size = size
            self.path_used = "parallel"


def encode_in_batches(pairs: Iterable[tuple[Host, list[Finding]]], encode: Encoder,
                      hosts: int = 200, findings: int = 1000) -> Iterator:
    """``encode`` applied in this process to a few hosts at a time (up to ``hosts`` hosts or
    ``findings`` findings: what is held between two writes stays small)."""
    chunk: list[tuple[Host, list[Finding]]] = []
    held = 0
    for pair in pairs:
        chunk.append(pair)
        held += len(pair[1])
        if len(chunk) >= hosts or held >= findings:
            yield encode(chunk)
            chunk, held = [], 0
    if chunk:
        yield encode(chunk)


def _add(total: ParseStats, part: ParseStats) -> None:
    total.hosts += part.hosts
    total.items += part.items
    total.severity.update(part.severity)
    total.plugin_counts.update(part.plugin_counts)
    total.port_1701 += part.port_1701
    total.compliance_items += part.compliance_items
    total.selected += part.selected
    total.truncated += part.truncated
    if total.elsa_68453_name is None:
        total.elsa_68453_name = part.elsa_68453_name


def stop_pool(pool: ProcessPoolExecutor | None, pending: dict[int, Any] | None = None) -> None:
    """Shut ``pool`` down, cancelling the work not started (whose results, like those in
    ``pending``, are then not used). Interrupted (Ctrl-C, SIGTERM) too, the workers finish
    the pieces they are reading (a few MB each): a worker ended while it sends its result
    leaves half a message in the pool's pipe, and the pool's thread waits for the rest for
    ever (seen: one SIGTERM in six hung)."""
    if pending is not None:
        pending.clear()
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    return None


def can_fork() -> bool:
    """Worker processes are possible: ``fork`` exists and this is not a daemon process
    (a multiprocessing pool's or a task queue's worker may not have children)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def new_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes that die with this process (see :func:`.children.die_with_parent`)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=die_with_parent, initargs=(os.getpid(),))

