"""Reading one big ``.nessus`` file on every core.

The file is cut at ``ReportHost`` boundaries into pieces; worker processes read each piece
with the fast path (as a small document: the file's prolog, policy and report start, the
piece's hosts, closing tags), the main process hashes the whole file meanwhile and hands
the hosts out in file order. Results, statistics and errors are the same as
:class:`~ingest.nessus.NessusReader`'s: whenever a piece cannot be read that way (a broken
file, several reports, markup the fast path does not handle) the ordinary reader takes
over, skipping the hosts already handed out.

Use :func:`open_reader` where a ``NessusReader`` is made: it returns a
:class:`ParallelReader` only where that pays off (plain files of at least
:data:`MIN_PARALLEL_BYTES`, more than one core, ``fork`` available).
"""
from __future__ import annotations

import gc
import hashlib
import io
import mmap
import multiprocessing
import os
import re
import threading
from collections import deque
from typing import Iterator

from .fastpath import FastFile, FastPathUnsupported
from .nessus import NessusReader, ParseStats
from .profiles import ALL, Profile
from .records import Finding, Host, Policy, Report
from .sources import Source

#: Plain files at least this big are read by several processes.
MIN_PARALLEL_BYTES = 50 << 20
#: :func:`open_reader` splits files only with at least this many cores.
MIN_WORKERS = 4
#: Target size of one piece.
PIECE_BYTES = 16 << 20
_RX_REPORT = re.compile(rb"<Report[\s>/]|</Report\s*>")
_RX_TAIL = re.compile(rb"\s*</Report\s*>\s*</NessusClientData_v2\s*>\s*")
_CLOSE = b"</Report></NessusClientData_v2>"


def open_reader(source: Source, profile: Profile = ALL, *, workers: int | None = None):
    """The best reader for ``source``: :class:`ParallelReader` for big plain files on a
    multi-core machine, else :class:`NessusReader` (same interface: ``hosts()``,
    ``stats``, ``reports``, ``policy``)."""
    workers = workers or os.cpu_count() or 1
    # On two cores the fast path already keeps both busy (scan + libxml2 check), and for
    # profile 'all' shipping records between processes costs more than it saves there.
    if workers >= MIN_WORKERS and not profile.select_all and \
            "fork" in multiprocessing.get_all_start_methods():
        try:
            if source.path.is_file() and source.name == source.path.name and \
                    source.path.stat().st_size >= MIN_PARALLEL_BYTES:
                return ParallelReader(source, profile, workers=workers)
        except OSError:
            pass
    return NessusReader(source, profile)


def _piece(path: str, name: str, profile: Profile, head: int, start: int, end: int):
    """Worker: read hosts ``[start, end)`` of the file as a document of their own."""
    gc.disable()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if _RX_REPORT.search(mm, start, end):
            return None                                   # several reports: not split
        doc = mm[:head] + mm[start:end] + _CLOSE
    reader = NessusReader(Source(name=name, path=path, opener=lambda: io.BytesIO(doc)), profile)
    body = _body_start(doc)
    if body is None:
        return None
    fast = FastFile(reader, None, doc, len(doc), body, in_process_check=True)
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

    def __init__(self, source: Source, profile: Profile = ALL, *, workers: int | None = None
                 ) -> None:
        self.source = source
        self.profile = profile
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
        reader = NessusReader(self.source, self.profile)
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
        count = max(self.workers, (end - first) // PIECE_BYTES)
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
            digest = hashlib.sha256()
            hasher = threading.Thread(target=_hash, args=(mm, size, digest), daemon=True)
            hasher.start()
            ctx = multiprocessing.get_context("fork")
            pool = ctx.Pool(self.workers)
            try:
                pending: deque = deque()
                todo = iter(pieces)
                for a, b in todo:
                    pending.append(pool.apply_async(
                        _piece, (path, self.source.name, self.profile, head, a, b)))
                    if len(pending) >= self.workers * 2:
                        break
                first = True
                while pending:
                    result = pending.popleft().get()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.append(pool.apply_async(
                            _piece, (path, self.source.name, self.profile, head, *nxt)))
                    if result is None:
                        raise FastPathUnsupported("piece")
                    hosts, stats, reports, policy = result
                    if first:
                        self.reports, self.policy = reports, policy
                        self.stats.reports = stats.reports
                        first = False
                    _add(self.stats, stats)
                    yield from hosts
            finally:
                pool.terminate()
                pool.join()
                hasher.join()
            self.stats.sha256 = digest.hexdigest()
            self.stats.size = size
            self.path_used = "parallel"


def _hash(mm, size: int, digest) -> None:
    view = memoryview(mm)
    try:
        for pos in range(0, size, 8 << 20):
            digest.update(view[pos:pos + (8 << 20)])
    finally:
        view.release()


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
