"""Ticket exports: JSONL, Markdown (one file per ticket), Jira CSV, Excel.

All four render the dicts from :func:`reports.tickets.view.ticket_views`. Files are written
atomically; rows are sorted by ticket key; nothing depends on the clock.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.reports.delivery.settings import JIRA_PRIORITY
from vulnpipe.reports.tickets.model import OPEN_STATES, STATES, priority_rank
from vulnpipe.reports.tickets.view import TICKET_FIELDS, summary_rows
from vulnpipe.reports.writers.cells import csv_text
from vulnpipe.reports.writers.output import open_output
from vulnpipe.reports.writers.xlsx import Sheet, write_xlsx

JIRA_COLUMNS = ("Summary", "Description", "Issue Type", "Priority", "Labels", "Assignee",
                "Due Date", "External ID")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
#: The name of a ticket's Markdown file (``ticket_key`` + ``.md``): the only files
#: :func:`write_markdown` removes from its folder (and only those it wrote).
MARKDOWN_NAME = re.compile(r"VP-[0-9A-F]{10}\.md")


# -- escaping ----------------------------------------------------------------------------------

def md(text: object) -> str:
    """Scanner/inventory text made inert in Markdown: HTML escaped, specials backslashed,
    on one line."""
    s = " ".join(str(text if text is not None else "").split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


#: An e-mail address plain enough to be a ``mailto:`` link (anything else stays text).
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def md_email(text: object) -> str:
    """An inventory e-mail address in Markdown: a ``<mailto:...>`` link when it is a plain
    address, else inert text. The only links a ticket holds are ``mailto:`` and ``https:``
    ones vulnpipe makes itself: ``javascript:`` or any other scheme is never a link."""
    s = str(text if text is not None else "").strip()
    if _EMAIL.fullmatch(s):
        return f"<mailto:{s}>"
    return md(s)


def fence(text: object) -> str:
    """A fenced code block longer than any backtick run inside ``text``."""
    s = str(text or "")
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}text\n{s}\n{bar}"


_JIRA_SPECIAL = re.compile(r"([{}\[\]|*_+^~?!#\-\\])")


def jira_text(text: object) -> str:
    """Scanner text made inert in Jira wiki markup (macros, links, formatting escaped; a
    backslash, which would escape what follows or make a line break, as ``&#92;``)."""
    s = " ".join(str(text if text is not None else "").split())
    return _JIRA_SPECIAL.sub(lambda m: "&#92;" if m.group(1) == "\\" else "\\" + m.group(1), s)


def jira_block(text: object) -> str:
    s = str(text or "").replace("{noformat}", "{ noformat }")
    return "{noformat}\n" + s + "\n{noformat}"


def jira_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-").lower()


# -- writers ---------------------------------------------------------------------------------

def write_jsonl(views: Sequence[dict], out: str | Path) -> None:
    with open_output(out) as fh:
        for v in views:
            fh.write((json.dumps({k: v[k] for k in TICKET_FIELDS}, ensure_ascii=False,
                                 sort_keys=False) + "\n").encode("utf-8"))


@functools.lru_cache(maxsize=None)     # one per process: templates compile once
def _env():
    from importlib import resources

    import jinja2

    loader = jinja2.FunctionLoader(
        lambda name: resources.files("vulnpipe.templates").joinpath(name).read_text("utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=False, keep_trailing_newline=True,
                             trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    env.filters["md"] = md
    env.filters["md_email"] = md_email
    env.filters["fence"] = fence
    return env


def render_markdown(view: dict) -> str:
    return _env().get_template("ticket.md.j2").render(t=view)


def _keys_file(directory: Path, profile: str) -> Path:
    """The hidden list of the ``KEY.md`` files :func:`write_markdown` last wrote into
    ``directory`` for ``profile`` (one list per profile: profiles may share a folder)."""
    digest = hashlib.sha256(profile.encode("utf-8")).hexdigest()[:12]
    return directory / f".vulnpipe-{digest}.keys"


def _listed(path: Path) -> set[str]:
    """The file names a keys file lists (none when there is no such file yet)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return set()
    return {ln for ln in lines if MARKDOWN_NAME.fullmatch(ln)}


def write_markdown(views: Sequence[dict], directory: str | Path, profile: str) -> list[Path]:
    """One ``KEY.md`` per ticket (named by ticket key, never by scanner text) of ``profile``.
    Every file is written into a hidden folder inside ``directory`` first and moved into
    place only when all are written: a failure (a full disk) leaves the folder as it was.
    Only then is each ``KEY.md`` this profile's last export wrote and this one does not (a
    ticket that left the exports, fixed before the window) removed: the folder holds exactly
    the profile's exported tickets. A hidden ``.vulnpipe-*.keys`` file per profile lists
    what was written, so another profile's files in the same folder and any file vulnpipe
    did not write stay (also ``KEY.md`` files written before these lists existed)."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".vulnpipe-", dir=d))
    except OSError as exc:
        raise VulnpipeError(f"cannot write here: {exc.strerror or exc}", path=d,
                            hint="choose a writable folder for --markdown") from None
    template = _env().get_template("ticket.md.j2")
    keys = _keys_file(d, profile)
    try:
        names = []
        for v in views:
            name = f"{v['key']}.md"
            (staging / name).write_text(template.render(t=v), encoding="utf-8")
            names.append(name)
        listing = staging / keys.name
        listing.write_text(f"# vulnpipe: the KEY.md files of profile {profile!r} in this folder "
                           "(a ticket's file is removed when it leaves the exports)\n"
                           + "".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")
        stale = sorted(_listed(keys) - set(names))
        for name in names:
            os.replace(staging / name, d / name)
        os.replace(listing, keys)
        for name in stale:
            with contextlib.suppress(FileNotFoundError):   # gone meanwhile: as wanted
                (d / name).unlink()
    except OSError as exc:
        raise VulnpipeError(f"cannot write the tickets' Markdown: {exc.strerror or exc}", path=d,
                            hint="check free disk space and permissions") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [d / name for name in names]


def jira_description(v: dict) -> str:
    lines = [f"h2. {v['key']}: {jira_text(v['title'])}", "",
             f"*Priority:* {v['priority'] or '-'} | *Due:* {v['due_date'] or '-'} | "
             f"*State:* {v['state']}",
             f"*Host:* {jira_text(v['host_label'])} | *OS:* {jira_text(v['os'] or 'unknown')}",
             f"*Owner:* {jira_text(v['owner'] or 'unowned')} | *Team:* {jira_text(v['team'] or '-')} | "
             f"*Asset:* {jira_text(v['asset_id'] or 'not in inventory')}", "", "h3. Findings"]
    for f in v["findings"]:
        lines.append(f"* Plugin {f['plugin_id']} {jira_text(f['plugin_name'])} on "
                     f"{f['port']}/{f['protocol']} ({f['role'] or 'finding'}, {f['state']}), "
                     f"first seen {f['first_seen']}, last seen {f['last_seen']}")
        if f["plugin_output_excerpt"]:
            lines.append(jira_block(f["plugin_output_excerpt"]))
    if v["why"]:
        lines += ["", "h3. Why it matters", jira_text(v["why"])]
    for r in v["remediation"]:
        lines += ["", f"h3. Remediation: {jira_text(r['title'])} ({jira_text(r['platform_label'])})"]
        for part, heading in (("steps", "Fix"), ("verify_local", "Verify on the host"),
                              ("verify_rescan", "Verify by rescan"), ("rollback", "Roll back"),
                              ("if_needed", "If the service is needed")):
            if r[part]:
                lines.append(f"h4. {heading}")
                for s in r[part]:
                    lines.append(f"# {jira_text(s['text'])}")
                    if s["commands"]:
                        lines.append(jira_block("\n".join(s["commands"])))
    return "\n".join(lines)


def jira_labels(v: dict) -> list[str]:
    """The ticket's Jira labels: ``vulnpipe``, the profile, the priority, ``team-…``."""
    labels = ["vulnpipe", jira_label(v["profile"]), (v["priority"] or "").lower()]
    if v["team"]:
        labels.append(jira_label("team-" + v["team"]))
    return [label for label in labels if label]


def write_jira_csv(views: Sequence[dict], out: str | Path) -> None:
    """Jira's CSV importer format: every import creates new issues (Jira's CSV importer
    does not match existing ones; ``vulnpipe jira sync`` keeps one issue per ticket)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(JIRA_COLUMNS)
    for v in views:
        w.writerow([csv_text(x) for x in (
            f"[{v['key']}] {v['title']}", jira_description(v), "Task",
            JIRA_PRIORITY.get(v["priority"] or "", "Medium"), " ".join(jira_labels(v)),
            v["owner_email"] or "", v["due_date"] or "", v["key"])])
    with open_output(out) as fh:
        fh.write(buf.getvalue().encode("utf-8"))


def _date(text: str | None):
    from datetime import date, datetime

    if not text:
        return None
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


#: The Tickets sheet: what an owner acts on (the title names the host, so the sheet prints
#: one page wide, readable); the host and asset details are on the Assets sheet, by key.
TICKET_SHEET_COLUMNS = ("Key", "Title", "Status", "Priority", "Due date", "Overdue", "Owner",
                        "Team", "First seen", "Last seen", "Fixed at", "Findings")
ASSET_SHEET_COLUMNS = ("Key", "Host", "Address", "OS", "Platform", "Asset ID", "Match", "Owner",
                       "Owner email", "Team", "Business unit", "Criticality", "Internet facing")
FINDING_SHEET_COLUMNS = ("Key", "Host", "Address", "Plugin ID", "Plugin name", "Port", "Protocol",
                         "Role", "State", "First seen", "Last seen", "Scans", "Plugin output")


def _sheet_order(v: dict) -> tuple:
    """Open tickets first, then by priority, then the oldest first."""
    return (v["state"] not in OPEN_STATES, priority_rank(v["priority"]),
            v["first_seen"] or "", v["key"])


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def write_xlsx_tickets(views: Sequence[dict], out: str | Path, data_quality: Sequence[tuple] = ()) -> None:
    views = sorted(views, key=_sheet_order)
    ticket_rows = [[v["key"], v["title"], v["state"], v["priority"], _date(v["due_date"]),
                    _yes_no(v["overdue"]), v["owner"], v["team"], _date(v["first_seen"]),
                    _date(v["last_seen"]), _date(v["fixed_at"]),
                    len(v["findings"])] for v in views]
    asset_rows = [[v["key"], v["host_name"], v["address"], v["os"], v["platform"], v["asset_id"],
                   v["match_method"], v["owner"], v["owner_email"], v["team"],
                   v["business_unit"], v["criticality"], _yes_no(v["internet_facing"])]
                  for v in views]
    finding_rows = [[v["key"], v["host_name"], v["address"], f["plugin_id"], f["plugin_name"],
                     f["port"], f["protocol"], f["role"], f["state"], _date(f["first_seen"]),
                     _date(f["last_seen"]), "; ".join(f["scans"]), f["plugin_output"]]
                    for v in views for f in v["findings"]]
    sheets = [
        Sheet("Tickets", TICKET_SHEET_COLUMNS, ticket_rows, wrap=frozenset({"Title"}),
              choices={"Status": STATES}),
        Sheet("Assets", ASSET_SHEET_COLUMNS, asset_rows),
        Sheet("Findings", FINDING_SHEET_COLUMNS, finding_rows,
              wrap=frozenset({"Plugin name", "Scans", "Plugin output"})),
        Sheet("Summary", ("Measure", "Count"), summary_rows(views)),
        Sheet("Data quality", ("Kind", "Host or asset", "Detail"), list(data_quality),
              wrap=frozenset({"Detail"})),
    ]
    write_xlsx(out, sheets)
