"""The public library over one file, as a script or notebook calls it.

    python benchmarks/api_parse.py FILE PROFILE iter     # sum(1 for _ in vulnpipe.iter_findings(...))
    python benchmarks/api_parse.py FILE PROFILE write    # vulnpipe.write_findings(..., /dev/null)

``iter`` builds a :class:`~vulnpipe.ingest.records.Finding` per selected item in this
process (the reader :func:`~vulnpipe.ingest.nessus.readers.open_reader` picks: split on
every core for a filtering profile, the streaming parser for ``all``); ``write`` is
``vulnpipe parse`` without the command line.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vulnpipe  # noqa: E402


def run(path: str, profile: str, mode: str) -> int:
    if mode == "write":
        return vulnpipe.write_findings([path], "/dev/null", fmt="jsonl",
                                       profile=vulnpipe.resolve_profile(profile)).count
    return sum(1 for _ in vulnpipe.iter_findings(path, profile))


if __name__ == "__main__":
    print(run(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "iter"))
