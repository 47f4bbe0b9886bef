"""Writers for finding records (``vulnpipe parse`` / ``vulnpipe findings``).

Each format implements :class:`RecordWriter`. Records arrive file by file: a file's
records are only kept once :meth:`commit_file` is called, so a scan that turns out to be
broken half-way leaves nothing of itself in the output.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from abc import ABC, abstractmethod
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import orjson

from vulnpipe.ingest.records import FINDING_FIELDS
from vulnpipe.reports.writers.cells import csv_text
from vulnpipe.reports.writers.output import atomic_path, open_output

FORMATS = ("jsonl", "csv", "xlsx", "parquet")


def _json_line(record: dict[str, Any], fields: Sequence[str] = ()) -> bytes:
    """One record as a compact UTF-8 JSON line (orjson: the hot path of ``parse --profile all``)."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def _csv_line(record: dict[str, Any], fields: Sequence[str], header: bool = False) -> bytes:
    buf = io.StringIO()
    row = [(name if header else csv_text(record.get(name))) for name in fields]
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue().encode("utf-8")


def encode_findings(line: Callable[[dict[str, Any], Sequence[str]], bytes],
                    fields: Sequence[str], pairs) -> tuple[bytes, int]:
    """The records of ``(Host, [Finding])`` pairs as output bytes, and how many records.
    Picklable as ``partial(encode_findings, line, fields)``: the parallel reader runs it in
    its worker processes (see :meth:`RecordWriter.encoder`)."""
    out = io.BytesIO()            # (not a list of lines: orjson's bytes carry spare capacity)
    count = 0
    for _host, findings in pairs:
        for finding in findings:
            out.write(line(finding.record(), fields))
            count += 1
    return out.getvalue(), count


class RecordWriter(ABC):
    """Collects records per input file and writes them to ``out`` on :meth:`close`."""

    def __init__(self, out: str | Path, fields: Sequence[str] = FINDING_FIELDS) -> None:
        self.out = out
        self.fields = list(fields)
        self.count = 0

    @abstractmethod
    def begin_file(self) -> None:
        """Start collecting the records of one input file."""

    @abstractmethod
    def add(self, record: dict[str, Any]) -> None:
        """One record of the current file."""

    @abstractmethod
    def commit_file(self) -> None:
        """The current file was read to the end: keep its records."""

    @abstractmethod
    def rollback_file(self) -> None:
        """The current file is broken: drop its records."""

    @abstractmethod
    def close(self, ok: bool = True) -> None:
        """Finish the output (``ok=False``: leave no output behind, and an existing file at
        ``out`` as it was)."""

    def encoder(self) -> Callable | None:
        """A picklable ``encode(pairs) -> (bytes, records)`` making this format's output of
        ``(Host, [Finding])`` pairs, for the text formats' ``add_encoded``; None when the
        format is not written record by record (then records go to :meth:`add`)."""
        return None


