"""Inputs: files, directories, ``.zip`` archives and ``.gz`` files, each opened as a byte stream.

Nothing is ever extracted to disk, so archive member names (which come from whoever made the
archive) never become paths.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, cast

from vulnpipe.ingest.errors import InputError

SCAN_SUFFIXES = (".nessus", ".xml")
#: A zip member whose uncompressed size is over this many times its compressed size is
#: refused as a probable zip bomb.
MAX_ZIP_RATIO = 200
MAX_MEMBER_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class Source:
    """One scan document to read: a name for messages and records, and how to open it."""

    name: str                       # file name, or "archive.zip:member.nessus"
    path: Path                      # the file on disk (the archive for members)
    opener: Callable[[], BinaryIO]

    def open(self) -> BinaryIO:
        return self.opener()


class HashingReader(io.RawIOBase):
    """A read-only stream that counts the bytes and lines read through it and hashes them
    (SHA-256; ``digest=False``: no hash, ``sha256`` is None)."""

    name: str = "<stream>"      # libxml2 names its errors after the stream

    def __init__(self, raw: BinaryIO, digest: bool = True) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256() if digest else None
        self.size = 0
        self.lines = 1

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self._count(data)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._count(data)
        return data

    def _count(self, data: bytes) -> None:
        if self.sha256 is not None:
            self.sha256.update(data)
        self.size += len(data)
        self.lines += data.count(b"\n")

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def _zip_sources(path: Path) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip archive: {exc}", path=path.name) from None
    with zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
    found = False
    for info in infos:
        if not info.filename.lower().endswith(SCAN_SUFFIXES):
            continue
        found = True
        member = info.filename
        if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
                and info.file_size > 100 * 1024**2):
            raise InputError(f"archive member {member!r} expands {info.file_size} bytes from "
                             f"{info.compress_size}: refusing a probable zip bomb",
                             path=path.name, hint="unzip it yourself if you trust it")

        def opener(member: str = member) -> BinaryIO:
            zf = zipfile.ZipFile(path)
            return cast(BinaryIO, zf.open(member))

        yield Source(name=f"{path.name}:{member}", path=path, opener=opener)
    if not found:
        raise InputError("zip archive holds no .nessus file", path=path.name)


def expand_inputs(inputs: Iterable[str | Path]) -> Iterator[Source]:
    """Every scan document named by ``inputs``: files, directories (``*.nessus`` below,
    sorted), ``.zip`` archives (their ``.nessus``/``.xml`` members) and ``.gz`` files."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and
                           p.name.lower().endswith((".nessus", ".nessus.gz", ".nessus.zip")))
            if not files:
                raise InputError("directory holds no .nessus file", path=path)
            yield from expand_inputs(files)
            continue
        if not path.exists():
            raise InputError("no such file", path=path, hint="check the path")
        if path.suffix.lower() == ".zip":
            yield from _zip_sources(path)
        elif path.suffix.lower() == ".gz":
            yield Source(name=path.name, path=path, opener=functools.partial(_open_gzip, path))
        else:
            yield Source(name=path.name, path=path, opener=functools.partial(_open_plain, path))


def _open_gzip(path: Path) -> BinaryIO:
    return cast(BinaryIO, gzip.open(path, "rb"))


def _open_plain(path: Path) -> BinaryIO:
    return open(path, "rb")


def iter_sources(inputs: Iterable[str | Path], errors: list) -> Iterator[Source]:
    """Like :func:`expand_inputs`, but a bad input is appended to ``errors`` (as a
    :class:`~ingest.errors.VulnpipeError`) and the other inputs go on."""
    from vulnpipe.ingest.errors import VulnpipeError

    for item in inputs:
        try:
            sources = list(expand_inputs([item]))
        except VulnpipeError as exc:
            errors.append(exc)
            continue
        yield from sources
