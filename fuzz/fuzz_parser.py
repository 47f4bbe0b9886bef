"""Coverage-guided fuzzing of the .nessus parser (atheris / libFuzzer), run by ``make fuzz``.

Every input must either parse or be refused with a :class:`ingest.errors.VulnpipeError`
(never another exception). The fast path in strict mode and the full streaming parser must
agree on it: same hosts, findings and statistics, or the same error message. Without strict
mode the fast path does not read the content of items the profile drops, so it may read a
file the full parser refuses; but whenever the full parser reads a file, it must read the
same.

    .venv/bin/python fuzz/fuzz_parser.py -max_total_time=300 fuzz/work-corpus
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.ingest.nessus.reader import NessusReader
    from vulnpipe.ingest.nessus.sources import Source
    from vulnpipe.ingest.profiles import resolve_profile

PROFILES = [resolve_profile("l2tp"), resolve_profile("all")]
_TMP = Path(tempfile.mkdtemp(prefix="vulnpipe-fuzz-"))


def _outcome(path: Path, profile, fast: bool, strict: bool = False):
    source = Source(name="fuzz.nessus", path=path, opener=lambda: open(path, "rb"))
    reader = NessusReader(source, profile, fast=fast, strict=strict)
    try:
        hosts, findings = reader.read_all()
    except VulnpipeError as exc:
        return ("error", str(exc))
    st = reader.stats
    return ("ok", hosts, [f.record() for f in findings], st.items, dict(st.severity),
            dict(st.plugin_counts), st.sha256)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    profile = PROFILES[fdp.ConsumeIntInRange(0, 1)]
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    path = _TMP / "input.nessus"       # the fast path works on real files (mmap)
    path.write_bytes(body)
    full = _outcome(path, profile, fast=False)
    strict = _outcome(path, profile, fast=True, strict=True)
    if full != strict:
        raise AssertionError(f"strict fast path and full parser disagree:\n full={full!r:.500}\n"
                             f" fast={strict!r:.500}")
    if full[0] == "ok":
        fast = _outcome(path, profile, fast=True)
        if full != fast:
            raise AssertionError(f"fast path and full parser disagree on a file both read:\n"
                                 f" full={full!r:.500}\n fast={fast!r:.500}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
