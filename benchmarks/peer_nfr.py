"""Peer: nessus-file-reader over one file (install with the ``bench`` extra).

    python benchmarks/peer_nfr.py FILE

Loads the file as nessus-file-reader does (a whole lxml tree), walks every host's items and
counts them and the L2TP ones (plugin 11387), so the work compares with ``vulnpipe parse``.
"""
import sys

import nessus_file_reader as nfr


def run(path: str) -> tuple[int, int]:
    items = l2tp = 0
    root = nfr.file.nessus_scan_file_root_element(path)
    for host in nfr.scan.report_hosts(root):
        for item in nfr.host.report_items(host):
            items += 1
            if item.get("pluginID") == "11387":
                l2tp += 1
    return items, l2tp


if __name__ == "__main__":
    print(*run(sys.argv[1]))
