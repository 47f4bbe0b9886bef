"""Baseline (a) ``read``: read the file in 1 MiB chunks and count ``<ReportItem `` (the speed
the disk/page cache hands the bytes over; a tag split across two chunks is still counted)."""
import sys

NEEDLE = b"<ReportItem "


def count(path: str) -> int:
    n = 0
    tail = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return n
            data = tail + chunk
            n += data.count(NEEDLE)
            tail = data[-(len(NEEDLE) - 1):]


if __name__ == "__main__":
    print(count(sys.argv[1]))
