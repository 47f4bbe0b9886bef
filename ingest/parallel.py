"""Reading one big ``.nessus`` file on every core.

The file is cut at ``ReportHost`` boundaries into pieces; worker processes read each piece
with the fast path (from their own map of the file: the file's prolog, policy and report
start, then the piece's hosts), the main process hashes the whole file meanwhile (when the
caller wants the SHA-256) and hands the hosts out in file order. Results, statistics and
errors are the same as :class:`~ingest.nessus.NessusReader`'s with the same options:
whenever a piece cannot be read that way (a broken file, several reports, markup the fast
path does not handle, a worker that dies) the ordinary reader takes over, skipping the
hosts already handed out.

Use :func:`open_reader` where a ``NessusReader`` is made: it returns a
:class:`ParallelReader` only where that pays off (plain files of at least
:data:`MIN_PARALLEL_BYTES`, a filtering profile, not strict, more than one core, ``fork``
available).
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
from typing import Iterator

from .fastpath import _CLOSE_REPORT, FastFile, FastPathUnsupported, _Digest
from .nessus import NessusReader, ParseStats
from .profiles import ALL, Profile
from .records import Finding, Host, Policy, Report
from .sources import Source

#: Plain files at least this big are read by several processes.
MIN_PARALLEL_BYTES = 50 << 20
#: :func:`open_reader` splits files only with at least this many cores.
MIN_WORKERS = 2
#: Pieces are about a quarter of a worker's share of the file, within these bounds (each
#: piece re-reads the file's head: prolog, policy, report start).
PIECE_BYTES = (8 << 20, 64 << 20)
_RX_REPORT = re.compile(rb"<Report[ \t\r\n>/]|</Report[ \t\r\n]*>")
_RX_TAIL = re.compile(rb"[ \t\r\n]*</Report[ \t\r\n]*>[ \t\r\n]*"
                      rb"</NessusClientData_v2[ \t\r\n]*>[ \t\r\n]*")


def open_reader(source: Source, profile: Profile = ALL, *, workers: int | None = None,
                strict: bool = False, keep_raw: bool = False, digest: bool = True):
    """The best reader for ``source``: :class:`ParallelReader` for big plain files read with
    a filtering profile on a multi-core machine, else :class:`NessusReader` (same interface:
    ``hosts()``, ``stats``, ``reports``, ``policy``, ``path_used``)."""
    workers = workers or cores()
    # Profile 'all' keeps every item: shipping its records between processes costs more
    # than it saves. --strict: the single reader already checks on a second core.
    if workers >= MIN_WORKERS and not profile.select_all and not strict and \
            "fork" in multiprocessing.get_all_start_methods():
        try:
            if source.name == source.path.name and source.path.is_file() and \
                    source.path.stat().st_size >= MIN_PARALLEL_BYTES:
                return ParallelReader(source, profile, workers=workers, keep_raw=keep_raw,
                                      digest=digest)
        except OSError:
            pass
    return NessusReader(source, profile, strict=strict, keep_raw=keep_raw, digest=digest)


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: Per worker process: item start tags decoded so far, per reading (see FastFile's learned).
_LEARNED: dict[str, tuple[dict, set]] = {}


def _piece(token: str, path: str, name: str, profile: Profile, strict: bool, keep_raw: bool,
           head: int, start: int, end: int):
    """Worker: read hosts ``[start, end)`` of the file as a document of their own."""
    gc.disable()
    try:
        return _read_range(token, path, name, profile, strict, keep_raw, head, start, end)
    finally:
        gc.enable()


def _read_range(token: str, path: str, name: str, profile: Profile, strict: bool,
                keep_raw: bool, head: int, start: int, end: int):
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if strict:       # libxml2 checks the piece as a document: it needs the bytes together
            if _RX_REPORT.search(mm, start, end):
                return None                               # several reports: not split
            doc = mm[:head] + mm[start:end] + _CLOSE_REPORT
            body = _body_start(doc)
            if body is None:
                return None
            source = Source(name=name, path=path, opener=lambda: io.BytesIO(doc))
            reader = NessusReader(source, profile, strict=True, keep_raw=keep_raw)
            fast = FastFile(reader, None, doc, len(doc), body, strict=True,
                            in_process_check=True)
            return _read_piece(reader, fast)
        body = _body_start(mm[:head])
        if body is None:
            return None
        # (several reports: markup between hosts, which a piece refuses)
        reader = NessusReader(Source(name=name, path=path, opener=lambda: open(path, "rb")),
                              profile, keep_raw=keep_raw)
        learned = _LEARNED.setdefault(token, ({}, set()))
        return _read_piece(reader, FastFile(reader, None, mm, len(mm), body, digest=False,
                                            piece=(head, start, end), learned=learned))


def _read_piece(reader: NessusReader, fast: FastFile):
    try:
        with fast:
            hosts = list(fast.hosts())
    except Exception:          # anything unexpected: the ordinary reader decides
        return None
    return hosts, reader.stats, reader.reports, reader.policy


def _body_start(doc: bytes) -> int | None:
    from .fastpath import _RX_PROLOG, _utf8_declaration

    m = _RX_PROLOG.match(doc, 0, 1 << 16)
    if m is None or not _utf8_declaration(m.group(1)) or b"xmlns" in (m.group(2) or b""):
        return None
    return m.end()


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
            for pair in self._parallel():
                done += 1
                yield pair
            return
        except FastPathUnsupported:
            pass
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
        low, high = PIECE_BYTES
        piece = max(low, min(high, (end - first) // (self.workers * 4)))
        count = max(self.workers, (end - first) // piece)
        bounds = [first]
        for k in range(1, count):
            at = mm.find(b"<ReportHost", max(bounds[-1] + 1, first + (end - first) * k // count),
                         end)
            if at < 0:
                break
            bounds.append(at)
        bounds.append(end)
        return first, list(zip(bounds, bounds[1:])), end

    def _parallel(self) -> Iterator[tuple[Host, list[Finding]]]:
        path = str(self.source.path)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            cuts = self._cuts(mm, size)
            if cuts is None:
                raise FastPathUnsupported("layout")
            head, pieces, _end = cuts
            token = f"{os.getpid()}:{id(self)}:{time.monotonic_ns()}"
            args = (token, path, self.source.name, self.profile, self.strict, self.keep_raw, head)
            pending: deque = deque()
            todo = iter(pieces)
            try:        # the first submissions fork every worker (before any thread starts)
                pool = ProcessPoolExecutor(self.workers,
                                           mp_context=multiprocessing.get_context("fork"))
                for a, b in todo:
                    pending.append(pool.submit(_piece, *args, a, b))
                    if len(pending) >= self.workers * 2:
                        break
            except OSError as exc:
                raise FastPathUnsupported(f"no worker processes: {exc}") from None
            hasher = _Digest(mm, f.fileno(), size) if self.digest else None
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
                        pending.append(pool.submit(_piece, *args, *nxt))
                    if result is None:
                        raise FastPathUnsupported("piece")
                    hosts, stats, reports, policy = result
                    if first:
                        self.reports, self.policy = reports, policy
                        self.stats.reports = stats.reports
                        first = False
                    _add(self.stats, stats)
                    yield from hosts
                completed = True
            finally:
                for future in pending:
                    future.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                if hasher is not None and not completed:
                    hasher.close()         # stopped early: do not wait for the whole file
            if hasher is not None:
                hasher.wait(size + 1)
                self.stats.sha256 = hasher.sha256
            self.stats.size = size
            self.path_used = "parallel"


def _add(total: ParseStats, part: ParseStats) -> None:
    total.hosts += part.hosts
    total.items += part.items
    total.severity.update(part.severity)
    total.plugin_counts.update(part.plugin_counts)
    total.port_1701 += part.port_1701
    total.compliance_items += part.compliance_items
    total.selected += part.selected
    if total.elsa_68453_name is None:
        total.elsa_68453_name = part.elsa_68453_name


def iter_hosts_parallel(inputs, profile: Profile = ALL, *, workers: int | None = None
                        ) -> Iterator[tuple[Host, list[Finding]]]:
    """Every host of every input with its selected findings, in file order, reading big
    plain files with several processes (see :func:`open_reader`)."""
    from .sources import expand_inputs

    for source in expand_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs):
        yield from open_reader(source, profile, workers=workers).hosts()
