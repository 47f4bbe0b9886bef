"""Hostile text in every page and file, faults while writing outputs, very large inventories."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli, unmeasured_env
from tests.test_browser import chromium, render_page  # noqa: F401  (fixture)

PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    """A store whose scanner and inventory text is hostile in every field a page shows."""
    d = tmp_path_factory.mktemp("hostile-store")
    hosts = [nb.HostSpec(f"{PAYLOAD}.evil.example", ip="10.0.0.1", fqdn=f"{PAYLOAD}.evil.example",
                         os="Windows <script>alert(1)</script>", start=T0, end=T0 + timedelta(minutes=3),
                         items=[nb.l2tp(output="<script>document.title='pwned'</script>"),
                                nb.Item(**{**nb.PPTP, "name": "=HYPERLINK(\"http://x\")<b>"})])]
    scan1 = nb.write(d / "w1.nessus", hosts, policy=nb.policy_element(
        name=f"{PAYLOAD} policy", plugin_set=[11387, 10622]), report_name=f"{PAYLOAD} report")
    later = [nb.HostSpec(f"{PAYLOAD}.evil.example", ip="10.0.0.1", start=T0 + timedelta(days=7),
                         end=T0 + timedelta(days=7, minutes=3))]
    scan2 = nb.write(d / "w2.nessus", later, policy=nb.policy_element(plugin_set=[11387, 10622]))
    inv = d / "inv.csv"
    inv.write_text("Asset ID,IP Address,Owner,Owner Email,Team,Business Unit,Criticality\n"
                   f"AST-1,10.0.0.1,\"=cmd|' /C calc'!A0\",x@corp.example,\"{PAYLOAD.replace(chr(34), chr(39))}\","
                   "@SUM(1+1),critical\n")
    db = d / "s.db"
    assert run_cli("ingest", scan1, scan2, "--db", db).returncode == 0
    r = run_cli("tickets", "--db", db, "--inventory", inv, "--jsonl", d / "t.jsonl", "--as-of", "2026-11-20")
    assert r.returncode == 0, r.stderr.decode()
    return d, db


@pytest.mark.slow
def test_evidence_pack_index_in_chromium_keeps_its_title_and_runs_nothing(chromium, hostile_store, tmp_path):  # noqa: F811
    d, db = hostile_store
    pack = tmp_path / "pack.zip"
    r = run_cli("evidence", "build", "--db", db, "--out", pack)
    assert r.returncode == 0, r.stderr.decode()
    with zipfile.ZipFile(pack) as zf:
        names = zf.namelist()
        assert all(".." not in n and not n.startswith("/") and "evil" not in n for n in names)
        (tmp_path / "index.html").write_bytes(zf.read("index.html"))
        poam = tmp_path / "poam.xlsx"
        poam.write_bytes(zf.read("poam.xlsx"))
    page = render_page(chromium, tmp_path / "index.html", tmp_path / "chromium")
    assert "pwned" not in page.title and page.title
    assert page.console == []
    live = page.dom.lower()
    assert "<img" not in live and "<script" not in live
    wb = openpyxl.load_workbook(poam)
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                seen += isinstance(cell.value, str) and ("HYPERLINK" in cell.value or "cmd|" in cell.value)
    assert seen, "the hostile values must reach the POA&M as plain text"


def test_ticket_markdown_and_weekly_report_keep_inventory_formulas_as_text(hostile_store, tmp_path):
    d, db = hostile_store
    r = run_cli("report", "weekly", "--db", db, "--week", "2026-W45", "--xlsx", tmp_path / "w.xlsx",
                "--json", tmp_path / "w.json", "--markdown", tmp_path / "w.md")
    assert r.returncode == 0, r.stderr.decode()
    r = run_cli("tickets", "--db", db, "--markdown", tmp_path / "md", "--as-of", "2026-11-20")
    assert r.returncode == 0, r.stderr.decode()
    pages = sorted(p for p in (tmp_path / "md").iterdir() if p.suffix != ".keys")
    assert [p.suffix for p in pages] == [".md"] and pages[0].stem.startswith("VP-")
    weekly, ticket = (tmp_path / "w.md").read_text("utf-8"), pages[0].read_text("utf-8")
    # the owner's formula is shown as the text it is (the pipe escaped for the table) ...
    assert "=cmd\\|' /C calc'!A0" in weekly
    assert "| Owner | =cmd\\|' /C calc'!A0 <mailto:x@corp.example> |" in ticket
    assert "/ @SUM(1+1) |" in ticket                            # the business unit, as typed
    assert '&lt;img src=x onerror="document.title=\'pwned\'"&gt;.evil.example (10.0.0.1)' in weekly
    # ... and the scanner's HTML never becomes live markup outside a code block
    for md in (weekly, ticket):
        outside_fences = "".join(part for i, part in enumerate(md.split("```")) if i % 2 == 0)
        assert "<img" not in outside_fences and "<script" not in outside_fences and "<b>" not in outside_fences
    assert "```text\n<script>document.title='pwned'</script>\n```" in ticket   # output: verbatim, fenced
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str)]
    assert any(t.startswith("=cmd|") for t in texts)
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


@pytest.mark.slow
def test_sigkill_during_evidence_build_leaves_no_pack_or_the_old_one(hostile_store, tmp_path):
    d, db = hostile_store
    out = tmp_path / "pack.zip"
    out.write_bytes(b"old pack")
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([sys.executable, "-m", "vulnpipe", "evidence", "build", "--db", str(db),
                                 "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = out.read_bytes()
        if data != b"old pack":      # the build finished before the kill: then it is whole
            assert run_cli("evidence", "verify", out).returncode == 0
            out.write_bytes(b"old pack")
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("pack.zip",)]
        assert all(name.startswith(".pack.zip.") for name in leftovers)  # only temp files


@pytest.mark.slow
def test_million_row_inventory_loads_in_bounded_memory(tmp_path):
    path = tmp_path / "cmdb.csv"
    with open(path, "w") as fh:
        fh.write("Asset ID,Hostname,IP Address,Owner,Criticality\n")
        fh.writelines(f"A{i},h{i},10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},Owner {i % 50},high\n"
                      for i in range(1_000_000))
    code = ("import resource,sys\nfrom vulnpipe.ingest.assets.inventory import load_inventory\n"
            "inv=load_inventory(sys.argv[1])\n"
            "print(len(inv.assets), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=600,
                         env=unmeasured_env())
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    rows, rss_kb = map(int, out.stdout.split())
    assert rows == 1_000_000
    assert rss_kb < 4_000_000, f"peak RSS {rss_kb} kB"


def test_inventory_with_an_unrecognised_delimiter_is_one_clear_line(tmp_path):
    inv = tmp_path / "pipes.csv"
    inv.write_text("Asset ID|Hostname|IP Address\nA1|h1|10.0.0.1\n")
    scan = nb.write(tmp_path / "s.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", items=[nb.l2tp()])])
    r = run_cli("join", scan, "--inventory", inv)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.count("\n") == 1 and "pipes.csv" in err and "Traceback" not in err


HOSTILE_CELLS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)",
                 "-1+2", "\tTAB", "\rCR"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_parse_exports_keep_hostile_scanner_text_as_text(tmp_path, fmt):
    hosts = [nb.HostSpec(f"10.0.0.{i + 1}", ip=f"10.0.0.{i + 1}", os=text,
                         items=[nb.l2tp(output=text)]) for i, text in enumerate(HOSTILE_CELLS)]
    scan = nb.write(tmp_path / "s.nessus", hosts)
    out = tmp_path / f"o.{fmt}"
    r = run_cli("parse", scan, "--format", fmt, "--out", out)
    assert r.returncode == 0, r.stderr.decode()
    if fmt == "csv":
        import csv

        with open(out, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert [row["plugin_output"] for row in rows] == ["'" + t for t in HOSTILE_CELLS]
        # host properties are read trimmed; what is left is still quoted when dangerous
        assert [row["os"] for row in rows] == [("'" if t.strip()[0] in "=+-@" else "") + t.strip()
                                              for t in HOSTILE_CELLS]
    else:
        ws = openpyxl.load_workbook(out)["Findings"]
        header = [c.value for c in ws[1]]
        col = header.index("plugin_output") + 1
        assert [ws.cell(row=i, column=col).value for i in range(2, ws.max_row + 1)] == HOSTILE_CELLS
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


@pytest.mark.parametrize("fmt", ["jsonl", "xlsx"])
def test_writing_to_dev_null_or_a_pipe_never_replaces_it(tmp_path, fmt):
    import os
    import stat

    scan = nb.write(tmp_path / "s.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", items=[nb.l2tp()])])
    r = run_cli("parse", scan, "--format", fmt, "--out", "/dev/null")
    assert r.returncode == 0, r.stderr.decode()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null must stay a device"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    r = run_cli("parse", scan, "--format", "jsonl", "--out", fifo)
    assert r.returncode == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(reader.communicate(timeout=30)[0].splitlines()[0])["plugin_id"] == 11387


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_broken_file_among_good_ones_written_to_dev_null_or_a_pipe(tmp_path, fmt):
    import os

    good = nb.write(tmp_path / "a.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", items=[nb.l2tp()])])
    broken = tmp_path / "b.nessus"
    broken.write_bytes(good.read_bytes()[:-40])
    r = run_cli("parse", good, broken, "--format", fmt, "--out", "/dev/null")
    assert r.returncode == 1 and "b.nessus" in r.stderr.decode()
    assert "1 finding(s) from 1 file(s)" in r.stderr.decode() and b"Traceback" not in r.stderr
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    r = run_cli("parse", broken, good, "--format", fmt, "--out", fifo)
    out = reader.communicate(timeout=30)[0].decode()
    assert r.returncode == 1 and "10.0.0.1" in out and out.count("11387") == 1
