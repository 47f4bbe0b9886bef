"""The parse API alone: ``NessusReader(...).hosts()`` over one file, counting findings.

    python benchmarks/api_parse.py FILE PROFILE [fast|full|parallel]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vulnpipe.ingest import NessusReader, resolve_profile  # noqa: E402
from vulnpipe.ingest.nessus.sources import expand_inputs  # noqa: E402


def run(path: str, profile: str, mode: str) -> int:
    prof = resolve_profile(profile)
    if mode == "parallel":
        import os

        from vulnpipe.ingest.nessus.parallel import ParallelReader

        reader = ParallelReader(next(expand_inputs([path])), prof, workers=os.cpu_count())
        return sum(len(f) for _h, f in reader.hosts())
    source = next(expand_inputs([path]))
    reader = NessusReader(source, prof, fast=mode == "fast")
    return sum(len(f) for _h, f in reader.hosts())


if __name__ == "__main__":
    print(run(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "fast"))
