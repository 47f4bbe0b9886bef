"""Library entry points for scripts and notebooks."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.profiles import Profile, resolve_profile
from vulnpipe.ingest.records import Finding, Host

if TYPE_CHECKING:  # pandas is imported only when frames are asked for
    import pandas as pd


def _profile(profile: Profile | str) -> Profile:
    return profile if isinstance(profile, Profile) else resolve_profile(profile)


def iter_scan(inputs: Iterable[str | Path] | str | Path, profile: Profile | str = "l2tp"
              ) -> Iterator[tuple[Host, list[Finding]]]:
    """Every host of every input, with its selected findings, streamed in file order."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    prof = _profile(profile)
    for source in expand_inputs(inputs):
        yield from open_reader(source, prof, digest=False).hosts()


def iter_findings(inputs: Iterable[str | Path] | str | Path, profile: Profile | str = "l2tp"
                  ) -> Iterator[Finding]:
    """The findings that ``profile`` selects, streamed in file order."""
    for _host, findings in iter_scan(inputs, profile):
        yield from findings


def read_frames(inputs: Iterable[str | Path] | str | Path, profile: Profile | str = "l2tp"
                ) -> "tuple[pd.DataFrame, pd.DataFrame]":
    """``(hosts, findings)`` as pandas DataFrames with explicit dtypes (see :mod:`ingest.frames`)."""
    from vulnpipe.ingest.nessus.frames import findings_frame, hosts_frame

    hosts: list[Host] = []
    findings: list[Finding] = []
    for host, items in iter_scan(inputs, profile):
        hosts.append(host)
        findings.extend(items)
    return hosts_frame(hosts), findings_frame(findings)
