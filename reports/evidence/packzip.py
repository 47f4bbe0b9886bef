"""The pack's zip: sorted entries, fixed timestamps and permissions, nothing from the clock."""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO, Mapping, Protocol, Union

from vulnpipe.reports.writers.output import ZIP_EPOCH

FILE_MODE = 0o644
CHUNK = 1 << 20


class Openable(Protocol):
    """A large member streamed from elsewhere (an original scan file)."""

    def open(self) -> BinaryIO: ...


Content = Union[bytes, Openable]


def entry_info(name: str) -> zipfile.ZipInfo:
    """A ZipInfo with the fixed time, permissions and creator system every entry uses."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3                     # unix, on every platform
    info.external_attr = (0o100000 | FILE_MODE) << 16
    return info


def write_zip(path: str | Path, entries: Mapping[str, Content]) -> None:
    """Write ``entries`` (name -> bytes or something to stream) to ``path`` in name order."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(entries):
            content = entries[name]
            if isinstance(content, bytes):
                zf.writestr(entry_info(name), content, compresslevel=6)
            else:
                with content.open() as src, zf.open(entry_info(name), "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, CHUNK)


def stream_sha256(content: Content) -> tuple[str, int]:
    """SHA-256 and size of ``content`` (streams what is not in memory)."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest(), len(content)
    digest, size = hashlib.sha256(), 0
    with content.open() as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
