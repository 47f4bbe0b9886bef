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
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Callable, Iterable, Iterator, cast

from vulnpipe.ingest.errors import InputError, ParseError

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

    def __init__(self, raw: BinaryIO, digest: bool = True, *, item_markup: int = 0,
                 name: str = "") -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256() if digest else None
        self.size = 0
        self.lines = 1
        #: ``item_markup > 0``: a ``ReportItem`` holding more markup (``<``) than this raises
        #: ``absurd_item`` as soon as its bytes pass through, before libxml2 builds it all
        self._item_markup = item_markup
        self._name = name
        self._in_item = False
        self._markup = 0
        self._item_at: tuple[int, bytes, int] = (1, b"", 0)

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
        if self._item_markup:
            self._guard(data)
        self.size += len(data)
        self.lines += data.count(b"\n")

    def _guard(self, data: bytes) -> None:
        """Count the markup of each ``ReportItem`` (from its start tag to its end tag; a
        marker cut by a read boundary merges two items, which only counts more)."""
        total = data.count(b"<")
        if self._markup + total <= self._item_markup:     # no item can pass the cap here
            start, end = data.rfind(b"<ReportItem"), data.rfind(b"</ReportItem")
            if start < 0 and end < 0:
                if self._in_item:
                    self._markup += total
            elif end > start:                             # the last item ended in here
                self._in_item, self._markup = False, 0
            else:
                self._in_item, self._markup = True, data.count(b"<", start + 1)
                self._item_at = (self.lines, data, start)
            return
        pos = 0
        while True:
            if self._in_item:
                end = data.find(b"</ReportItem", pos)
                self._markup += data.count(b"<", pos, len(data) if end < 0 else end)
                if self._markup > self._item_markup:
                    from vulnpipe.ingest.nessus.build import absurd_item

                    lines, chunk, at = self._item_at          # where the item started
                    raise absurd_item(lines + chunk.count(b"\n", 0, at), self._name)
                if end < 0:
                    return
                self._in_item, pos = False, end + 1
            start = data.find(b"<ReportItem", pos)
            if start < 0:
                return
            self._in_item, self._markup = True, 0
            self._item_at = (self.lines, data, start)
            pos = start + 1

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


#: What reading a damaged compressed stream raises (zlib, gzip and zipfile say it each
#: their own way; a gzip CRC error is an OSError that has nothing to do with the disk).
_DAMAGED = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile, zipfile.LargeZipFile,
            UnicodeDecodeError)
#: The compression methods zipfile reads (another, e.g. Deflate64 or PPMd, is refused by
#: :func:`open_zip_member` as a damaged member before zipfile is asked to open it).
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                         zipfile.ZIP_LZMA})


def open_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """``zf.open(info)``, a compression method zipfile cannot read being a
    :class:`zipfile.BadZipFile` like any other member that cannot be read."""
    if info.compress_type not in ZIP_METHODS:
        raise zipfile.BadZipFile(f"compression method {info.compress_type} is not supported")
    return zf.open(info)
_DAMAGED_HINT = "copy or download the file again"


def damaged(exc: BaseException, name: str) -> ParseError:
    """The one line for a compressed input (``.gz``, zip member) that cannot be decompressed."""
    if isinstance(exc, EOFError):
        what = "it ends early (truncated)"
    elif isinstance(exc, zlib.error):
        what = f"corrupt compressed data ({exc})"
    else:
        what = str(exc) or type(exc).__name__
    return ParseError(f"damaged archive: {what}", path=name, hint=_DAMAGED_HINT)


class ArchiveStream(io.RawIOBase):
    """A decompressing stream (gzip file, zip member) whose damage is a :class:`ParseError`
    naming the input, never a zlib, gzip or zipfile exception."""

    def __init__(self, raw: IO[bytes], name: str) -> None:
        self._raw = raw
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except _DAMAGED as exc:
            raise damaged(exc, self._name) from None

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


#: Zip archives kept open (their central directory read once), most recently used last: the
#: members of an archive are opened one after the other, and each open must not read the
#: directory again (that made many-member archives quadratic).
_ARCHIVES: OrderedDict[tuple[Path, int, int, int], zipfile.ZipFile] = OrderedDict()
_ARCHIVES_OPEN = 4


