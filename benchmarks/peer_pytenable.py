"""Peer: pyTenable's ``NessusReportv2`` over one file (install with the ``bench`` extra).

    python benchmarks/peer_pytenable.py FILE

Reads every ReportItem as pyTenable hands it over (a dict per item) and counts the items
and the L2TP ones (plugin 11387), so the work compares with ``vulnpipe parse``.
"""
import sys

from tenable.reports import NessusReportv2


def run(path: str) -> tuple[int, int]:
    items = l2tp = 0
    with open(path, "rb") as fh:
        for item in NessusReportv2(fh):
            items += 1
            if str(item.get("pluginID")) == "11387":
                l2tp += 1
    return items, l2tp


if __name__ == "__main__":
    print(*run(sys.argv[1]))
