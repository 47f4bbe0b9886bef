"""Coverage-guided fuzzing of archive inputs (``.zip`` members, ``.gz`` streams), run by
``make fuzz-archives`` (and ``make fuzz``).

The fuzzed bytes are a zip archive or a gzip file (the first byte chooses), given to a run
together with a good ``.nessus`` file. Whatever the archive holds (corrupt deflate data, a
wrong CRC, under- or over-declared sizes, truncation, odd member names), every input must be
read or refused with vulnpipe's one-line error (a :class:`VulnpipeError`, never another
exception, never more than one line, no control character), and the good file must still be
read with all its findings.

    .venv/bin/python fuzz/fuzz_archives.py -max_total_time=60 fuzz/work-archives
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.ingest.nessus.reader import NessusReader
    from vulnpipe.ingest.nessus.sources import close_archives, iter_sources
    from vulnpipe.ingest.profiles import resolve_profile

PROFILE = resolve_profile("all")
_TMP = Path(tempfile.mkdtemp(prefix="vulnpipe-fuzz-archives-"))
GOOD = _TMP / "z-good.nessus"
GOOD.write_bytes(b"<?xml version='1.0' encoding='UTF-8'?>\n<NessusClientData_v2><Report name='r'>"
                 b"<ReportHost name='10.0.0.1'><HostProperties/><ReportItem port='1701' "
                 b"svc_name='l2tp' protocol='udp' severity='2' pluginID='11387' pluginName='L2TP'"
                 b" pluginFamily='Service detection'><plugin_output>x</plugin_output>"
                 b"</ReportItem></ReportHost></Report></NessusClientData_v2>\n")


def _check_error(exc: VulnpipeError) -> None:
    line = str(exc)
    if "\n" in line or any(ord(c) < 32 and c != "\t" for c in line):
        raise AssertionError(f"not one printable line: {line!r}")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    path = _TMP / ("input.zip" if data[0] % 2 == 0 else "input.nessus.gz")
    for old in _TMP.glob("input.*"):
        old.unlink()
    path.write_bytes(data[1:])
    errors: list[VulnpipeError] = []
    good = 0
    for source in iter_sources([path, GOOD], errors):
        reader = NessusReader(source, PROFILE)
        try:
            _hosts, findings = reader.read_all()
        except VulnpipeError as exc:
            _check_error(exc)
            continue
        if source.path == GOOD:
            good = len(findings)
    for exc in errors:
        _check_error(exc)
    close_archives()
    if good != 1:
        raise AssertionError("the good file was not read beside a damaged archive")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
