"""Hardening, round two (#19): damaged archives, workers that outlive their parent, memory per
item, secrets, entities, --strict, links, inventories, messages. Every case here is listed
with its one-line error in tests/HOSTILE_INPUTS.md."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests import nessus_builder as nb
from tests.conftest import ROOT, run_cli

SAMPLE = ROOT / "sample_data"
SCANS = SAMPLE / "scans"
W44 = SCANS / "2026-W44-weekly.nessus"

DOC = nb.document([nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}", items=[nb.l2tp(output="x" * 50)])
                   for i in range(1, 40)])


def one_error_line(stderr: bytes, *needles: str) -> str:
    """The single ``error:`` line of ``stderr`` holding every needle (and no traceback)."""
    text = stderr.decode()
    assert "Traceback" not in text and "internal error" not in text, text
    lines = [ln for ln in text.splitlines() if ln.startswith("error:") and
             all(n in ln for n in needles)]
    assert len(lines) == 1, text
    return lines[0]


# -- archives: damaged members, many members ------------------------------------------------------

def truncated_gz(folder: Path, name: str = "t.nessus.gz") -> Path:
    path = folder / name
    path.write_bytes(gzip.compress(W44.read_bytes())[:200])
    return path


def bad_crc_gz(folder: Path, name: str = "crc.nessus.gz") -> Path:
    data = bytearray(gzip.compress(W44.read_bytes()))
    data[-6] ^= 1                           # the CRC-32 in the trailer
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def corrupt_deflate_zip(folder: Path, name: str = "bad.zip") -> Path:
    """A zip of a good member and one whose deflate data has a flipped byte."""
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a-broken.nessus", W44.read_bytes())
        zf.writestr("b-good.nessus", DOC)
    data = bytearray(path.read_bytes())
    data[2000] ^= 0xFF                      # inside the first member's deflate stream
    path.write_bytes(bytes(data))
    return path


def under_declared_zip(folder: Path, name: str = "short.zip") -> Path:
    """A zip whose member declares fewer bytes than it holds (its CRC cannot match)."""
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("scan.nessus", DOC)
    data = path.read_bytes()
    size = len(DOC).to_bytes(4, "little")
    smaller = (len(DOC) - 100).to_bytes(4, "little")
    path.write_bytes(data.replace(size + size, size + smaller))   # uncompressed size, twice
    return path


def test_a_truncated_gz_is_one_line_and_the_rest_of_the_run_goes_on(tmp_path):
    bad = truncated_gz(tmp_path)
    r = run_cli("run", "--db", tmp_path / "r.db", "--out", tmp_path / "out", bad, SCANS,
                cwd=tmp_path)
    assert r.returncode == 1
    one_error_line(r.stderr, "t.nessus.gz", "damaged archive", "truncated")
    assert "Aborted" not in r.stderr.decode()
    assert b"9 scan(s) stored" in r.stderr
    assert (tmp_path / "out" / "tickets.xlsx").exists()
    assert (tmp_path / "out" / "weekly-2026-W48.html").exists()


@pytest.mark.parametrize("make, needles", [
    (bad_crc_gz, ("crc.nessus.gz", "damaged archive", "CRC")),
    (corrupt_deflate_zip, ("bad.zip:a-broken.nessus", "damaged archive", "corrupt compressed")),
    (under_declared_zip, ("short.zip:scan.nessus", "damaged archive")),
])
def test_a_damaged_member_is_one_line_naming_it_and_the_others_are_read(tmp_path, make, needles):
    bad = make(tmp_path)
    good = tmp_path / "good.nessus"
    good.write_bytes(DOC)
    r = run_cli("parse", bad, good, "--profile", "all", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 1
    line = one_error_line(r.stderr, *needles)
    assert "disk space" not in line
    rows = (tmp_path / "o.jsonl").read_text().splitlines()
    expect = 39 * (2 if make is corrupt_deflate_zip else 1)      # the zip's good member too
    assert len(rows) == expect


def test_ingest_goes_on_after_a_damaged_member(tmp_path):
    bad = corrupt_deflate_zip(tmp_path)
    r = run_cli("ingest", bad, W44, "--db", tmp_path / "s.db")
    assert r.returncode == 1
    one_error_line(r.stderr, "bad.zip:a-broken.nessus", "damaged archive")
    scans = run_cli("scans", "--db", tmp_path / "s.db", "--format", "jsonl")
    names = sorted(json.loads(ln)["file_name"] for ln in scans.stdout.decode().splitlines())
    assert names == ["2026-W44-weekly.nessus", "bad.zip:b-good.nessus"]


def test_an_unreadable_archive_in_a_folder_does_not_hide_the_other_files(tmp_path):
    folder = tmp_path / "scans"
    shutil.copytree(SCANS, folder)
    (folder / "0-junk.nessus.zip").write_bytes(b"PK\x03\x04 not really a zip")
    r = run_cli("ingest", folder, "--db", tmp_path / "s.db")
    assert r.returncode == 1
    one_error_line(r.stderr, "0-junk.nessus.zip", "not a readable zip archive")
    assert b"9 file(s) stored" in r.stderr, r.stderr.decode()


def test_evidence_raw_dir_skips_a_truncated_gz_with_one_note(tmp_path):
    db = tmp_path / "s.db"
    assert run_cli("ingest", W44, "--db", db).returncode == 0
    raw = tmp_path / "raw"
    raw.mkdir()
    truncated_gz(raw, "0-first.nessus.gz")
    shutil.copy(W44, raw / "w44.nessus")
    r = run_cli("evidence", "build", "--db", db, "--include-raw", "--raw-dir", raw,
                "--out", tmp_path / "p.zip")
    assert r.returncode == 0, r.stderr.decode()
    notes = [ln for ln in r.stderr.decode().splitlines() if "0-first.nessus.gz" in ln]
    assert len(notes) == 1 and "damaged archive" in notes[0] and notes[0].startswith("note:")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert zf.read("scans/1.nessus") == W44.read_bytes()


def test_a_zip_of_ten_thousand_members_reads_its_directory_once(tmp_path, monkeypatch):
    one = nb.document([nb.HostSpec("10.0.0.1", ip="10.0.0.1", items=[nb.l2tp()])])
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(10_000):
            zf.writestr(f"s{i:05d}.nessus", one)
    reads = []
    real = zipfile.ZipFile._RealGetContents

    def counted(self):                      # the central directory: every member's entry
        reads.append(self.filename)
        return real(self)

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", counted)
    r = run_cli("parse", archive, "--out", tmp_path / "o.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 10_000
    assert len(reads) == 1
    # replaced by another archive at the same path: read again, not the old directory
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("other.nessus", DOC)
    r = run_cli("parse", archive, "--profile", "all", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 39 and len(reads) == 2


# -- evidence verify: a member that cannot be decompressed is altered ---------------------------

def _flip_deflate(pack: Path, member: str) -> None:
    """Make ``member``'s deflate data invalid (its first block gets the reserved type 11)."""
    with zipfile.ZipFile(pack) as zf:
        info = zf.getinfo(member)
    data = bytearray(pack.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    data[info.header_offset + 30 + name_len + extra_len] |= 0b110    # BTYPE = 11: invalid
    pack.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def small_pack(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pack")
    assert run_cli("ingest", W44, "--db", d / "s.db").returncode == 0
    r = run_cli("evidence", "build", "--db", d / "s.db", "--out", d / "p.zip")
    assert r.returncode == 0, r.stderr.decode()
    return d / "p.zip"


@pytest.mark.parametrize("member, kind", [("poam.xlsx", "altered"),
                                          ("manifest.json", "bad manifest")])
def test_verify_reports_corrupt_deflate_as_altered(small_pack, tmp_path, member, kind):
    pack = tmp_path / "p.zip"
    shutil.copy(small_pack, pack)
    _flip_deflate(pack, member)
    r = run_cli("evidence", "verify", pack)
    assert r.returncode == 1
    assert "internal error" not in r.stderr.decode() and "Traceback" not in r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert [ln for ln in lines if ln.startswith(f"{kind}: {member} (unreadable")], lines
    assert "NOT intact" in r.stderr.decode()


# -- workers die with their parent; SIGTERM cleans up like Ctrl-C -------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    return check()


@pytest.fixture(scope="module")
def big_scan(tmp_path_factory, shared) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.nessus"
    subprocess.run([sys.executable, str(shared / "bench" / "gen_nessus.py"), "--hosts", "150",
                    "--seed", "5", "--out", str(path)], check=True)
    return path


def _start_parse(big: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    """``vulnpipe parse`` of ``big`` split over worker processes, stopped (SIGSTOP) once its
    workers run and its temporary output exists: returns it and its workers' PIDs."""
    env = {**os.environ, "VULNPIPE_PARALLEL_MIN_BYTES": str(1 << 20)}
    env.pop("VULNPIPE_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "vulnpipe", "parse", str(big), "--profile",
                             "all", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        workers = _wait_for(lambda: len(_children(proc.pid)) >= 2 and _children(proc.pid))
        assert workers, "the parse never started its workers"
        assert _wait_for(lambda: list(out.parent.glob(f".{out.name}.*.tmp")))
        os.kill(proc.pid, signal.SIGSTOP)
        return proc, _children(proc.pid)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise


def _end(workers: list[int]) -> None:
    """End the workers this test started, should the program have left them."""
    for pid in workers:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_die_with_a_killed_parent(big_scan, tmp_path):
    proc, workers = _start_parse(big_scan, tmp_path / "o.jsonl")
    try:
        assert workers and all(_alive(w) for w in workers)
        os.kill(proc.pid, signal.SIGKILL)
        # nobody holds the parent's stdout/stderr any more: the pipes reach their end
        proc.communicate(timeout=60)
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 30), \
            [w for w in workers if _alive(w)]
    finally:
        _end(workers)


def test_sigterm_cleans_up_like_ctrl_c_and_exits_143(big_scan, tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("previous\n")
    proc, workers = _start_parse(big_scan, out)
    try:
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGCONT)
        _stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 143, stderr.decode()
        text = stderr.decode()
        assert "Traceback" not in text and text.count("\n") == 1 and "terminated" in text, text
        assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl"]    # no .tmp left
        assert out.read_text() == "previous\n"
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 30)
    finally:
        _end(workers)


# -- secrets: every password form masked in every output and message ---------------------------

SECRET = "hunter2-Sekret"


@pytest.mark.parametrize("form", ["query", "sslpassword", "userinfo"])
def test_database_passwords_never_reach_a_pack_or_a_message(tmp_path, form):
    from tests.conftest import PG_URL, _drop_pg_database, _new_pg_database

    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it)")
    import uuid

    name = f"vp_secret_{uuid.uuid4().hex[:10]}"
    url = _new_pg_database(name)
    try:
        base, rest = url.split("://", 1)
        with_pw = {"query": f"{url}?password={SECRET}",
                   "sslpassword": f"{url}?sslpassword={SECRET}&password={SECRET}x",
                   "userinfo": f"{base}://{rest.replace('@', f':{SECRET}@', 1)}"}[form]
        r = run_cli("ingest", W44, "--db", with_pw)
        assert r.returncode == 0, r.stderr.decode()
        assert SECRET not in r.stderr.decode() and "***" in r.stderr.decode()
        r = run_cli("evidence", "build", "--db", with_pw, "--out", tmp_path / "p.zip")
        assert r.returncode == 0, r.stderr.decode()
        with zipfile.ZipFile(tmp_path / "p.zip") as zf:
            for member in zf.namelist():
                assert SECRET.encode() not in zf.read(member), member
            assert "***" in json.loads(zf.read("manifest.json"))["database"]
        for cmd in (["db", "status"], ["scans"]):
            r = run_cli(*cmd, "--db", with_pw)
            assert SECRET not in (r.stdout + r.stderr).decode()
    finally:
        _drop_pg_database(name)


@pytest.mark.parametrize("db", [
    f"postgresql://u@127.0.0.1:1/db?password={SECRET}",
    f"postgresql://u:{SECRET}@127.0.0.1:1/db",
    f"postgresql://u@127.0.0.1:1/db?sslpassword={SECRET}&sslmode=require",
    f"postgresql://u@[bad/db?password={SECRET}",
])
def test_connection_errors_mask_the_password(tmp_path, db):
    for args in (["ingest", W44], ["evidence", "build", "--out", tmp_path / "p.zip"],
                 ["db", "status"]):
        r = run_cli(*args, "--db", db)
        assert r.returncode != 0
        text = (r.stdout + r.stderr).decode()
        assert SECRET not in text and "Traceback" not in text, text
        assert text.startswith("error:") and text.count("\n") == 1, text


def test_mask_secrets_covers_every_form():
    from vulnpipe.ingest.errors import mask_secrets, remember_secret

    for text in [f"postgresql://u:{SECRET}@h/db", f"postgresql://u@h/db?password={SECRET}",
                 f"host=h password='{SECRET}' dbname=x", f"PGPASSWORD={SECRET} vulnpipe run",
                 f"x?sslpassword={SECRET}&a=1", f"passwd = {SECRET}",
                 f"postgresql://u@h/db?options=-c%20password%3D{SECRET}"]:
        assert SECRET not in mask_secrets(text), text
    remember_secret(SECRET)
    assert mask_secrets(f'invalid port "{SECRET}"') == 'invalid port "***"'
    assert mask_secrets("no SMTP password: [mail] user is set") == \
        "no SMTP password: [mail] user is set"


# -- Markdown: only mailto: and https: links ----------------------------------------------------

@pytest.mark.parametrize("email", ["javascript:document.title='x'", "data:text/html,<b>x</b>",
                                   "vbscript:msgbox(1)", "file:///etc/passwd",
                                   "a@b.example?subject=x javascript:y"])
def test_markdown_tickets_link_only_mailto_and_https(tmp_path, email):
    from markdown_it import MarkdownIt

    inventory = tmp_path / "inv.csv"
    rows = (SAMPLE / "inventory.csv").read_text().splitlines()
    header = rows[0].split(",")
    col = header.index("Owner Email")
    hostile = []
    for row in rows[1:]:
        cells = row.split(",")
        cells[col] = '"' + email.replace('"', '""') + '"'
        hostile.append(",".join(cells))
    inventory.write_text("\n".join([rows[0], *hostile]) + "\n")
    db = tmp_path / "s.db"
    assert run_cli("ingest", W44, "--db", db).returncode == 0
    r = run_cli("tickets", "--db", db, "--inventory", inventory, "--markdown", tmp_path / "md")
    assert r.returncode == 0, r.stderr.decode()
    pages = sorted((tmp_path / "md").glob("*.md"))
    assert pages
    renderer = MarkdownIt("commonmark")
    renderer.validateLink = lambda url: True        # as a renderer without a scheme filter
    owned = 0
    for page in pages:
        html = renderer.render(page.read_text())
        for href in __import__("re").findall(r'href="([^"]*)"', html):
            assert href.startswith(("mailto:", "https:")), (page.name, href)
        owned += "javascript" in page.read_text() or "data:" in page.read_text() or \
            "vbscript" in page.read_text() or "file:" in page.read_text() or "a@b" in page.read_text()
    assert owned                             # the address is there, as text


def test_a_plain_owner_address_is_a_mailto_link():
    from vulnpipe.reports.tickets.export import md_email

    assert md_email("priya.natarajan@corp.example") == "<mailto:priya.natarajan@corp.example>"
    assert not md_email("javascript:alert(1)").startswith("<")


# -- inventories ---------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter, newline", [(",", "\n"), (";", "\r\n")])
def test_inventory_csv_with_an_unterminated_quote_names_the_line(tmp_path, delimiter, newline):
    rows = (SAMPLE / "inventory.csv").read_text().splitlines()
    rows = [r.replace(",", delimiter) for r in rows]
    cells = rows[5].split(delimiter)
    cells[5] = '"' + cells[5]               # the owner's quote opens on line 6, never closes
    rows[5] = delimiter.join(cells)
    inventory = tmp_path / "inv.csv"
    inventory.write_bytes(newline.join(rows).encode() + newline.encode())
    r = run_cli("join", W44, "--inventory", inventory, "--out", tmp_path / "j.jsonl")
    assert r.returncode == 1
    line = one_error_line(r.stderr, "inv.csv:6:", "never closed")
    assert not (tmp_path / "j.jsonl").exists(), line


def test_inventory_csv_quotes_that_close_are_read(tmp_path):
    inventory = tmp_path / "inv.csv"
    inventory.write_text('Asset ID,IP Address,Owner\nA-1,10.0.0.1,"Smith, ""Jo""\nline two"\n'
                         'A-2,10.0.0.2,x"y\n')
    from vulnpipe.ingest.assets.inventory import load_inventory

    inv = load_inventory(inventory)
    assert len(inv.assets) == 2


def _xlsx_with(tmp_path: Path, part: str, change) -> Path:
    out = tmp_path / f"inv-{part.replace('/', '-')}.xlsx"
    with zipfile.ZipFile(SAMPLE / "inventory.xlsx") as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, change(data) if info.filename == part else data)
    return out


