"""HTML pages in a real headless Chromium: hostile scanner text stays inert, no console errors.

:func:`render_page` is the reusable helper for any HTML page vulnpipe writes: it loads the
file with networking off, returns the live DOM after the page ran (``--dump-dom``), the
page's ``<title>`` in that DOM, the console/CSP messages, and a screenshot.

CI (``.ci/run``) installs Debian's ``chromium``; elsewhere these tests skip with a clear
message when no Chromium is found (set ``VULNPIPE_CHROMIUM`` to a binary to use another).
"""
from __future__ import annotations

import html as htmllib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli

#: every test here starts Chromium (a few seconds each on 2 cores)
pytestmark = pytest.mark.slow

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0")
#: Log lines that mean the page misbehaved: a script error, a CSP violation, a blocked load.
PROBLEMS = re.compile(r"Uncaught|Content Security Policy|Refused to|Failed to load resource"
                      r"|net::ERR_", re.I)
PAYLOAD_TITLE = "pwned"
HOSTILE_HOST = f"<img src=x onerror=document.title='{PAYLOAD_TITLE}'>.evil.example"


def chromium_binary() -> str | None:
    explicit = os.environ.get("VULNPIPE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VULNPIPE_CHROMIUM): "
                    "the live-DOM checks of the HTML report were NOT run")
    return binary


@dataclass(frozen=True)
class Page:
    dom: str              # the serialised live DOM after load
    title: str            # text of the DOM's <title>
    console: list[str]    # log lines that point at a problem (see PROBLEMS)
    screenshot: Path


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, timeout=180)


def render_page(binary: str, page: Path, workdir: Path, *, width: int = 1366,
                height: int = 2400) -> Page:
    """Load ``page`` in headless Chromium; return its live DOM, title, problems, screenshot."""
    url = page.resolve().as_uri()
    workdir.mkdir(parents=True, exist_ok=True)
    dom_run = _run(binary, workdir / "profile-dom", "--virtual-time-budget=2000", "--dump-dom", url)
    shot = workdir / (page.stem + ".png")
    shot_run = _run(binary, workdir / "profile-shot", "--virtual-time-budget=2000",
                    f"--window-size={width},{height}",
                    f"--screenshot={shot}", url)
    assert dom_run.returncode == 0, dom_run.stderr.decode(errors="replace")[-2000:]
    assert shot_run.returncode == 0 and shot.exists(), shot_run.stderr.decode(errors="replace")[-2000:]
    dom = dom_run.stdout.decode("utf-8", errors="replace")
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    logs = (dom_run.stderr + shot_run.stderr).decode("utf-8", errors="replace").splitlines()
    return Page(dom=dom, title=htmllib.unescape(m.group(1)) if m else "",
                console=[line for line in logs if PROBLEMS.search(line)], screenshot=shot)


def page_width(binary: str, page: Path, workdir: Path, *, width: int = 1024) -> tuple[int, int]:
    """(``document.scrollingElement.scrollWidth``, its ``clientWidth``) of ``page`` in a
    ``width`` px window with a classic scrollbar, as on a desktop: the page scrolls sideways
    when the first is larger. Measured on a copy that differs only by a script writing the
    two numbers into the DOM and by the missing CSP meta tag that would block that script;
    neither changes the layout."""
    html = page.read_text("utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    probe = ("<script>addEventListener('load', function () { var e = document.scrollingElement;"
             " document.documentElement.setAttribute('data-widths', e.scrollWidth + ' ' +"
             " e.clientWidth); });</script>")
    workdir.mkdir(parents=True, exist_ok=True)
    copy = page.with_name(page.stem + ".measured.html")     # same folder: same relative links
    copy.write_text(html.replace("</body>", probe + "</body>"), "utf-8")
    flags = [f for f in FLAGS if f != "--hide-scrollbars"]
    run = subprocess.run([binary, *flags, f"--user-data-dir={workdir / 'profile-width'}",
                          f"--window-size={width},900", "--virtual-time-budget=2000",
                          "--dump-dom", copy.as_uri()], capture_output=True, timeout=180)
    copy.unlink()
    m = re.search(r'data-widths="(\d+) (\d+)"', run.stdout.decode("utf-8", errors="replace"))
    assert m, run.stderr.decode(errors="replace")[-2000:]
    return int(m.group(1)), int(m.group(2))


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
    scroll, client = page_width(chromium, page, tmp_path / "wide")
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
        scroll, client = page_width(chromium, page, tmp_path / page.stem)
        assert scroll <= client, f"{page.name} scrolls sideways at 1024 px: {scroll} > {client}"


def test_the_hostile_report_does_not_scroll_sideways_at_1024_px(chromium, hostile_report):
    scroll, client = page_width(chromium, hostile_report / "r.html", hostile_report / "width")
    assert scroll <= client, f"{scroll} > {client}"

