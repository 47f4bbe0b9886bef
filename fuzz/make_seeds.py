"""Seeds for the archive and inventory fuzz targets (``make fuzz-archives``,
``make fuzz-inventory``): small valid files, each prefixed with the byte that chooses its
kind (even: zip / xlsx, odd: gz / csv)."""
from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(archives: Path, inventories: Path) -> None:
    archives.mkdir(parents=True, exist_ok=True)
    inventories.mkdir(parents=True, exist_ok=True)
    scan = (ROOT / "sample_data" / "scans" / "2026-W48-rescan-a.nessus").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.nessus", scan)
        zf.writestr("dir/b.xml", scan[:2000])
        zf.writestr("notes.txt", b"not a scan")
    (archives / "seed-zip").write_bytes(b"\0" + buf.getvalue())
    (archives / "seed-gz").write_bytes(b"\1" + gzip.compress(scan, mtime=0))
    (archives / "seed-gz-cut").write_bytes(b"\1" + gzip.compress(scan, mtime=0)[:300])
    (inventories / "seed-xlsx").write_bytes(b"\0" + (ROOT / "sample_data" / "inventory.xlsx").read_bytes())
    csv = (ROOT / "sample_data" / "inventory.csv").read_bytes()
    (inventories / "seed-csv").write_bytes(b"\1" + csv)
    (inventories / "seed-csv-quote").write_bytes(b"\1" + csv.replace(b",Lars", b',"Lars', 1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