@pytest.mark.parametrize("part, change", [
    ("xl/worksheets/sheet1.xml", lambda d: d[: len(d) // 2]),             # cut short
    ("xl/workbook.xml", lambda d: d.replace(b"<sheets>", b"<sheets><<")),  # not well-formed
    ("xl/styles.xml", lambda d: b"<x"),
    ("[Content_Types].xml", lambda d: b"\xff\xfe garbage"),
])
def test_xlsx_inventory_with_a_malformed_part_is_one_line(tmp_path, part, change):
    inventory = _xlsx_with(tmp_path, part, change)
    r = run_cli("join", W44, "--inventory", inventory, "--out", tmp_path / "j.jsonl")
    assert r.returncode == 1
    one_error_line(r.stderr, inventory.name, "not a readable XLSX workbook")


@pytest.mark.parametrize("toml", [
    "[priority]\nfallback_sla_days = 3000000\n",
    '[[priority.rules]]\npriority = "P1"\nsla_days = 3000000\n',
    "[priority]\nfallback_sla_days = -1\n",
])
def test_config_check_refuses_an_sla_out_of_range_and_tickets_never_crash_on_it(tmp_path, toml):
    (tmp_path / "vulnpipe.toml").write_text(toml)
    r = run_cli("config", "check", cwd=tmp_path)
    assert r.returncode == 1
    one_error_line(r.stderr, "sla_days", "from 0 to 3650")
    assert run_cli("ingest", W44, "--db", tmp_path / "s.db").returncode == 0
    r = run_cli("tickets", "--db", tmp_path / "s.db", "--jsonl", tmp_path / "t.jsonl", cwd=tmp_path)
    assert r.returncode == 1
    one_error_line(r.stderr, "sla_days")
