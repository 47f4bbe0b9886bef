"""Writing files safely: whole or not at all, and byte-for-byte reproducible."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from vulnpipe.ingest.errors import BadValue, VulnpipeError

#: The timestamp written into every zip entry (zip's epoch): outputs do not depend on when
#: they were made.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


#: Output formats and the file name endings that name them (the first one is the usual).
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "jsonl": (".jsonl", ".ndjson", ".json"), "json": (".json",), "csv": (".csv",),
    "xlsx": (".xlsx",), "parquet": (".parquet",), "html": (".html", ".htm"),
    "markdown": (".md",),
}


def choose_format(out: str | os.PathLike, fmt: str | None, formats: tuple[str, ...],
                  default: str) -> str:
    """The format to write ``out`` in: ``fmt`` when given, else the one its name's ending
    names (``joined.xlsx``: xlsx), else ``default`` (standard output, ``/dev/null``, a name
    with another ending). A ``fmt`` that contradicts the ending, or an ending naming a format
    not among ``formats``, is refused (:class:`BadValue`): a file called ``.xlsx`` holding
    JSON lines helps nobody."""
    suffix = Path(str(out)).suffix.lower() if str(out) != "-" else ""
    named = [f for f, endings in FORMAT_SUFFIXES.items() if suffix in endings]
    if fmt is not None:
        if named and fmt not in named:
            raise BadValue(f"--format {fmt} does not match --out {os.fspath(out)!r} "
                           f"({suffix} is {named[0]})",
                           hint=f"drop --format, or name the file "
                                f"{FORMAT_SUFFIXES.get(fmt, ('.' + fmt,))[0]}")
        return fmt
    usable = [f for f in named if f in formats]
    if usable:
        return usable[0]
    if named:
        raise BadValue(f"--out {os.fspath(out)!r} names a {named[0]} file, which this command "
                       "does not write", hint=f"formats: {', '.join(formats)}")
    return default


def is_special(path: str | os.PathLike) -> bool:
    """True when ``path`` exists and is not a regular file (``/dev/null``, a FIFO, a tty):
    such a target is written in place, never replaced by a rename."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On any error the temporary file is removed and ``path`` is left as it was. A target that
    is a device or a pipe (``/dev/null``) is not a file to replace: the temporary file is
    written elsewhere and then copied into it.
    """
    target = Path(path)
    if is_special(target):
        with tempfile.TemporaryDirectory(prefix="vulnpipe-") as tmpdir:
            tmp_path = Path(tmpdir) / target.name
            yield tmp_path
            try:
                with open(tmp_path, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except FileNotFoundError:
                pass
        return
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
    if is_special(path):          # /dev/null, a pipe: stream straight into it
        with open(path, "wb") as fh:
            yield fh
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
