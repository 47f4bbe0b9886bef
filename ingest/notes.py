"""Warnings about scan content that users must not miss."""
from __future__ import annotations

from vulnpipe.ingest.nessus.build import (
    ELSA_68453,
    L2TP_PLUGIN_ID,
    MAX_OUTPUT_CHARS,
    MAX_TEXT_CHARS,
    ParseStats,
)
from vulnpipe.ingest.profiles import Profile


def plugin_68453_note(profile: Profile, stats: list[tuple[str, ParseStats]]) -> str | None:
    """One sentence when scans hold plugin 68453 findings that the profile rightly ignores.

    Plugin 68453 is "Oracle Linux 6 : mysql (ELSA-2012-0105)"; it is often cited for L2TP
    by mistake. L2TP Network Server Detection is plugin 11387.
    """
    if profile.select_all or (ELSA_68453 in profile.plugin_ids
                              and ELSA_68453 not in profile.exclude_plugins):
        return None
    files = [(name, s) for name, s in stats if s.plugin_counts.get(ELSA_68453)]
    if not files:
        return None
    total = sum(s.plugin_counts[ELSA_68453] for _, s in files)
    title = next((s.elsa_68453_name for _, s in files if s.elsa_68453_name), None)
    where = files[0][0] + (f" (and {len(files) - 1} more file(s))" if len(files) > 1 else "")
    l2tp = (f"which profile '{profile.name}' uses" if L2TP_PLUGIN_ID in profile.primary_plugins
            else "not plugin 68453")
    return (f"{where} holds {total} finding(s) of plugin {ELSA_68453}"
            f"{f' ({title})' if title else ''}, an Oracle Linux mysql advisory, not L2TP: "
            f"L2TP Network Server Detection is plugin {L2TP_PLUGIN_ID}, {l2tp}; "
            f"those advisories are left out of profile '{profile.name}'.")


def truncated_note(name: str, stats: ParseStats) -> str | None:
    """One sentence when values of ``name`` were cut to the size caps (README, Security)."""
    if not stats.truncated:
        return None
    return (f"{name}: {stats.truncated} value(s) over the size caps were truncated, with a "
            f"marker in the record (plugin_output over {MAX_OUTPUT_CHARS:,} characters, any "
            f"other text or attribute over {MAX_TEXT_CHARS:,})")
