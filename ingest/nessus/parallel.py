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

Use :func:`open_reader` where a ``NessusReader`` is made: it returns a
:class:`ParallelReader` only where that pays off (plain files of at least
:data:`MIN_PARALLEL_BYTES`, a filtering profile or encoded output, not strict, more than
one core, ``fork`` available).
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
from typing import Callable, Iterable, Iterator

from vulnpipe.ingest.nessus.fastpath import _CLOSE_REPORT, FastFile, FastPathUnsupported, _Digest
from vulnpipe.ingest.nessus.reader import NessusReader, ParseStats
from vulnpipe.ingest.profiles import ALL, Profile
from vulnpipe.ingest.records import Finding, Host, Policy, Report
from vulnpipe.ingest.nessus.sources import Source

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
_RX_REPORT = re.compile(rb"<Report[ \t\r\n>/]|</Report[ \t\r\n]*>")
_RX_TAIL = re.compile(rb"[ \t\r\n]*</Report[ \t\r\n]*>[ \t\r\n]*"
                      rb"</NessusClientData_v2[ \t\r\n]*>[ \t\r\n]*")


def open_reader(source: Source, profile: Profile = ALL, *, workers: int | None = None,
                strict: bool = False, keep_raw: bool = False, digest: bool = True,
                encoded: bool = False):
    """The best reader for ``source``: :class:`ParallelReader` for big plain files on a
    multi-core machine, else :class:`NessusReader` (same interface: ``hosts()``, ``stats``,
    ``reports``, ``policy``, ``path_used``). ``encoded=True``: the caller reads the findings
    through :func:`iter_encoded`, so profile ``all`` is split too."""
    workers = workers or cores()
    # Profile 'all' keeps every item: shipping its records between processes costs more
    # than it saves, shipping encoded output does not. --strict: the single reader already
    # checks on a second core.
    if workers >= MIN_WORKERS and (encoded or not profile.select_all) and not strict and \
            _can_fork():
        size = _size(source)
        if size is not None and size >= _min_parallel_bytes():
            return ParallelReader(source, profile, workers=workers, keep_raw=keep_raw,
                                  digest=digest)
    return NessusReader(source, profile, strict=strict, keep_raw=keep_raw, digest=digest)


def _size(source: Source) -> int | None:
    """The size of a plain file read as it is; None for an archive member, a compressed
    file (whose content may be many times its size) or anything else."""
    try:
        if source.name == source.path.name and source.path.is_file() and \
                not source.path.name.lower().endswith(".gz"):
            return source.path.stat().st_size
    except OSError:
        pass
    return None


def _min_parallel_bytes() -> int:
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
    except Exception:          # anything unexpected: the ordinary reader decides
        return None
    finally:
        gc.enable()


def _read_range(token: str, path: str, name: str, profile: Profile, strict: bool,
                keep_raw: bool, head: int, start: int, end: int, encode: Encoder | None):
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if strict or profile.select_all:
            # libxml2 reads the piece as a document of its own (strict: it checks every
            # byte; 'all': the streaming parser is the faster reader when every item is kept)
            if _RX_REPORT.search(mm, start, end):
                return None                               # several reports: not split
            doc = mm[:head] + mm[start:end] + _CLOSE_REPORT
            body = _body_start(doc)
            if body is None:
                return None
            source = Source(name=name, path=path, opener=lambda: io.BytesIO(doc))
            reader = NessusReader(source, profile, strict=strict, keep_raw=keep_raw,
                                  fast=False, digest=False)
            if not strict:
                return _collect(reader, reader.hosts(), encode)
            fast = FastFile(reader, None, doc, len(doc), body, strict=True,
                            in_process_check=True)
        else:
            body = _body_start(mm[:head])
            if body is None:
                return None
            # (several reports: markup between hosts, which a piece refuses)
            reader = NessusReader(Source(name=name, path=path,
                                         opener=lambda: open(path, "rb")),
                                  profile, keep_raw=keep_raw)
            learned = _LEARNED.setdefault(token, ({}, set()))
            fast = FastFile(reader, None, mm, len(mm), body, digest=False,
                            piece=(head, start, end), learned=learned)
        with fast:
            return _collect(reader, fast.hosts(), encode)


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


def _body_start(doc: bytes) -> int | None:
    from vulnpipe.ingest.nessus.fastpath import _RX_PROLOG, _utf8_declaration

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
            at = mm.find(b"<ReportHost", max(bounds[-1] + 1, first + (end - first) * k // count),
                         end)
            if at < 0:
                break
            bounds.append(at)
        bounds.append(end)
        return first, list(zip(bounds, bounds[1:])), end

    def _parallel(self, encode: Encoder | None) -> Iterator[tuple[object, int]]:
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
                pool = _new_pool(self.workers)
                for a, b in todo:
                    pending.append(pool.submit(_piece, *args, a, b, encode))
                    if len(pending) >= self.workers * 2:
                        break
            except (OSError, BrokenProcessPool, RuntimeError) as exc:
                _stop(pool)
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
                _stop(pool)
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


def iter_encoded(reader, encode: Encoder) -> Iterator[tuple[bytes, int]]:
    """The selected findings of ``reader`` (from :func:`open_reader`) as ``encode``'s output
    pieces, in file order: made by the worker processes of a :class:`ParallelReader`, in
    this process otherwise."""
    if isinstance(reader, ParallelReader):
        return reader.encoded(encode)
    return encode_in_batches(reader.hosts(), encode)


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
    from vulnpipe.ingest.nessus.sources import expand_inputs

    for source in expand_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs):
        yield from open_reader(source, profile, workers=workers).hosts()


