"""HTML pages in a real headless Chromium: hostile scanner text stays inert, no console errors.

:func:`render_page` is the reusable helper for any HTML page vulnpipe writes: it loads the
file with networking off, returns the live DOM after the page ran, the page's ``<title>``
in that DOM, the console/CSP messages, and a screenshot. :func:`page_width` measures whether
a page scrolls sideways. Both use the session's one Chromium (the ``chromium_browser`` fixture
of tests/conftest.py, driven as tests/chromium.py describes): each page in a window of its own.

CI (``.ci/run``) installs Debian's ``chromium``; elsewhere these tests skip with a clear
message when no Chromium is found (set ``VULNPIPE_CHROMIUM`` to a binary to use another).
"""
from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import nessus_builder as nb
from tests.chromium import Chromium, chromium_binary  # noqa: F401  (used by other tests)
from tests.conftest import run_cli

#: every test here uses Chromium
pytestmark = pytest.mark.slow

#: Log lines that mean the page misbehaved: a script error, a CSP violation, a blocked load.
PROBLEMS = re.compile(r"Uncaught|Content Security Policy|Refused to|Failed to load resource"
                      r"|net::ERR_", re.I)
PAYLOAD_TITLE = "pwned"
HOSTILE_HOST = f"<img src=x onerror=document.title='{PAYLOAD_TITLE}'>.evil.example"


@pytest.fixture(scope="session")
def chromium(chromium_browser) -> Chromium:
    """The session's Chromium (skipped with a message when there is none)."""
    return chromium_browser


@dataclass(frozen=True)
class Page:
    dom: str              # the serialised live DOM after load
    title: str            # text of the DOM's <title>
    console: list[str]    # log lines that point at a problem (see PROBLEMS)
    screenshot: Path


def render_page(browser: Chromium, page: Path, workdir: Path, *, width: int = 1366,
                height: int = 2400) -> Page:
    """Load ``page`` in headless Chromium; return its live DOM, title, problems, screenshot."""
    workdir.mkdir(parents=True, exist_ok=True)
    shot = workdir / (page.stem + ".png")
    with browser.open(page.resolve().as_uri(), width=width, height=height,
                      scrollbars=False) as tab:
        dom = tab.evaluate("(document.doctype ? new XMLSerializer().serializeToString("
                           "document.doctype) + '\\n' : '') + document.documentElement.outerHTML")
        shot.write_bytes(tab.screenshot())
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    return Page(dom=dom, title=htmllib.unescape(m.group(1)) if m else "",
                console=[line for line in tab.logs if PROBLEMS.search(line)], screenshot=shot)


def page_width(browser: Chromium, page: Path, *, width: int = 1024) -> tuple[int, int]:
    """(``document.scrollingElement.scrollWidth``, its ``clientWidth``) of ``page`` in a
    ``width`` px window with a classic scrollbar, as on a desktop: the page scrolls sideways
    when the first is larger. Read after the page loaded and ran, from outside the page (its
    CSP does not apply)."""
    with browser.open(page.resolve().as_uri(), width=width, height=900, scrollbars=True) as tab:
        scroll, client = tab.evaluate("[document.scrollingElement.scrollWidth,"
                                      " document.scrollingElement.clientWidth]")
    return int(scroll), int(client)


# -- the checks work: an unescaped payload is caught ------------------------------------------

def test_the_checks_catch_a_page_where_the_payload_is_live(chromium, tmp_path):
    page = tmp_path / "live.html"
    page.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'\"><title>Report</title></head><body>"
                    f"{HOSTILE_HOST}</body></html>")
    result = render_page(chromium, page, tmp_path / "live")
    # the CSP blocks both the image and its inline handler, and says so on the console
    assert result.console, "a live <img onerror> under CSP must be reported"
    assert "<img" in result.dom


def test_the_width_check_catches_a_page_that_scrolls_sideways(chromium, tmp_path):
    page = tmp_path / "wide.html"
    page.write_text("<!DOCTYPE html><html><body><table><tr>"
                    + "<td style=\"white-space: nowrap\">VP-049C5C7277 2026-11-23 01:00</td>" * 6
                    + "</tr></table></body></html>")
    scroll, client = page_width(chromium, page)
    assert scroll > client and client <= 1024


