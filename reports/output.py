"""Writing files safely: whole or not at all, and byte-for-byte reproducible."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from ingest.errors import VulnpipeError

#: The timestamp written into every zip entry (zip's epoch): outputs do not depend on when
#: they were made.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise VulnpipeError(f"cannot write here: {exc.strerror or exc}", path=target,
                            hint="choose a writable output path") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)     # like any new file, not mkstemp's 0600
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise VulnpipeError(f"cannot write the output: {exc.strerror or exc}", path=target,
                            hint="check free disk space and permissions") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def open_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary stream for ``path`` (``-`` is standard output), written atomically."""
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            yield fh


def normalize_zip(path: str | os.PathLike) -> None:
    """Rewrite a zip (an .xlsx is one) with fixed entry timestamps, keeping entry order."""
    src = Path(path)
    tmp = src.with_name(src.name + ".norm")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":   # openpyxl stamps the save time here
                data = _CORE_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            zout.writestr(fixed, data)
    os.replace(tmp, src)
