"""Choosing how to read one scan document: the one place that decides.

Three readers give the same hosts, findings, statistics and errors for the same options
(tests check it on every corpus, generated and random document); they differ in speed:

* ``full``: :class:`~.reader.NessusReader`, lxml's streaming parser; every byte checked.
* ``fast``: the same class with ``fast=True``, which scans the bytes of a plain UTF-8 file
  and builds records only for what a filtering profile keeps (:mod:`.fastpath`), handing
  over to the full parser whenever it meets something it does not handle.
* ``parallel``: :class:`~.parallel.ParallelReader`, which cuts a big plain file at host
  boundaries and reads the pieces on every core.

:func:`open_reader` picks one; :data:`ScanReader` is the interface all three offer.
"""
from __future__ import annotations

from typing import Iterator, Protocol

from vulnpipe.ingest.nessus import parallel
from vulnpipe.ingest.nessus.build import ParseStats
from vulnpipe.ingest.nessus.parallel import MIN_WORKERS, Encoder, ParallelReader, encode_in_batches
from vulnpipe.ingest.nessus.reader import NessusReader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import ALL, Profile
from vulnpipe.ingest.records import Finding, Host, Policy, Report


class ScanReader(Protocol):
    """What every reader of one scan document offers.

    ``hosts()`` yields every ``ReportHost`` as ``(Host, [selected Finding])`` in file order;
    ``stats``, ``reports`` and ``policy`` are complete once it is exhausted; ``path_used``
    says which reader did the work (``full``, ``fast``, ``fast+full``, ``parallel``, ...).
    A late error (a truncated file) raises :class:`~vulnpipe.ingest.errors.ParseError`
    after earlier hosts were yielded: callers keep nothing of a file until its end.
    """

    source: Source
    profile: Profile
    stats: ParseStats
    reports: list[Report]
    policy: Policy | None
    path_used: str | None

    def hosts(self) -> Iterator[tuple[Host, list[Finding]]]: ...

    def read_all(self) -> tuple[list[Host], list[Finding]]: ...


def open_reader(source: Source, profile: Profile = ALL, *, workers: int | None = None,
                strict: bool = False, keep_raw: bool = False, digest: bool = True,
                encoded: bool = False) -> ScanReader:
    """The reader for ``source`` (see the module docstring): ``parallel`` for big plain files
    on a multi-core machine, else ``fast`` for a filtering profile, else ``full``.
    ``encoded=True``: the caller reads the findings through :func:`iter_encoded`, so profile
    ``all`` is split too. ``workers``: how many processes a parallel reader may use (default:
    every core this process may run on)."""
    workers = workers or parallel.cores()
    # Profile 'all' keeps every item: shipping its records between processes costs more
    # than it saves, shipping encoded output does not. --strict: the single reader already
    # checks on a second core.
    if workers >= MIN_WORKERS and (encoded or not profile.select_all) and not strict and \
            parallel.can_fork():
        size = parallel.plain_size(source)
        if size is not None and size >= parallel.min_parallel_bytes():
            return ParallelReader(source, profile, workers=workers, keep_raw=keep_raw,
                                  digest=digest)
    return NessusReader(source, profile, strict=strict, keep_raw=keep_raw, digest=digest,
                        fast=not profile.select_all)


def iter_encoded(reader: ScanReader, encode: Encoder) -> Iterator[tuple[bytes, int]]:
    """The selected findings of ``reader`` (from :func:`open_reader`) as ``encode``'s output
    pieces, in file order: made by the worker processes of a :class:`ParallelReader`, in
    this process otherwise."""
    if isinstance(reader, ParallelReader):
        return reader.encoded(encode)
    return encode_in_batches(reader.hosts(), encode)