# -- many files -----------------------------------------------------------------------------

#: The sources of the current :func:`iter_files_encoded` call, inherited by its forked
#: workers (a Source opens its file through a closure, which cannot be sent to a process).
_FILES: list[Source] = []
#: Input bytes of small files read ahead of the one being written, at most.
AHEAD_BYTES = 64 << 20
#: Plain files under this size are read whole by a worker (whose output is held whole).
POOL_FILE_BYTES = 16 << 20


class FileOutcome:
    """One input of :func:`iter_files_encoded`: ``chunks()`` gives ``encode``'s results in
    file order (raising the file's :class:`~ingest.errors.ParseError`, if any); ``stats``
    and ``path_used`` are complete once ``chunks()`` is exhausted."""

    def __init__(self, chunks: Callable[[], Iterator], reader=None) -> None:
        self._chunks = chunks
        self._reader = reader
        self.stats: ParseStats | None = None
        self.path_used: str | None = None

    def chunks(self) -> Iterator:
        yield from self._chunks()
        if self._reader is not None:
            self.stats, self.path_used = self._reader.stats, self._reader.path_used


def _whole_file(index: int, profile: Profile, keep_raw: bool, encode: Encoder):
    """Worker: one small file read whole: ``(result, error, stats, path_used)``."""
    from vulnpipe.ingest.errors import VulnpipeError

    reader = NessusReader(_FILES[index], profile, keep_raw=keep_raw, digest=False)
    try:
        result = encode(reader.hosts())     # (hosts() keeps the garbage collector off)
    except VulnpipeError as exc:
        return None, exc, reader.stats, reader.path_used
    return result, None, reader.stats, reader.path_used





def iter_files_encoded(sources: list[Source], profile: Profile, encode: Encoder, *,
                       strict: bool = False, keep_raw: bool = False,
                       workers: int | None = None) -> Iterator[tuple[Source, FileOutcome]]:
    """Every source with its :class:`FileOutcome`, in the order given, reading on every
    core: big plain files are split (:func:`open_reader`); plain files under
    :data:`POOL_FILE_BYTES` are read whole, several at a time, by worker processes (up to
    :data:`AHEAD_BYTES` ahead of the one being written); the others (mid-sized, compressed,
    archive members) are streamed by this process. One core, ``strict`` or fewer than two
    small files: one file after the other."""
    workers = workers or cores()
    sizes = [_size(s) for s in sources]
    # a whole file's output is held in memory: only small files of known size
    small = [n is not None and n < min(POOL_FILE_BYTES, _min_parallel_bytes()) for n in sizes]
    pooled = workers >= MIN_WORKERS and not strict and sum(small) >= 2 and _can_fork()
    global _FILES
    _FILES = list(sources)
    pool: ProcessPoolExecutor | None = None
    pending: dict[int, object] = {}
    try:
        for index, source in enumerate(sources):
            if pooled and small[index]:
                if pool is None:
                    pool = _new_pool(workers)
                # read ahead: the small files up to the next other one, within AHEAD_BYTES
                budget = 0
                for later in range(index, len(sources)):
                    budget += sizes[later] or 0
                    if not small[later] or (later > index and (
                            budget > AHEAD_BYTES or len(pending) >= workers * 2)):
                        break
                    if later not in pending and pool is not None:
                        try:
                            pending[later] = pool.submit(_whole_file, later, profile, keep_raw,
                                                         encode)
                        except (BrokenProcessPool, OSError, RuntimeError):
                            pooled = False           # no more workers: the rest in here
                            pool = _stop(pool, pending)
                            break
                future = pending.pop(index, None)
                try:
                    if future is None:
                        raise BrokenProcessPool("not submitted")
                    result, error, stats, path_used = future.result()
                except BrokenProcessPool:           # a worker died: the rest in here
                    pooled = False
                    pool = _stop(pool, pending)
                else:
                    outcome = FileOutcome(lambda r=result, e=error: _replay(r, e))
                    outcome.stats, outcome.path_used = stats, path_used
                    yield source, outcome
                    continue
            if not pending:
                # no pool's threads may run while a reader forks its own workers
                pool = _stop(pool)
            reader = open_reader(source, profile, strict=strict, keep_raw=keep_raw,
                                 digest=False, encoded=True)
            yield source, FileOutcome(lambda r=reader: iter_encoded(r, encode), reader)
    finally:
        _stop(pool)
        _FILES = []


def _stop(pool: ProcessPoolExecutor | None, pending: dict | None = None) -> None:
    """Shut ``pool`` down, cancelling the work not started (whose results, like those in
    ``pending``, are then not used). Returns None, for ``pool = _stop(pool)``."""
    if pending is not None:
        pending.clear()
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    return None


def _can_fork() -> bool:
    """Worker processes are possible: ``fork`` exists and this is not a daemon process
    (a multiprocessing pool's or a task queue's worker may not have children)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))


def _replay(result, error) -> Iterator:
    if error is not None:
        raise error
    yield result
