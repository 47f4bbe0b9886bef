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
from tests.conftest import ROOT, made_once, run_cli, unmeasured_env, wait_until_it_waits_for_input

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


@pytest.mark.slow
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


def _set_method(archive: Path, member: str, method: int = 9) -> None:
    """Mark ``member`` as compressed with ``method`` (9: Deflate64, which zipfile cannot
    read) in the archive's central directory and local header."""
    data = bytearray(archive.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = int.from_bytes(data[at + 28:at + 30], "little")
        if bytes(data[at + 46:at + 46 + name_len]) == name:
            data[at + 10:at + 12] = method.to_bytes(2, "little")
            local = int.from_bytes(data[at + 42:at + 46], "little")
            data[local + 8:local + 10] = method.to_bytes(2, "little")
            break
        at = data.find(b"PK\x01\x02", at + 4)
    else:
        raise AssertionError(f"{member} not in {archive}")
    archive.write_bytes(bytes(data))


def test_a_member_compressed_with_a_method_zipfile_cannot_read_is_one_line(tmp_path):
    """Scans in a zip: a member compressed with Deflate64 is named as damaged in one line, and
    the good member beside it is read; in an evidence pack the same member is altered."""
    bad = tmp_path / "scans.zip"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(W44, "a-deflate64.nessus")
        zf.write(W44, "b-good.nessus")
    _set_method(bad, "a-deflate64.nessus")
    r = run_cli("parse", bad, "--out", tmp_path / "o.jsonl")
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err and "internal error" not in err
    assert "scans.zip:a-deflate64.nessus" in err and "compression method 9 is not supported" in err
    assert (tmp_path / "o.jsonl").read_text().strip()          # the good member was read


def test_verify_reports_a_member_with_an_unreadable_method_as_altered(small_pack, tmp_path):
    pack = tmp_path / "p.zip"
    shutil.copy(small_pack, pack)
    _set_method(pack, "poam.xlsx")
    r = run_cli("evidence", "verify", pack)
    assert r.returncode == 1 and "internal error" not in r.stderr.decode()
    assert any(ln.startswith("altered: poam.xlsx (unreadable") and "compression method 9" in ln
               for ln in r.stdout.decode().splitlines()), r.stdout.decode()


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
        if proc.poll() is None:            # (hung: end the process this test started)
            proc.kill()
            proc.communicate()
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


# -- entities: refused by what libxml2 sees -------------------------------------------------------

_DTD = b'<!DOCTYPE NessusClientData_v2 [<!ENTITY x "EXPANDED-ENTITY">]>\n'


def _with_entity(where: str) -> bytes:
    doc = DOC.replace(b'<ReportHost name="10.0.0.1"', b'<ReportHost name="&x;"', 1)
    at = doc.index(b"<NessusClientData_v2")
    if where == "after a 1 MB comment":
        return doc[:at] + b"<!--" + b"c" * (1 << 20) + b"-->\n" + _DTD + doc[at:]
    if where == "utf-16":
        text = (doc[:at] + _DTD + doc[at:]).decode().replace("encoding='UTF-8'", "encoding='UTF-16'")
        return text.encode("utf-16")
    if where == "parameter entity":
        return doc[:at] + b'<!DOCTYPE NessusClientData_v2 [<!ENTITY % p "x">]>\n' + doc[at:]
    return doc[:at] + _DTD + doc[at:]


@pytest.mark.parametrize("where", ["first bytes", "after a 1 MB comment", "utf-16",
                                   "parameter entity"])
@pytest.mark.parametrize("options", [["--profile", "all"], [], ["--strict"]])
def test_entity_declarations_are_refused_wherever_they_are(tmp_path, where, options):
    path = tmp_path / "ent.nessus"
    path.write_bytes(_with_entity(where))
    r = run_cli("parse", path, *options, "--out", "-")
    assert r.returncode == 1
    one_error_line(r.stderr, "ent.nessus", "declares XML entities")
    assert b"EXPANDED" not in r.stdout and r.stdout == b""


def test_an_entity_named_in_a_comment_is_not_a_declaration(tmp_path):
    path = tmp_path / "c.nessus"
    at = DOC.index(b"<NessusClientData_v2")
    path.write_bytes(DOC[:at] + b"<!-- <!ENTITY x 'y'> -->\n" + DOC[at:])
    r = run_cli("parse", path, "--profile", "all", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 39


# -- --strict is exactly as strict as the full parser --------------------------------------------

@pytest.mark.parametrize("depth, why", [(2100, "Excessive depth"),
                                        (100_000, "more than 100,000 elements")])
def test_strict_refuses_deep_nesting_in_a_dropped_item_as_the_full_parser_does(tmp_path, depth,
                                                                                why):
    from vulnpipe.ingest import NessusReader, ParseError, resolve_profile
    from vulnpipe.ingest.nessus.sources import expand_inputs

    doc = nb.document([nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}",
                                   items=[nb.l2tp(), nb.item(plugin_id=22, name="SSH", port=22,
                                                             output="DROPPED")])
                       for i in range(1, 5)])
    deep = b"<a>" * depth + b"x" + b"</a>" * depth
    path = tmp_path / "deep.nessus"
    path.write_bytes(doc.replace(b"DROPPED", deep, 1))
    source = next(expand_inputs([path]))
    with pytest.raises(ParseError) as full:
        NessusReader(source, resolve_profile("l2tp")).read_all()            # the full parser
    r = run_cli("parse", path, "--strict", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 1
    assert one_error_line(r.stderr, "deep.nessus") == f"error: {full.value}"
    assert why in str(full.value)
    # without --strict a dropped item's content is not read (as documented), but the cap on
    # an item's markup holds in every mode
    default = run_cli("parse", path, "--out", tmp_path / "o.jsonl")
    assert default.returncode == (1 if depth == 100_000 else 0), default.stderr.decode()


def test_strict_still_reads_ordinary_nesting(tmp_path):
    deep = b"<a>" * 300 + b"x" + b"</a>" * 300
    path = tmp_path / "ok.nessus"
    path.write_bytes(DOC.replace(b"x" * 50, deep, 1))
    r = run_cli("parse", path, "--strict", "--profile", "all", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 0, r.stderr.decode()


# -- what one item may hold: capped values, absurd markup refused before it is built -----------

# The largest process: VmHWM of this one (not its ru_maxrss, which on Linux starts at what the
# parent held before the exec: a big pytest worker would be measured) or of a worker it forked.
_PEAK = """
import re, resource, sys
from vulnpipe import cli
sys.argv = ["vulnpipe", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as fh:
    peak = int(re.search(r"VmHWM:\\s*(\\d+)", fh.read()).group(1))
print(code, max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)
"""


def _peak(*args, env: dict | None = None) -> tuple[int, int, str]:
    """Exit status, peak RSS (kB) and stderr of ``vulnpipe ARGS`` in a process of its own
    (``env``: variables to set for it)."""
    # (unmeasured by coverage: under its tracer the process would measure the tracer too)
    env = {k: v for k, v in unmeasured_env(env).items() if k != "VULNPIPE_DB"}
    out = subprocess.run([sys.executable, "-c", _PEAK, *map(str, args)], capture_output=True,
                         timeout=600, env=env)
    *lines, last = out.stderr.decode().strip().splitlines()
    code, rss = last.split()
    return int(code), int(rss), "\n".join(lines)


def _one_l2tp_item_holding(path: Path, write_output) -> Path:
    doc = nb.document([nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}", items=[nb.l2tp(output="OUT")])
                       for i in range(1, 5)])
    head, tail = doc.split(b"OUT", 1)
    with open(path, "wb") as fh:
        fh.write(head)
        write_output(fh)
        fh.write(tail)
    return path


@pytest.mark.parametrize("kind", ["millions of children", "nesting"])
@pytest.mark.parametrize("profile", ["l2tp", "all"])
def test_an_item_with_absurd_markup_is_refused_before_it_is_built(tmp_path, kind, profile):
    if kind == "millions of children":       # 40 MB: 5 million elements in one plugin_output
        unit, times = b"<b>x</b>" * 131072, 40
    else:                                    # 21 MB of nesting 1,000 deep, again and again
        unit = b"<a>" * 1000 + b"x" + b"</a>" * 1000
        times = 21 * (1 << 20) // len(unit)
    path = _one_l2tp_item_holding(tmp_path / "absurd.nessus",
                                  lambda fh: [fh.write(unit) for _ in range(times)])
    code, rss_kb, err = _peak("parse", path, "--profile", profile, "--out", tmp_path / "o.jsonl")
    assert code == 1
    line = one_error_line(err.encode(), "absurd.nessus:19:", "more than 100,000 elements")
    assert "refused before it is built" in line
    assert rss_kb < 300_000, f"peak RSS {rss_kb} kB (it was 1.3 to 4 GB)"


@pytest.fixture(scope="session")
def huge_plugin_output(tmp_path_factory) -> Path:
    """``huge.nessus``: four l2tp items, the first with a plugin_output of 200 MB (``A``),
    written once per session (read-only: tests write their outputs elsewhere)."""
    def make(folder: Path) -> None:
        _one_l2tp_item_holding(folder / "huge.nessus",
                               lambda fh: [fh.write(b"A" * (1 << 20)) for _ in range(200)])

    return made_once(tmp_path_factory, "huge-plugin-output", make) / "huge.nessus"


@pytest.mark.slow
def test_a_200_megabyte_plugin_output_is_capped_with_a_marker_and_a_note(tmp_path,
                                                                         huge_plugin_output):
    from vulnpipe.ingest.nessus.build import MAX_OUTPUT_CHARS

    path = huge_plugin_output
    for profile in ("l2tp", "all"):
        code, rss_kb, err = _peak("parse", path, "--profile", profile, "--out", tmp_path / "o.jsonl")
        assert code == 0, err
        notes = [ln for ln in err.splitlines() if ln.startswith("note: huge.nessus")]
        assert len(notes) == 1 and "1 value(s) over the size caps were truncated" in notes[0]
        record = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
        output = record["plugin_output"]
        assert output.startswith("A" * MAX_OUTPUT_CHARS)
        assert output.endswith(f"the export holds {200 * (1 << 20):,} characters here, the first "
                               f"{MAX_OUTPUT_CHARS:,} are kept]")
        assert rss_kb < 1_200_000, f"peak RSS {rss_kb} kB"
    db = tmp_path / "s.db"
    assert run_cli("ingest", path, "--db", db).returncode == 0
    r = run_cli("tickets", "--db", db, "--jira-csv", tmp_path / "j.csv", "--jsonl", tmp_path / "t.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "j.csv").stat().st_size < 10 * MAX_OUTPUT_CHARS     # it was 629 MB


#: Every reading path: (name, vulnpipe arguments, environment). "one process" keeps the file
#: in one process (the full parser for profile all, the fast path for l2tp); else a file this
#: big is split and read by worker processes.
_ONE_PROCESS = {"VULNPIPE_PARALLEL_MIN_BYTES": str(1 << 50)}
_PATHS = [
    ("full parser", ["parse", "{f}", "--profile", "all", "--out", "{d}/o.jsonl"], _ONE_PROCESS),
    ("fast path", ["parse", "{f}", "--profile", "l2tp", "--out", "{d}/o.jsonl"], _ONE_PROCESS),
    ("fast path --strict", ["parse", "{f}", "--strict", "--out", "{d}/o.jsonl"], _ONE_PROCESS),
    ("parallel, all", ["parse", "{f}", "--profile", "all", "--out", "{d}/o.jsonl"], {}),
    ("parallel, l2tp", ["parse", "{f}", "--profile", "l2tp", "--out", "{d}/o.jsonl"], {}),
    ("ingest", ["ingest", "{f}", "--db", "{d}/s.db"], {}),
    ("tickets from scans", ["tickets", "--scan", "{f}", "--jira-csv", "{d}/j.csv"], {}),
]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["plugin_output", "attribute"])
def test_one_200_megabyte_text_costs_no_more_than_the_cap_on_every_reading_path(tmp_path, where,
                                                                                 request):
    """libxml2 used to hold the whole text while reading it (0.5 to 1.1 GB for this file, and
    as much again in each worker); now it is cut in the byte stream first: every path's peak
    is the same command's on a small file plus the cap's worth."""
    chunk = b"A" * (1 << 20)
    if where == "plugin_output":
        path = request.getfixturevalue("huge_plugin_output")
    else:
        doc = DOC.replace(b'pluginName="L2TP Network Server Detection"', b'pluginName="OUT"', 1)
        head, tail = doc.split(b"OUT", 1)
        path = tmp_path / "huge.nessus"
        with open(path, "wb") as fh:
            fh.write(head + b"L2TP Network Server Detection ")
            for _ in range(200):
                fh.write(chunk)
            fh.write(tail)
    small = tmp_path / "small.nessus"
    small.write_bytes(DOC)
    flat: dict[str, int] = {}
    for name, args, env in _PATHS if where == "plugin_output" else _PATHS[:2] + _PATHS[4:5]:
        if args[0] not in flat:
            code, flat[args[0]], err = _peak(*[a.format(f=small, d=tmp_path) for a in args],
                                             env=env)
            assert code == 0, err
        code, rss_kb, err = _peak(*[a.format(f=path, d=tmp_path) for a in args], env=env)
        assert code == 0, (name, err)
        assert "1 value(s) over the size caps were truncated" in err, (name, err)
        assert rss_kb < flat[args[0]] + 48_000, \
            f"{name}: peak RSS {rss_kb} kB, {flat[args[0]]} kB on a small file"
        (tmp_path / "s.db").unlink(missing_ok=True)


def _records(path: Path, profile: str, how: str) -> tuple:
    from vulnpipe.ingest import NessusReader, resolve_profile
    from vulnpipe.ingest.nessus.parallel import ParallelReader
    from vulnpipe.ingest.nessus.sources import expand_inputs

    source = next(expand_inputs([path]))
    prof = resolve_profile(profile)
    if how == "parallel":
        reader = ParallelReader(source, prof, workers=2)
    else:
        reader = NessusReader(source, prof, fast=how == "fast")
    hosts, findings = reader.read_all()
    return hosts, findings, reader.reports, reader.policy, reader.stats.truncated


@pytest.mark.parametrize("megabytes", [3, 8])
def test_over_long_texts_give_the_same_records_and_notes_as_before_on_every_reader(
        tmp_path, monkeypatch, megabytes):
    """A plugin_output, an attribute, a policy value and a host property over the caps (3 MB:
    over the cap, under the stream's cut; 8 MB: over the cut too): every reader gives the
    records libxml2 gives when it reads every byte (the stream filter turned off), with the
    same markers and the same count for the note."""
    from vulnpipe.ingest.nessus import fastpath, textcap

    text = ("line of output é€ &amp; &#x41;\r\n" * (megabytes * (1 << 20) // 38))
    doc = nb.document([nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}",
                                   items=[nb.l2tp(output="OUT" if i == 2 else "small")])
                       for i in range(1, 6)])
    doc = doc.replace(b"OUT", text.encode(), 1)
    doc = doc.replace(b'pluginName="L2TP Network Server Detection"',
                      b'pluginName="L2TP Network Server Detection ' + b"N" * (megabytes << 20)
                      + b'"', 1)
    doc = doc.replace(b'<tag name="host-ip">10.0.0.3</tag>',
                      b'<tag name="host-ip">10.0.0.3</tag><tag name="long">  '
                      + b"p" * (megabytes << 20) + b"  </tag>", 1)
    assert b'<tag name="long">' in doc
    path = tmp_path / "long.nessus"
    path.write_bytes(doc)
    cap = textcap.TextCap()
    for i in range(0, len(doc), 1 << 20):
        cap.feed(doc[i:i + (1 << 20)])
    assert len(cap.cuts) == (3 if megabytes > 5 else 0)
    got = {(profile, how): _records(path, profile, how)
           for profile in ("l2tp", "all") for how in ("full", "fast", "parallel")}
    with monkeypatch.context() as m:          # libxml2 reads every byte, as before
        m.setattr(textcap.TextCap.__init__, "__defaults__", (1 << 60, 1 << 60))
        m.setattr(fastpath, "CUT_BYTES", 1 << 60)
        before = {profile: _records(path, profile, "full") for profile in ("l2tp", "all")}
    for (profile, how), records in got.items():
        assert records == before[profile], (profile, how)
    hosts, findings, _reports, _policy, truncated = before["all"]
    assert truncated == 3
    output = findings[1].plugin_output
    chars = len(text.replace("\r\n", "\n").replace("&amp;", "&").replace("&#x41;", "A"))
    assert output.endswith(f"the export holds {chars:,} characters here, the first 1,000,000 "
                           "are kept]")
    assert dict(hosts[2].properties)["long"].endswith(
        f"the export holds {megabytes << 20:,} characters here, the first 65,536 are kept]")


@pytest.mark.parametrize("defect", ["control character", "unknown entity", "truncated"])
def test_a_defect_in_the_part_the_stream_drops_is_refused_as_before(tmp_path, monkeypatch, defect):
    """Past the cut the stream drops text, but checks it first: a defect there is refused
    with the same one line (message, line number, hint) as when libxml2 reads every byte."""
    from vulnpipe.ingest import NessusReader, ParseError, resolve_profile
    from vulnpipe.ingest.nessus import fastpath, textcap
    from vulnpipe.ingest.nessus.sources import expand_inputs

    lines = "a line of plugin output\n" * (8 * (1 << 20) // 24)
    bad = {"control character": "\x01", "unknown entity": "&bogus;", "truncated": ""}[defect]
    doc = nb.document([nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}",
                                   items=[nb.l2tp(output="OUT" if i == 2 else "small")])
                       for i in range(1, 4)])
    doc = doc.replace(b"OUT", (lines + bad + lines[:1000]).encode(), 1)
    if defect == "truncated":
        doc = doc[:len(doc) // 2 + 4_000_000]
    path = tmp_path / "bad.nessus"
    path.write_bytes(doc)

    def error(fast: bool) -> str:
        reader = NessusReader(next(expand_inputs([path])), resolve_profile("all"), fast=fast)
        with pytest.raises(ParseError) as exc:
            reader.read_all()
        return str(exc.value)

    now = {fast: error(fast) for fast in (False, True)}
    with monkeypatch.context() as m:
        m.setattr(textcap.TextCap.__init__, "__defaults__", (1 << 60, 1 << 60))
        m.setattr(fastpath, "CUT_BYTES", 1 << 60)
        before = error(False)
    assert now[False] == now[True] == before
    if bad:
        line = doc[:doc.index(bad.encode())].count(b"\n") + 1
        assert f"bad.nessus:{line}:" in before, before
    else:
        assert "the file is truncated" in before, before


def test_long_attributes_are_capped_alike_by_every_reader(tmp_path):
    from vulnpipe.ingest import NessusReader, resolve_profile
    from vulnpipe.ingest.nessus.build import MAX_TEXT_CHARS
    from vulnpipe.ingest.nessus.sources import expand_inputs

    long_name = "N" * (3 * MAX_TEXT_CHARS)
    path = tmp_path / "attr.nessus"
    path.write_bytes(DOC.replace(b'pluginName="L2TP Network Server Detection"',
                                 f'pluginName="{long_name}"'.encode(), 1))
    source = next(expand_inputs([path]))
    results = []
    for fast in (False, True):
        reader = NessusReader(source, resolve_profile("l2tp"), fast=fast)
        _hosts, findings = reader.read_all()
        results.append(findings)
        assert reader.stats.truncated == 1
    assert results[0] == results[1]
    name = results[0][0].plugin_name
    assert name.startswith("N" * MAX_TEXT_CHARS) and "truncated by vulnpipe" in name
    assert len(name) < MAX_TEXT_CHARS + 200


# -- messages: full disk, lost connection, control characters -----------------------------------

def test_control_characters_in_names_and_text_are_escaped_on_the_terminal(tmp_path):
    archive = tmp_path / "names.zip"
    evil = "evil\x1b]0;pwned\x07\x1b[2J\u202e.nessus"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(evil, DOC[:500])                                 # refused: truncated
        zf.writestr("good\x1b[31m.nessus", DOC)
    db = tmp_path / "s.db"
    r = run_cli("ingest", archive, "--db", db)
    assert r.returncode == 1
    text = r.stderr.decode()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    one_error_line(r.stderr, "names.zip:evil\\x1b]0;pwned\\x07\\x1b[2J\\u202e.nessus")
    r = run_cli("scans", "--db", db)
    assert r.returncode == 0 and "\x1b" not in r.stdout.decode()
    assert "names.zip:good\\x1b[31m.nessus" in r.stdout.decode()
    r = run_cli("scans", "--db", db, "--format", "jsonl")       # machine output: JSON escapes
    assert json.loads(r.stdout)["file_name"] == "names.zip:good\x1b[31m.nessus"


def test_a_full_disk_under_the_database_is_not_a_credentials_hint(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        r = run_cli("ingest", SCANS, "--db", mnt / "x.db")
        assert r.returncode == 1
        line = one_error_line(r.stderr, "x.db", "full")
        assert "credentials" not in line and "free disk space" in line
        out = run_cli("ingest", W44, "--db", tmp_path / "ok.db")
        assert out.returncode == 0
        r = run_cli("tickets", "--db", tmp_path / "ok.db", "--jira-csv", mnt / "big.csv",
                    "--xlsx", mnt / "t.xlsx", "--markdown", mnt / "md")
        if r.returncode:
            line = one_error_line(r.stderr, str(mnt))
            assert "No space left" in line and "database" not in line
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_lost_postgres_connection_is_explained_in_one_line(tmp_path):
    from tests.conftest import PG_URL, _drop_pg_database, _new_pg_database

    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it)")
    import uuid

    import psycopg

    name = f"vp_lost_{uuid.uuid4().hex[:10]}"
    db = _new_pg_database(name)
    try:
        data = nb.document([nb.HostSpec(f"10.8.{i // 250}.{i % 250}", ip=f"10.8.{i // 250}.{i % 250}",
                                        items=[nb.l2tp()]) for i in range(3000)])
        first = tmp_path / "a-first.nessus"
        first.write_bytes(DOC)
        fifo = tmp_path / "b-scan.nessus"
        os.mkfifo(fifo)
        env = {k: v for k, v in os.environ.items() if k != "VULNPIPE_DB"}
        proc = subprocess.Popen([sys.executable, "-m", "vulnpipe", "ingest", str(first),
                                 str(fifo), str(W44), "--db", db], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        with open(fifo, "wb") as pipe:
            pipe.write(data[: len(data) // 2])
            pipe.flush()
            base = PG_URL.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(base, autocommit=True) as admin:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = "
                        "'idle in transaction' AND pid <> pg_backend_pid()", (name,)).fetchone()[0]:
                    time.sleep(0.2)
                wait_until_it_waits_for_input(proc.pid)     # (mid-transaction, all read)
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            try:
                pipe.write(data[len(data) // 2:])
            except BrokenPipeError:
                pass
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err.decode()
        text = err.decode()
        assert text.count("\n") == 1, text                  # no stray driver line
        line = one_error_line(err, "cannot use the database", "stopped at b-scan.nessus")
        assert "1 file(s) before it kept, 1 not tried" in line and "run the same command again" in line
    finally:
        _drop_pg_database(name)


@pytest.mark.parametrize("crash", sorted((ROOT / "tests" / "fixtures" / "fuzz-archives").glob("*.bin")),
                         ids=lambda p: p.stem)
def test_archives_found_by_the_fuzzer_are_one_line_beside_a_good_file(tmp_path, crash):
    data = crash.read_bytes()            # as fuzz/fuzz_archives.py: the first byte picks the kind
    bad = tmp_path / ("input.zip" if data[0] % 2 == 0 else "input.nessus.gz")
    bad.write_bytes(data[1:])
    good = tmp_path / "good.nessus"
    good.write_bytes(DOC)
    r = run_cli("parse", bad, good, "--profile", "all", "--out", tmp_path / "o.jsonl")
    assert r.returncode == 1
    text = r.stderr.decode()
    assert "Traceback" not in text and "internal error" not in text, text
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 39
