"""Coverage-guided fuzzing of inventories (CSV and XLSX), run by ``make fuzz-inventory``
(and ``make fuzz``).

The fuzzed bytes are an inventory file, CSV or XLSX (the first byte chooses the name's
ending). Each must load or be refused with vulnpipe's one-line error (an
:class:`InventoryError`, never another exception, never more than one line).

    .venv/bin/python fuzz/fuzz_inventory.py -max_total_time=60 fuzz/work-inventory
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from vulnpipe.ingest.assets.inventory import load_inventory
    from vulnpipe.ingest.errors import VulnpipeError

_TMP = Path(tempfile.mkdtemp(prefix="vulnpipe-fuzz-inventory-"))


def test_one_input(data: bytes) -> None:
    if not data:
        return
    path = _TMP / ("inventory.xlsx" if data[0] % 2 == 0 else "inventory.csv")
    path.write_bytes(data[1:])
    try:
        load_inventory(path)
    except VulnpipeError as exc:
        line = str(exc)
        if "\n" in line or any(ord(c) < 32 and c != "\t" for c in line):
            raise AssertionError(f"not one printable line: {line!r}") from None


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
