"""Baseline (a) ``read``: read the file in 1 MiB chunks into one reused buffer and count
``<ReportItem `` (the speed the disk/page cache hands the bytes over). No chunk is copied: a
tag split across two chunks is counted by looking at the few bytes on either side of the
boundary, kept in a small separate buffer."""
import sys

NEEDLE = b"<ReportItem "
CHUNK = 1 << 20


def count(path: str) -> int:
    n = 0
    keep = len(NEEDLE) - 1
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    tail = b""
    with open(path, "rb", buffering=0) as f:
        while True:
            got = f.readinto(buf)
            if not got:
                return n
            n += buf.count(NEEDLE, 0, got)
            if tail:            # a needle across the boundary: tail + the chunk's first bytes
                n += (tail + bytes(view[:keep])).count(NEEDLE)
            tail = bytes(view[max(0, got - keep):got])


if __name__ == "__main__":
    print(count(sys.argv[1]))
