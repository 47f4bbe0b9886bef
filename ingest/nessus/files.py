"""Reading many scan files on every core, in the order given (``vulnpipe parse``).

Big plain files are split by :class:`~.parallel.ParallelReader`; plain files under
:data:`POOL_FILE_BYTES` are read whole, several at a time, by worker processes that hand
back encoded output (bytes, never records); compressed files and archive members are
streamed by this process. The output is byte for byte what one process reading one file
after the other makes.
"""
from __future__ import annotations

import functools
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.ingest.nessus import parallel
from vulnpipe.ingest.nessus.build import ParseStats
from vulnpipe.ingest.nessus.parallel import MIN_WORKERS, Encoder
from vulnpipe.ingest.nessus.reader import NessusReader
from vulnpipe.ingest.nessus.readers import iter_encoded, open_reader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import Profile

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
    workers = workers or parallel.cores()
    sizes = [parallel.plain_size(s) for s in sources]
    # a whole file's output is held in memory: only small files of known size
    small = [n is not None and n < min(POOL_FILE_BYTES, parallel.min_parallel_bytes()) for n in sizes]
    pooled = workers >= MIN_WORKERS and not strict and sum(small) >= 2 and parallel.can_fork()
    global _FILES
    _FILES = list(sources)
    pool: ProcessPoolExecutor | None = None
    pending: dict[int, Future[Any]] = {}
    try:
        for index, source in enumerate(sources):
            if pooled and small[index]:
                if pool is None:
                    pool = parallel.new_pool(workers)
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
                            parallel.stop_pool(pool, pending)
                            pool = None
                            break
                future = pending.pop(index, None)
                try:
                    if future is None:
                        raise BrokenProcessPool("not submitted")
                    result, error, stats, path_used = future.result()
                except BrokenProcessPool:           # a worker died: the rest in here
                    pooled = False
                    parallel.stop_pool(pool, pending)
                    pool = None
                else:
                    outcome = FileOutcome(functools.partial(_replay, result, error))
                    outcome.stats, outcome.path_used = stats, path_used
                    yield source, outcome
                    continue
            if not pending:
                # no pool's threads may run while a reader forks its own workers
                parallel.stop_pool(pool)
                pool = None
            reader = open_reader(source, profile, strict=strict, keep_raw=keep_raw,
                                 digest=False, encoded=True)
            yield source, FileOutcome(functools.partial(iter_encoded, reader, encode), reader)
    finally:
        parallel.stop_pool(pool)
        _FILES = []


def _replay(result, error) -> Iterator:
    if error is not None:
        raise error
    yield result
