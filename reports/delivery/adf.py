"""Atlassian Document Format (ADF) for Jira Cloud, from the wiki markup the Jira CSV uses.

:func:`vulnpipe.reports.tickets.export.jira_description` writes a ticket as Jira wiki markup
(what Jira Data Center stores). Jira Cloud's REST API v3 takes ADF instead, so
:func:`wiki_to_adf` reads back the small part of wiki markup that function writes:

* ``h2.`` … ``h6.`` headings;
* ``* item`` and ``# item`` list lines (a ``{noformat}`` block right after an item belongs
  to that item, so numbering goes on);
* ``{noformat}`` blocks (code blocks: their lines are taken as they are);
* other lines: paragraphs (consecutive lines joined by hard breaks), with ``*bold*``.

Scanner and inventory text reaches the markup only through
:func:`~vulnpipe.reports.tickets.export.jira_text` (every markup character backslashed, a
backslash written ``&#92;``) or inside a ``{noformat}`` block, so here it only ever becomes
the ``text`` of ADF text nodes: never a link, a mention, a macro or a mark.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

_HEADING = re.compile(r"^h([1-6])\. (.*)$")
_ITEM = re.compile(r"^([*#]) (.*)$")
NOFORMAT = "{noformat}"
BACKSLASH = "&#92;"

Node = dict[str, Any]


def doc(content: list[Node]) -> Node:
    return {"type": "doc", "version": 1, "content": content}


def text_node(text: str, *, bold: bool = False) -> Node:
    node: Node = {"type": "text", "text": text}
    if bold:
        node["marks"] = [{"type": "strong"}]
    return node


def paragraph(inline: list[Node]) -> Node:
    return {"type": "paragraph", "content": inline}


def code_block(text: str) -> Node:
    return {"type": "codeBlock", "content": [text_node(text)] if text else []}


#: what is not itself in wiki text: ``\\X`` (a literal X), ``&#92;`` (a backslash), ``*``
_SPECIAL = re.compile(r"\\(.)|&#92;|\*", re.S)


def inline(line: str) -> list[Node]:
    """One line of wiki text as text nodes: ``\\X`` is a literal X, ``&#92;`` a backslash,
    ``*…*`` bold; every other character is itself."""
    runs: list[tuple[str, bool]] = []     # (text, bold)
    buf: list[str] = []
    bold = False
    opened_at = -1                        # index in runs where the open bold run starts
    i = 0
    for m in _SPECIAL.finditer(line):
        if m.start() > i:
            buf.append(line[i:m.start()])
        i = m.end()
        token = m.group()
        if token == "*":
            if buf:
                runs.append(("".join(buf), bold))
                buf.clear()
            bold = not bold
            opened_at = len(runs) if bold else -1
        else:
            buf.append(m.group(1) if token[0] == "\\" else "\\")
    if i < len(line):
        buf.append(line[i:])
    if buf:
        runs.append(("".join(buf), bold))
    if bold:      # an unpaired '*' is a literal star, as Jira shows it
        runs[opened_at:] = [("*" + "".join(t for t, _ in runs[opened_at:]), False)]
    merged: list[tuple[str, bool]] = []
    for text, b in runs:
        if merged and merged[-1][1] == b:
            merged[-1] = (merged[-1][0] + text, b)
        elif text:
            merged.append((text, b))
    return [text_node(t, bold=b) for t, b in merged if t]


def wiki_to_adf(markup: str) -> Node:
    """The ADF document for ``markup`` (the subset described in the module docstring)."""
    content: list[Node] = []
    lines = markup.replace("\r\n", "\n").split("\n")
    para: list[str] = []
    current_list: Node | None = None

    def end_paragraph() -> None:
        if para:
            nodes: list[Node] = []
            for n, line in enumerate(para):
                if n:
                    nodes.append({"type": "hardBreak"})
                nodes.extend(inline(line))
            content.append(paragraph(nodes))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line == NOFORMAT:
            end = i + 1
            while end < len(lines) and lines[end] != NOFORMAT:
                end += 1
            block = code_block("\n".join(lines[i + 1:end]))
            end_paragraph()
            if current_list is not None:
                current_list["content"][-1]["content"].append(block)
            else:
                content.append(block)
            i = end + 1
            continue
        heading = _HEADING.match(line)
        item = _ITEM.match(line)
        if heading or item or not line.strip():
            end_paragraph()
        if heading:
            current_list = None
            node: Node = {"type": "heading", "attrs": {"level": int(heading.group(1))}}
            node["content"] = inline(heading.group(2))
            content.append(node)
        elif item:
            kind = "bulletList" if item.group(1) == "*" else "orderedList"
            if current_list is None or current_list["type"] != kind:
                current_list = {"type": kind, "content": []}
                content.append(current_list)
            current_list["content"].append(
                {"type": "listItem", "content": [paragraph(inline(item.group(2)))]})
        elif not line.strip():
            current_list = None
        else:
            current_list = None
            para.append(line)
        i += 1
    end_paragraph()
    return doc(content)


def text_doc(lines: Iterable[str]) -> Node:
    """Plain text (no markup at all) as an ADF document: one paragraph per line."""
    return doc([paragraph([text_node(line)] if line else []) for line in lines])


def plain_text(node: Any) -> str:
    """The text of an ADF document, blocks separated by new lines (for comparisons and
    tests)."""
    if isinstance(node, list):
        return "".join(plain_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = plain_text(node.get("content", []))
    if kind in ("paragraph", "heading", "codeBlock", "listItem"):
        return inner.rstrip("\n") + "\n"
    return inner


def fingerprint(node: Any) -> Any:
    """What an ADF document says, without what Jira may add when it stores one (``attrs``
    such as ``localId``, split text runs): two documents with the same fingerprint show the
    same thing. Heading levels are kept."""
    if isinstance(node, list):
        out: list[Any] = []
        for child in node:
            fp = fingerprint(child)
            if fp is None:
                continue
            if out and fp[0] == "text" and out[-1][0] == "text" and out[-1][2] == fp[2]:
                out[-1] = ("text", out[-1][1] + fp[1], fp[2])
            else:
                out.append(fp)
        return tuple(out)
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if kind == "text":
        text = str(node.get("text", ""))
        marks = tuple(sorted(m.get("type", "") for m in node.get("marks", ()) or ()
                             if isinstance(m, dict)))
        return ("text", text, marks) if text else None
    level = (node.get("attrs") or {}).get("level") if kind == "heading" else None
    return (kind, level, fingerprint(node.get("content", []) or []))