class TextWriter(RecordWriter):
    """Text formats. Into a regular (temporary) output file, a file's records are written
    straight away and cut off again if the file turns out broken; into standard output or a
    pipe, they are held in a spool and copied out once the file was read to the end."""

    def __init__(self, out, fields=FINDING_FIELDS) -> None:
        super().__init__(out, fields)
        self._ctx = open_output(out)
        self._stream: BinaryIO = self._ctx.__enter__()
        self._discard = _is_null_device(self._stream)     # nothing to hold back for
        self._direct = self._discard or _is_regular(self._stream)
        self._spool: Any = None
        self._sink: Any = self._stream
        self._mark = 0
        self._pending = 0
        self._headed = False

    def _header(self) -> None:
        """Write what comes before the first record (nothing by default)."""

    def _head(self) -> None:
        """The header, once, into the output itself (so an output whose every input failed
        is never started)."""
        if not self._headed:
            self._headed = True
            self._header()

    #: One record as bytes: ``line(record, fields)`` (a module-level function).
    line: Callable[[dict[str, Any], Sequence[str]], bytes]

    def _encode(self, record: dict[str, Any]) -> bytes:
        return type(self).line(record, self.fields)

    def encoder(self) -> Callable:
        return partial(encode_findings, type(self).line, self.fields)

    def add_encoded(self, data: bytes, records: int) -> None:
        """``records`` records of the current file, already encoded by :meth:`encoder`."""
        self._sink.write(data)
        self._pending += records

    def begin_file(self) -> None:
        self._pending = 0
        if self._discard:
            return
        if self._direct:
            self._head()
            self._mark = self._stream.tell()
        else:
            self._spool = self._sink = tempfile.SpooledTemporaryFile(max_size=64 << 20)

    def add(self, record: dict[str, Any]) -> None:
        self._sink.write(self._encode(record))
        self._pending += 1

    def commit_file(self) -> None:
        if not self._direct:
            self._head()
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, self._stream, 1 << 20)
            self._spool.close()
        self.count += self._pending

    def rollback_file(self) -> None:
        if self._discard:
            return
        if self._direct:
            self._stream.seek(self._mark)
            self._stream.truncate()
        elif self._spool is not None:
            self._spool.close()

    def close(self, ok: bool = True) -> None:
        if ok:
            self._head()
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def _is_null_device(stream: BinaryIO) -> bool:
    """Whether ``stream`` is the null device (whatever is written is thrown away)."""
    import os

    try:
        st, null = os.fstat(stream.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (null.st_dev, null.st_ino)


def _is_regular(stream: BinaryIO) -> bool:
    import os
    import stat

    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


class JsonlWriter(TextWriter):
    line = staticmethod(_json_line)


class CsvWriter(TextWriter):
    line = staticmethod(_csv_line)

    def _header(self) -> None:
        self._stream.write(_csv_line({}, self.fields, header=True))


class _TableWriter(RecordWriter):
    """Binary formats: rows are held (these formats are for results that fit in memory)."""

    def __init__(self, out, fields=FINDING_FIELDS) -> None:
        super().__init__(out, fields)
        self.rows: list[dict[str, Any]] = []
        self._file_rows: list[dict[str, Any]] = []

    def begin_file(self) -> None:
        self._file_rows = []

    def add(self, record) -> None:
        self._file_rows.append(record)

    def commit_file(self) -> None:
        self.rows.extend(self._file_rows)
        self.count += len(self._file_rows)
        self._file_rows = []

    def rollback_file(self) -> None:
        self._file_rows = []


class XlsxWriter(_TableWriter):
    def close(self, ok: bool = True) -> None:
        if not ok:
            return
        from vulnpipe.reports.writers.xlsx import Sheet, write_xlsx

        rows = ([r.get(f) for f in self.fields] for r in self.rows)
        write_xlsx(self.out, [Sheet("Findings", self.fields, rows,
                                    wrap=frozenset({"synopsis", "solution", "plugin_output"}))])


class ParquetWriter(_TableWriter):
    def close(self, ok: bool = True) -> None:
        if not ok:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        from vulnpipe.ingest.nessus.frames import FINDING_DTYPES

        types = {"Int64": pa.int64(), "Float64": pa.float64(), "boolean": pa.bool_(),
                 "object": pa.list_(pa.string())}
        schema = pa.schema([(f, types.get(FINDING_DTYPES.get(f, "string"), pa.string()))
                            for f in self.fields])
        table = pa.Table.from_pylist([{f: r.get(f) for f in self.fields} for r in self.rows],
                                     schema=schema)
        with atomic_path(self.out) as tmp:
            pq.write_table(table, tmp)


WRITERS: dict[str, type[JsonlWriter] | type[CsvWriter] | type[XlsxWriter] | type[ParquetWriter]] = {
    "jsonl": JsonlWriter, "csv": CsvWriter, "xlsx": XlsxWriter, "parquet": ParquetWriter}


def make_writer(fmt: str, out: str | Path, fields: Sequence[str] = FINDING_FIELDS) -> RecordWriter:
    if fmt in ("xlsx", "parquet") and str(out) == "-":
        from vulnpipe.ingest.errors import InputError
        raise InputError(f"--format {fmt} needs a file: give --out PATH")
    return WRITERS[fmt](out, fields)