def _archive(path: Path) -> zipfile.ZipFile:
    st = path.stat()             # (a file replaced since is read again)
    key = (path.resolve(), st.st_ino, st.st_size, st.st_mtime_ns)
    zf = _ARCHIVES.pop(key, None)
    if zf is None or zf.fp is None:
        zf = zipfile.ZipFile(path)
    _ARCHIVES[key] = zf
    while len(_ARCHIVES) > _ARCHIVES_OPEN:
        # (a member still being read keeps its file open until it is closed)
        _ARCHIVES.popitem(last=False)[1].close()
    return zf


def close_archives() -> None:
    """Close the zip archives kept open for their members (their members stay readable)."""
    while _ARCHIVES:
        _ARCHIVES.popitem()[1].close()


def _open_member(path: Path, member: zipfile.ZipInfo, name: str) -> BinaryIO:
    try:
        return cast(BinaryIO, ArchiveStream(open_zip_member(_archive(path), member), name))
    except _DAMAGED as exc:
        raise damaged(exc, name) from None
    except RuntimeError as exc:         # zipfile: "File ... is encrypted, password required"
        raise ParseError(f"cannot read this archive member: {exc}", path=name,
                         hint="unzip it yourself (it is encrypted), then give the .nessus "
                              "file") from None


def _zip_sources(path: Path) -> Iterator[Source]:
    try:
        zf = _archive(path)
        infos = sorted((i for i in zf.infolist() if i.filename and not i.is_dir()),
                       key=lambda i: i.filename)
    except (*_DAMAGED, OSError, ValueError) as exc:
        raise InputError(f"not a readable zip archive: {exc}", path=path.name,
                         hint=_DAMAGED_HINT) from None
    found = False
    for info in infos:
        if not info.filename.lower().endswith(SCAN_SUFFIXES):
            continue
        found = True
        member = info.filename
        name = f"{path.name}:{member}"
        if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
                and info.file_size > 100 * 1024**2):
            # refused when it is read: the archive's other members are still read
            bomb = InputError(f"expands {info.file_size} bytes from {info.compress_size}: "
                              "refusing a probable zip bomb", path=name,
                              hint="unzip it yourself if you trust it")
            yield Source(name=name, path=path, opener=functools.partial(_refuse, bomb))
            continue
        yield Source(name=name, path=path,
                     opener=functools.partial(_open_member, path, info, name))
    if not found:
        raise InputError("zip archive holds no .nessus file", path=path.name)


def _refuse(error: InputError) -> BinaryIO:
    raise error


def _dir_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and
                   p.name.lower().endswith((".nessus", ".nessus.gz", ".nessus.zip")))
    if not files:
        raise InputError("directory holds no .nessus file", path=path)
    return files


def expand_inputs(inputs: Iterable[str | Path]) -> Iterator[Source]:
    """Every scan document named by ``inputs``: files, directories (``*.nessus`` below,
    sorted), ``.zip`` archives (their ``.nessus``/``.xml`` members) and ``.gz`` files."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from expand_inputs(_dir_files(path))
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
    return cast(BinaryIO, ArchiveStream(cast(IO[bytes], gzip.open(path, "rb")), path.name))


def _open_plain(path: Path) -> BinaryIO:
    return open(path, "rb")


def iter_sources(inputs: Iterable[str | Path], errors: list) -> Iterator[Source]:
    """Like :func:`expand_inputs`, but a bad input (a missing file, an unreadable archive,
    also one inside a directory) is appended to ``errors`` (as a
    :class:`~ingest.errors.VulnpipeError`) and the other inputs go on. (A damaged member or
    ``.gz`` stream is found when it is read: a :class:`ParseError` naming it.)"""
    from vulnpipe.ingest.errors import VulnpipeError

    for item in inputs:
        try:
            path = Path(item)
            items = _dir_files(path) if path.is_dir() else [path]
        except VulnpipeError as exc:
            errors.append(exc)
            continue
        for one in items:
            try:
                sources = list(expand_inputs([one]))
            except VulnpipeError as exc:
                errors.append(exc)
                continue
            yield from sources
