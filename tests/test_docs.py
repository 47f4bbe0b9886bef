"""The documentation tells the truth: the example runs, links resolve, commands exist, and the
generated command reference matches the program's --help."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, made_once, run_cli

DOCS = ROOT / "docs"
EXPECTED = json.loads((ROOT / "sample_data" / "expected.json").read_text("utf-8"))
W48 = "2026-W48-weekly.nessus"

#: Markdown files whose relative links must resolve.
LINKED_FILES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
#: Pages written with this test: their #anchors must resolve too.
OWN_PAGES = sorted([DOCS / "README.md", DOCS / "tutorial.md", DOCS / "plugin-11387-vs-68453.md",
                    *(DOCS / "howto").glob("*.md"), *(DOCS / "reference").glob("*.md")])
#: Pages whose `vulnpipe COMMAND` mentions must name real commands.
COMMAND_PAGES = sorted([DOCS / "tutorial.md", *(DOCS / "howto").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?\s*\)")
_HTML_REF = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)=["']([^"']+)["']""")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_COMMAND = re.compile(r"\bvulnpipe((?:\s+-{1,2}[A-Za-z][\w-]*)*)\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?")


def _make_reference():
    spec = importlib.util.spec_from_file_location("make_reference",
                                                  DOCS / "reference" / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _help_in_process(words: list[str]) -> str:
    """``vulnpipe WORDS --help`` as make_reference.py's ``help_text`` gets it from a process
    of its own (100 columns, a dumb terminal, no colour), run in this process."""
    import os

    saved = os.environ.pop("FORCE_COLOR", None)
    try:
        r = run_cli(*words, "--help", env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
    finally:
        if saved is not None:
            os.environ["FORCE_COLOR"] = saved
    assert r.returncode == 0, r.stderr.decode()
    return "\n".join(line.rstrip() for line in r.stdout.decode().strip("\n").splitlines())


def _prose(text: str) -> str:
    """Markdown without fenced code blocks (links inside code are not links)."""
    return _FENCE.sub("", text)


def _targets(text: str) -> list[str]:
    prose = _CODE_SPAN.sub("", _prose(text))
    return [*_LINK.findall(prose), *_IMAGE.findall(prose), *_HTML_REF.findall(prose)]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text("utf-8")
    seen: Counter[str] = Counter()
    out = set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", text))
    for line in _prose(text).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = _slug(m.group(1))
            out.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
            seen[slug] += 1
    return out


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


# -- the library example --------------------------------------------------------------------

@pytest.fixture(scope="session")
def notebook_output(tmp_path_factory) -> str:
    """What `python examples/notebook.py` prints, run once per session."""
    def run(folder: Path) -> None:
        proc = subprocess.run([sys.executable, "examples/notebook.py"], cwd=ROOT,
                              capture_output=True, text=True, encoding="utf-8", timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (folder / "stdout.txt").write_text(proc.stdout, "utf-8")

    return (made_once(tmp_path_factory, "notebook", run) / "stdout.txt").read_text("utf-8")


def test_notebook_parses_the_week48_scan_to_frames_without_68453(notebook_output):
    facts = EXPECTED["files"][W48]
    wanted = len(facts["l2tp"]) + len(facts["related"])
    assert f"parse: {facts['hosts']} hosts, {wanted} l2tp-profile findings in {W48}" in notebook_output
    assert (f"parse: plugin 68453 under profile 'all': {len(facts['elsa_68453'])}; "
            "under profile 'l2tp': 0") in notebook_output


def test_notebook_joins_with_the_inventory(notebook_output):
    rows = EXPECTED["inventory"]["rows"]
    assert f"join: inventory inventory.csv: {rows} assets" in notebook_output
    methods = {m for m in ("ip", "fqdn", "hostname", "mac", "cidr", "ambiguous", "unmatched")}
    line = next(l for l in notebook_output.splitlines() if l.startswith("join: hosts by match method:"))
    assert set(re.findall(r"'(\w+)': \d+", line)) == methods


def test_notebook_reconcile_matches_the_expected_statuses(notebook_output):
    counts = Counter(e["status"] for e in EXPECTED["reconcile"]["l2tp"])
    line = ", ".join(f"{counts[s]} {s}" for s in
                     ("still_open", "fixed", "not_rescanned", "not_covered", "new"))
    assert f"reconcile: {line}" in notebook_output
    assert "no policy information (2026-W48-rescan-c.nessus)" in notebook_output
    assert "plugin not enabled (2026-W48-rescan-b.nessus)" in notebook_output


def test_notebook_builds_tickets_and_renders_markdown(notebook_output):
    # the tutorial quotes the same numbers: 23 tickets, 4 fixed, 18 open, 1 resurfaced
    assert "store: 9 scan files ingested: {'stored': 9}" in notebook_output
    assert "tickets: 23 tickets: {'fixed': 4, 'open': 18, 'resurfaced': 1}" in notebook_output
    assert re.search(r"^render: ticket VP-[0-9A-F]{10} for 10\.10\.1\.21 \(windows_server\)",
                     notebook_output, re.M)
    assert re.search(r"^# VP-[0-9A-F]{10}: L2TP VPN endpoint exposed on \S+ \(10\.10\.1\.21\)",
                     notebook_output, re.M)
    assert notebook_output.rstrip().endswith(
        "done: parse, join, reconcile, tickets and render all ran")


# -- links ------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", LINKED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page):
    broken = []
    for target in _targets(page.read_text("utf-8")):
        if not _relative(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


@pytest.mark.parametrize("page", OWN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_anchor_in_the_guides_and_reference_exists(page):
    broken = []
    for target in _targets(page.read_text("utf-8")):
        if not _relative(target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        dest = (page.parent / path) if path else page
        if dest.suffix == ".md" and dest.exists() and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: no such anchor {broken}"


# -- commands named in the docs ---------------------------------------------------------------

@pytest.fixture(scope="module")
def real_commands() -> dict[str, set[str]]:
    """Command name -> its sub-command names (empty for plain commands), from --help."""
    ref = _make_reference()
    top = ref.subcommands(_help_in_process([]))
    assert "ingest" in top and "tickets" in top
    return {name: set(ref.subcommands(_help_in_process([name])))
            if name in ("db", "report", "evidence", "config", "jira") else set() for name in top}


def _mentions(text: str) -> list[tuple[str, str | None]]:
    """(command, next word) for every `vulnpipe ...` inside code (spans and fenced blocks)."""
    code = [m.group(0) for m in _FENCE.finditer(text)]
    code += [m.group(2) for m in _CODE_SPAN.finditer(_prose(text))]
    found = []
    for chunk in code:
        for line in chunk.splitlines():
            for m in _COMMAND.finditer(line):
                found.append((m.group(2), m.group(3)))
    return found


@pytest.mark.parametrize("page", COMMAND_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_vulnpipe_command_in_the_tutorial_and_howtos_is_real(page, real_commands):
    mentions = _mentions(page.read_text("utf-8"))
    assert mentions, f"{page.name} names no vulnpipe command"
    wrong = []
    for command, sub in mentions:
        if command not in real_commands:
            wrong.append(command)
        elif real_commands[command] and sub is not None and sub not in real_commands[command]:
            wrong.append(f"{command} {sub}")
    assert not wrong, f"{page.relative_to(ROOT)} names commands vulnpipe does not have: {wrong}"


def test_the_tutorial_walks_every_step_of_the_pipeline():
    named = {c if not s or c not in ("report", "evidence") else f"{c} {s}"
             for c, s in _mentions((DOCS / "tutorial.md").read_text("utf-8"))}
    assert {"inspect", "parse", "join", "ingest", "tickets", "reconcile", "report weekly",
            "evidence build", "evidence verify", "run"} <= named


# -- generated and field references -------------------------------------------------------

def test_command_reference_is_up_to_date_with_the_help_texts():
    """commands.md is what make_reference.py writes, its ~40 help texts taken in this process
    (the same text a `vulnpipe ... --help` process prints: checked on one command group)."""
    ref = _make_reference()
    assert ref.help_text(["db"]) == _help_in_process(["db"])
    committed = (DOCS / "reference" / "commands.md").read_text("utf-8")
    assert ref.render(fetch=_help_in_process) == committed, (
        "docs/reference/commands.md is stale: run .venv/bin/python "
        "docs/reference/make_reference.py and commit it")



def test_field_reference_names_every_output_field():
    from vulnpipe.ingest.records import FINDING_FIELDS
    from vulnpipe.reports.reconcile import RESULT_FIELDS
    from vulnpipe.reports.tickets.view import TICKET_FIELDS
    from vulnpipe.reports.writers.joined import JOINED_FIELDS

    text = (DOCS / "reference" / "fields.md").read_text("utf-8")
    missing = [f for f in (*FINDING_FIELDS, *JOINED_FIELDS, *TICKET_FIELDS, *RESULT_FIELDS)
               if f"`{f}`" not in text]
    assert not missing, f"docs/reference/fields.md does not describe {missing}"


def test_ticket_reference_names_every_state():
    from vulnpipe.reports.tickets.model import STATES

    text = (DOCS / "reference" / "tickets.md").read_text("utf-8")
    assert all(f"| `{s}` |" in text for s in STATES)


def test_plugin_note_matches_the_profile():
    from vulnpipe.ingest.profiles import builtin_profiles

    l2tp = builtin_profiles()["l2tp"]
    assert 11387 in l2tp.primary_plugins and 68453 in l2tp.exclude_plugins
    assert 68453 not in l2tp.plugin_ids
    note = (DOCS / "plugin-11387-vs-68453.md").read_text("utf-8")
    assert "L2TP Network Server Detection" in note and "ELSA-2012-0105" in note
    for test_name in re.findall(r"`tests/(test_\w+\.py)::(\w+)`", note):
        source = (ROOT / "tests" / test_name[0]).read_text("utf-8")
        assert f"def {test_name[1]}(" in source, f"the note cites a test that does not exist: {test_name}"
