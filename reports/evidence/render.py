"""Rendering the pack's readable files: ``index.html``, ``README.txt``, ``tickets/<KEY>.md``.

``index.html`` is rendered with Jinja2 autoescaping on and nothing marked safe; its CSP
meta tag allows no scripts and no remote content. Markdown escapes scanner text with the
same filters as the ticket exports.
"""
from __future__ import annotations

import functools
import json
from functools import lru_cache
from typing import Any

INDEX_TEMPLATE = "evidence_index.html.j2"
README_TEMPLATE = "evidence_README.txt.j2"
TICKET_TEMPLATE = "evidence_ticket.md.j2"


@lru_cache(maxsize=1)
@functools.lru_cache(maxsize=None)     # one per process: templates compile once
def environment():
    """The Jinja2 environment: templates from the ``templates`` package, HTML autoescaped."""
    from importlib import resources

    import jinja2

    from vulnpipe.reports.tickets.export import fence, md

    loader = jinja2.FunctionLoader(
        lambda name: resources.files("vulnpipe.templates").joinpath(name).read_text("utf-8"))
    env = jinja2.Environment(loader=loader,
                             autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["md"] = md
    env.filters["fence"] = fence
    env.filters["yesno"] = yesno
    env.filters["utc"] = utc
    env.filters["host_of"] = host_of
    return env


def yesno(value: object) -> str:
    """True/False/None as yes/no/unknown."""
    return "unknown" if value is None else ("yes" if value else "no")


def utc(text: str | None) -> str:
    """An ISO 8601 UTC time for the overview, to the minute: ``2026-11-25T01:03:54Z`` ->
    ``2026-11-25 01:03`` (the JSON files keep the exact time)."""
    if not text:
        return "-"
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}"
    return text


def host_of(doc: dict[str, Any]) -> str:
    """A host document of the pack (``name``, ``address``, ``host_fqdn``, ``netbios_name``) as
    ``name (address)``, the way every output shows hosts."""
    from vulnpipe.reports.hosts import host_label

    return host_label(doc.get("host_fqdn"), doc.get("netbios_name"), doc.get("name"),
                      doc.get("address"))


def render_index(pack: dict[str, Any]) -> bytes:
    return environment().get_template(INDEX_TEMPLATE).render(pack=pack).encode("utf-8")


def render_readme(pack: dict[str, Any]) -> bytes:
    text = environment().get_template(README_TEMPLATE).render(pack=pack)
    return text.replace("\n", "\r\n").encode("utf-8")     # readable in Notepad too


def render_ticket_md(doc: dict[str, Any]) -> bytes:
    return environment().get_template(TICKET_TEMPLATE).render(t=doc).encode("utf-8")


def json_bytes(doc: Any) -> bytes:
    """Pretty, stable JSON (key order as built, UTF-8, trailing newline)."""
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