# -- the weekly report ------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)     # Monday of 2026-W48


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    policy = nb.policy_element(name="<script>document.title='pwned'</script>policy",
                               plugin_set=[19506])
    covers = nb.policy_element(name="weekly", plugin_set=[11387, 19506])
    week1 = [nb.HostSpec(HOSTILE_HOST, ip="10.6.6.6", start=T0 - timedelta(weeks=1),
                         items=[nb.l2tp(output="<script>document.title='pwned'</script>")]),
             nb.HostSpec("<svg onload=document.title='pwned'>", ip="10.6.6.7",
                         start=T0 - timedelta(weeks=1), items=[nb.l2tp()])]
    week2 = [nb.HostSpec(HOSTILE_HOST, ip="10.6.6.6", start=T0,
                         items=[nb.l2tp(output="</td></tr></table><script>alert(1)</script>")]),
             nb.HostSpec("<svg onload=document.title='pwned'>", ip="10.6.6.7", start=T0,
                         items=[nb.l2tp()])]
    files = [nb.write(d / "w47.nessus", week1, policy=covers),
             nb.write(d / "w48.nessus", week2, policy=covers),
             nb.write(d / "w48-blind.nessus", [nb.HostSpec("10.6.6.8", ip="10.6.6.8", start=T0)],
                      policy=policy)]
    inv = d / "inventory.csv"
    inv.write_text(
        "Asset ID,IP Address,Owner,Team,Business Unit,Criticality\n"
        "AST-1,10.6.6.6,<b onmouseover=document.title='pwned'>Mallory</b>,"
        "\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",<svg onload=alert(1)>,high\n"
        "\"<iframe src=javascript:alert(1)>\",10.6.6.99,@SUM(1+1),+cmd,-2+3,low\n")
    db = str(d / "s.db")
    for args in (("ingest", *files, "--db", db),
                 ("report", "weekly", "--db", db, "--inventory", inv, "--html", d / "r.html",
                  "--xlsx", d / "r.xlsx", "--markdown", d / "r.md", "--json", d / "r.json")):
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr.decode()
    return d


def test_hostile_text_is_escaped_in_the_html_source(hostile_report):
    html = (hostile_report / "r.html").read_text()
    for raw in ("<img", "<script", "<iframe", "<svg onload", "<b onmouseover", "</td></tr></table><script"):
        assert raw not in html, raw
    assert "&lt;img src=x onerror=document.title=&#39;pwned&#39;&gt;.evil.example" in html
    assert "&lt;b onmouseover=" in html and "=HYPERLINK(" in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;policy" in html


def test_hostile_text_is_plain_text_in_the_workbook_markdown_and_json(hostile_report):
    import json

    import openpyxl

    wb = openpyxl.load_workbook(hostile_report / "r.xlsx")
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    seen.add(cell.value)
    assert HOSTILE_HOST in seen
    assert '=HYPERLINK("http://evil.example","x")' in seen        # a team name, kept as text
    assert "<iframe src=javascript:alert(1)>" in seen                 # an asset id, not scanned
    assert any("@SUM(1+1)" in v for v in seen)
    md = (hostile_report / "r.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=" in md
    data = json.loads((hostile_report / "r.json").read_text())
    assert data["open_tickets"] == 2 and data["week"] == "2026-W48"


def test_report_in_chromium_keeps_its_title_and_has_no_console_errors(chromium, hostile_report):
    page = render_page(chromium, hostile_report / "r.html", hostile_report / "chromium")
    assert page.title == "L2TP exposure: weekly report 2026-W48"
    assert PAYLOAD_TITLE not in page.title
    assert page.console == []
    live = page.dom.lower()
    for tag in ("<img", "<script", "<iframe", "<b onmouseover", "<svg onload"):
        assert tag not in live, tag
    assert "&lt;img src=x onerror=" in page.dom          # shown to the reader, as text
    assert page.dom.count("<svg class=\"chart") == 2
    assert page.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.screenshot.stat().st_size > 20_000     # a rendered page, not a blank one


# -- the sample run's pages, as a new user opens them -----------------------------------------

def test_the_sample_pages_do_not_scroll_sideways_at_1024_px(chromium, sample_run, tmp_path):
    import zipfile

    with zipfile.ZipFile(sample_run / "evidence-2026-Q4.zip") as z:
        z.extract("index.html", tmp_path)
    for page in (sample_run / "weekly-2026-W48.html", tmp_path / "index.html"):
        scroll, client = page_width(chromium, page)
        assert scroll <= client, f"{page.name} scrolls sideways at 1024 px: {scroll} > {client}"


def test_the_hostile_report_does_not_scroll_sideways_at_1024_px(chromium, hostile_report):
    scroll, client = page_width(chromium, hostile_report / "r.html")
    assert scroll <= client, f"{scroll} > {client}"

