"""Evidence packs: reproducible, tamper-evident, honest about what is proved fixed."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import insert

from tests import nessus_builder as nb
from tests.conftest import ROOT, copy_store, run_cli
from vulnpipe.ingest.assets.inventory import load_inventory
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.profiles import resolve_profile
from vulnpipe.ingest.store import ingest_source, open_store
from vulnpipe.ingest.store.assets import save_inventory
from vulnpipe.ingest.store.schema import decisions
from vulnpipe.reports.evidence import PackOptions, Period, build_pack, quarter, verify_pack
from vulnpipe.reports.evidence.names import SAFE_NAME

SAMPLE = ROOT / "sample_data"
L2TP = resolve_profile("l2tp")
FIXED_BY_RESCAN = "VP-D24C2980AD"      # l2tp-legacy01 10.10.2.41: fixed by W48 rescan A
NOT_COVERED = "VP-4C4F7C1907"          # br07-rtr 10.20.7.1: rescan B cannot see 11387
FIXED_IN_W47 = "VP-9699232052"         # rras02 10.10.1.22: fixed by the W47 weekly scan
FIXED_IN_W45 = "VP-D3D783997D"         # lnx-vpn-test 10.10.4.31: fixed by the W45 weekly scan


# -- helpers -----------------------------------------------------------------------------------

def ingest_all(db: Path, inputs) -> str:
    engine = open_store(str(db))
    for source in expand_inputs(inputs):
        assert ingest_source(engine, source, L2TP).status == "stored"
    engine.dispose()
    return str(db)


def build(db: str, out: Path, **kw) -> Path:
    engine = open_store(db, create=False)
    try:
        with engine.connect() as conn:
            build_pack(conn, out, PackOptions(profile=L2TP, database="test-db", version="test", **kw))
    finally:
        engine.dispose()
    return out


def members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def ticket_doc(pack: Path, key: str) -> dict:
    return json.loads(members(pack)[f"tickets/{key}.json"])


def rewrite(src: Path, dst: Path, *, change: str | None = None, remove: str | None = None,
            add: tuple[str, bytes] | None = None) -> Path:
    """A copy of the pack with one member changed, removed or added (timestamps kept)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == remove:
                continue
            data = zin.read(info)
            if info.filename == change:
                data = data[:-1] + bytes([data[-1] ^ 0x01])
            zout.writestr(info, data)
        if add:
            zout.writestr(add[0], add[1])
    return dst


def sheet_rows(data: bytes, title: str) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    first = 6 if "POA&M" in title else 2            # the POA&M's header block: rows 1-4
    return list(wb[title].iter_rows(min_row=first, values_only=True))


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_db(tmp_path_factory, sample_store) -> str:
    """Every sample scan in one SQLite store, with the sample inventory stored (as
    `vulnpipe tickets --inventory` leaves it), so ticket keys follow inventory assets."""
    db = str(copy_store(sample_store, tmp_path_factory.mktemp("evidence-db") / "sample.db"))
    engine = open_store(db, create=False)
    with engine.begin() as conn:
        save_inventory(conn, load_inventory(SAMPLE / "inventory.csv"))
    engine.dispose()
    return db


@pytest.fixture(scope="module")
def sample_pack(sample_db, tmp_path_factory) -> Path:
    """The whole-history pack, built by the real program."""
    out = tmp_path_factory.mktemp("evidence-pack") / "pack.zip"
    r = run_cli("evidence", "build", "--db", sample_db, "--inventory", SAMPLE / "inventory.csv",
                "--out", out)
    assert r.returncode == 0, r.stderr.decode()
    return out


T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
FULL = [11387, 10622, 11494, 19506]


def small_scan(path: Path, hosts: list[tuple[str, str, bool]], day: int, plugin_set=FULL) -> Path:
    """A scan of ``(ReportHost name, ip, has L2TP)`` hosts on day ``day`` after T0."""
    specs = [nb.HostSpec(name, ip=ip, start=T0 + timedelta(days=day, minutes=i),
                         end=T0 + timedelta(days=day, minutes=i + 2),
                         items=[nb.l2tp(output="xl2tpd answered <b>here</b>")] if l2tp else
                         [nb.item(plugin_id=19506, name="Nessus Scan Information")])
             for i, (name, ip, l2tp) in enumerate(hosts)]
    return nb.write(path, specs, policy=nb.policy_element(plugin_set=plugin_set))


@pytest.fixture
def story_db(tmp_path) -> str:
    """Week 1: A, B and C expose L2TP. Week 2: a covering rescan holds only B (now clean).
    Week 3: a rescan whose policy lacks 11387 holds C. A is never rescanned."""
    d = tmp_path / "scans"
    d.mkdir()
    small_scan(d / "w1.nessus", [("a.corp.example", "10.0.0.1", True),
                                 ("b.corp.example", "10.0.0.2", True),
                                 ("c.corp.example", "10.0.0.3", True)], 0)
    small_scan(d / "w2.nessus", [("b.corp.example", "10.0.0.2", False)], 7)
    small_scan(d / "w3.nessus", [("c.corp.example", "10.0.0.3", False)], 14, plugin_set=[19506])
    return ingest_all(tmp_path / "story.db", [d])


def key_of(pack: Path, address: str) -> str:
    for name, data in members(pack).items():
        if name.endswith(".json") and name.startswith("tickets/"):
            doc = json.loads(data)
            if doc["address"] == address:
                return doc["key"]
    raise AssertionError(f"no ticket for {address}")


# -- reproducibility ---------------------------------------------------------------------------

def test_same_database_state_gives_a_byte_identical_pack(sample_db, sample_pack, tmp_path):
    again = tmp_path / "again.zip"
    r = run_cli("evidence", "build", "--db", sample_db, "--inventory", SAMPLE / "inventory.csv",
                "--out", again)
    assert r.returncode == 0, r.stderr.decode()
    assert again.read_bytes() == sample_pack.read_bytes()


def test_pack_entries_are_sorted_with_fixed_times_and_permissions(sample_pack):
    with zipfile.ZipFile(sample_pack) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
    assert {"index.html", "README.txt", "manifest.json", "poam.xlsx", "tickets.xlsx",
            "reconciliation.xlsx", "scans/6.json", f"tickets/{FIXED_BY_RESCAN}.json",
            f"tickets/{FIXED_BY_RESCAN}.md"} <= set(names)


def test_no_wall_clock_value_unless_generated_at_is_given(sample_db, tmp_path):
    plain = members(build(sample_db, tmp_path / "plain.zip"))
    manifest = json.loads(plain["manifest.json"])
    assert "generated_at" not in manifest
    assert b"Generated at" not in plain["index.html"]
    stamped = members(build(sample_db, tmp_path / "stamped.zip",
                            generated_at=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)))
    assert json.loads(stamped["manifest.json"])["generated_at"] == "2026-12-01T09:30:00Z"
    assert b"2026-12-01T09:30:00Z" in stamped["index.html"]


def test_manifest_lists_every_other_file_and_the_original_scan_hashes(sample_pack):
    got = members(sample_pack)
    manifest = json.loads(got["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(got) - {"manifest.json"}
    import hashlib
    for path, f in listed.items():
        assert f["sha256"] == hashlib.sha256(got[path]).hexdigest() and f["size"] == len(got[path])
    originals = {s["file_name"]: s["sha256"] for s in manifest["scans_used"]}
    for p in (SAMPLE / "scans").glob("*.nessus"):
        assert originals[p.name] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert manifest["vulnpipe_version"] == "0.1.0"
    assert manifest["database"].startswith("sqlite:///") and manifest["database"].endswith("sample.db")


# -- verify ------------------------------------------------------------------------------------

TAMPER_TARGETS = ["index.html", "README.txt", "poam.xlsx", "scans/6.json",
                  f"tickets/{FIXED_BY_RESCAN}.json", f"tickets/{FIXED_BY_RESCAN}.md"]


def test_intact_pack_verifies_with_exit_0(sample_pack):
    r = run_cli("evidence", "verify", sample_pack)
    assert r.returncode == 0, r.stderr.decode()
    assert b"intact" in r.stderr and r.stdout == b""


@pytest.mark.parametrize("name", TAMPER_TARGETS)
def test_changing_a_file_is_reported_as_altered(sample_pack, tmp_path, name):
    result = verify_pack(rewrite(sample_pack, tmp_path / "t.zip", change=name))
    assert [p.line().split(" (")[0] for p in result.problems] == [f"altered: {name}"]


@pytest.mark.parametrize("name", TAMPER_TARGETS + ["manifest.json"])
def test_removing_a_file_is_reported_as_missing(sample_pack, tmp_path, name):
    result = verify_pack(rewrite(sample_pack, tmp_path / "t.zip", remove=name))
    assert [p.line().split(" (")[0] for p in result.problems] == [f"missing: {name}"]


@pytest.mark.parametrize("name", ["notes.txt", "tickets/VP-0000000000.json", "scans/99.nessus"])
def test_adding_a_file_is_reported_as_extra(sample_pack, tmp_path, name):
    result = verify_pack(rewrite(sample_pack, tmp_path / "t.zip", add=(name, b"added later")))
    assert [p.line().split(" (")[0] for p in result.problems] == [f"extra: {name}"]


def test_verify_cli_prints_one_line_per_problem_and_exits_1(sample_pack, tmp_path):
    bad = rewrite(sample_pack, tmp_path / "bad.zip", change="poam.xlsx")
    bad = rewrite(bad, tmp_path / "worse.zip", remove="scans/6.json", add=("x.txt", b"x"))
    r = run_cli("evidence", "verify", bad)
    assert r.returncode == 1
    lines = r.stdout.decode().splitlines()
    assert [l.split(" (")[0] for l in lines] == ["altered: poam.xlsx", "missing: scans/6.json",
                                                 "extra: x.txt"]
    assert b"NOT intact" in r.stderr


def test_editing_a_hash_in_the_manifest_names_that_file(sample_pack, tmp_path):
    got = members(sample_pack)
    doc = json.loads(got["manifest.json"])
    entry = next(f for f in doc["files"] if f["path"] == "index.html")
    entry["sha256"] = "0" * 64
    out = tmp_path / "m.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in got.items():
            zf.writestr(name, json.dumps(doc).encode() if name == "manifest.json" else data)
    assert [p.line().split(" (")[0] for p in verify_pack(out).problems] == ["altered: index.html"]


def test_unsafe_member_names_are_reported_and_never_extracted(sample_pack, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    bad = tmp_path / "evil.zip"
    shutil.copy(sample_pack, bad)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("../evil.txt", b"pwned")
        zf.writestr("/abs.txt", b"pwned")
        zf.writestr("tickets/..\\x.txt", b"pwned")
    r = run_cli("evidence", "verify", bad, cwd=work)
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "unsafe: ../evil.txt" in out and "unsafe: /abs.txt" in out and "unsafe: tickets/..\\x.txt" in out
    assert not (tmp_path / "evil.txt").exists() and not Path("/abs.txt").exists()
    assert sorted(p.name for p in work.iterdir()) == []


def test_verify_refuses_a_file_that_is_not_a_zip(tmp_path):
    p = tmp_path / "not.zip"
    p.write_text("hello")
    r = run_cli("evidence", "verify", p)
    assert r.returncode == 1 and r.stderr.decode().startswith("error:")
    assert len(r.stderr.decode().strip().splitlines()) == 1


# -- signing -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    r = run_cli("evidence", "keygen", "--out", d)
    assert r.returncode == 0, r.stderr.decode()
    return d / "evidence-signing.pem", d / "evidence-signing.pub"


@pytest.fixture(scope="module")
def signed_pack(sample_db, keys, tmp_path_factory) -> Path:
    return build(sample_db, tmp_path_factory.mktemp("signed") / "signed.zip", sign_key=keys[0])


def test_signed_pack_verifies_with_the_public_key(signed_pack, keys, tmp_path, sample_db):
    assert "manifest.json.sig" in members(signed_pack)
    r = run_cli("evidence", "verify", signed_pack, "--pub-key", keys[1])
    assert r.returncode == 0, r.stderr.decode()
    assert b"signature valid" in r.stderr
    again = build(sample_db, tmp_path / "again.zip", sign_key=keys[0])
    assert again.read_bytes() == signed_pack.read_bytes()       # Ed25519 is deterministic


def test_tampered_manifest_or_signature_fails_the_signature_check(signed_pack, keys, tmp_path):
    manifest = rewrite(signed_pack, tmp_path / "m.zip", change="manifest.json")
    result = verify_pack(manifest, keys[1])
    assert result.signature == "invalid"
    assert "bad signature: manifest.json.sig" in [p.line().split(" (")[0] for p in result.problems]
    sig = rewrite(signed_pack, tmp_path / "s.zip", change="manifest.json.sig")
    assert [p.line().split(" (")[0] for p in verify_pack(sig, keys[1]).problems] == \
        ["bad signature: manifest.json.sig"]
    unsigned = rewrite(signed_pack, tmp_path / "u.zip", remove="manifest.json.sig")
    assert [p.line().split(" (")[0] for p in verify_pack(unsigned, keys[1]).problems] == \
        ["missing: manifest.json.sig"]


def test_a_different_key_does_not_verify_the_signature(signed_pack, tmp_path):
    r = run_cli("evidence", "keygen", "--out", tmp_path / "other")
    assert r.returncode == 0
    r = run_cli("evidence", "verify", signed_pack, "--pub-key", tmp_path / "other" / "evidence-signing.pub")
    assert r.returncode == 1 and b"bad signature: manifest.json.sig" in r.stdout


def test_keygen_never_overwrites_a_key(keys):
    r = run_cli("evidence", "keygen", "--out", keys[0].parent)
    assert r.returncode == 1 and b"already there" in r.stderr
    assert keys[0].stat().st_mode & 0o077 == 0


def test_verify_and_keygen_read_no_config(sample_pack, tmp_path):
    """verify and keygen read no setting, so they take no --config: a broken vulnpipe.toml in
    the folder or in VULNPIPE_CONFIG (set for a script's other commands) never stops them."""
    (tmp_path / "vulnpipe.toml").write_text("not = [valid\n")
    for env in (None, {"VULNPIPE_CONFIG": str(tmp_path / "vulnpipe.toml")}):
        assert run_cli("evidence", "verify", sample_pack, cwd=tmp_path, env=env).returncode == 0
        r = run_cli("evidence", "keygen", "--out", tmp_path / str(bool(env)), cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr.decode()
    assert b"not valid TOML" in run_cli("scans", cwd=tmp_path).stderr   # one that reads settings


# -- what the evidence says --------------------------------------------------------------------

def test_fixed_ticket_names_the_verifying_rescan_and_holds_the_report_item_xml(sample_pack):
    doc = ticket_doc(sample_pack, FIXED_BY_RESCAN)
    assert doc["state"] == "fixed"
    assert doc["verified_fixed_by"]["scan"] == "2026-W48-rescan-a.nessus"
    l2tp = next(f for f in doc["findings"] if f["plugin_id"] == 11387)
    after = l2tp["after"]
    assert after["scan"] == "2026-W48-rescan-a.nessus" and after["evidence_file"] == f"scans/{after['scan_id']}.json"
    assert after["host_present"] is True and after["finding_present"] is False
    assert after["coverage"]["status"] == "covered" and after["coverage"]["plugin_enabled"] is True
    assert after["coverage"]["port_in_range"] is True
    before = l2tp["before"]["last_detection"]
    assert before["scan"] == "2026-W48-weekly.nessus"
    xml = before["report_item_xml"]
    assert xml.startswith("<ReportItem ") and 'pluginID="11387"' in xml and xml.rstrip().endswith("</ReportItem>")
    original = (SAMPLE / "scans" / "2026-W48-weekly.nessus").read_text("utf-8")
    body = xml.split(">", 1)[1].rsplit("</ReportItem>", 1)[0]
    assert body in original                      # the item's content, verbatim
    assert before["parsed"]["plugin_id"] == 11387 and before["parsed"]["port"] == 1701
    assert [h["event"] for h in doc["history"]] == ["opened", "fixed"]
    md = members(sample_pack)[f"tickets/{FIXED_BY_RESCAN}.md"].decode()
    assert "Proved fixed by | scan" in md and "2026-W48-rescan-a.nessus" in md and "<ReportItem" in md


def test_not_covered_ticket_is_never_presented_as_fixed(sample_pack):
    doc = ticket_doc(sample_pack, NOT_COVERED)
    assert doc["state"] == "open" and doc["verified_fixed_by"] is None
    l2tp = next(f for f in doc["findings"] if f["plugin_id"] == 11387)
    assert l2tp["status"] == "not_covered" and l2tp["after"] is None
    assert "plugin not enabled (2026-W48-rescan-b.nessus)" in l2tp["status_reason"]
    got = members(sample_pack)
    recon = {(r[1], r[3]): r for r in sheet_rows(got["reconciliation.xlsx"], "Reconciliation")}
    assert recon[("10.20.7.1", 11387)][7] == "not_covered"


def test_not_rescanned_and_not_covered_stay_open_only_the_covering_rescan_fixes(story_db, tmp_path):
    pack = build(story_db, tmp_path / "story.zip")
    docs = {addr: ticket_doc(pack, key_of(pack, addr)) for addr in ("10.0.0.1", "10.0.0.2", "10.0.0.3")}
    a, b, c = docs["10.0.0.1"], docs["10.0.0.2"], docs["10.0.0.3"]
    assert a["state"] == "open" and a["findings"][0]["status"] == "not_rescanned"
    assert a["findings"][0]["after"] is None and a["verified_fixed_by"] is None
    assert c["state"] == "open" and c["findings"][0]["status"] == "not_covered"
    assert c["findings"][0]["after"] is None
    assert b["state"] == "fixed" and b["verified_fixed_by"]["scan"] == "w2.nessus"
    got = members(pack)
    closed = {r[0].split("-11387")[0] for r in sheet_rows(got["poam.xlsx"], "Closed POA&M Items")}
    opened = {r[0].split("-11387")[0] for r in sheet_rows(got["poam.xlsx"], "Open POA&M Items")}
    assert closed == {b["key"]} and opened == {a["key"], c["key"]}
    index = got["index.html"].decode()
    row_a = index.split(f"<span class=\"key\">{a['key']}</span>", 1)[1].split("</tr>", 1)[0]
    assert "not proved fixed" in row_a and "verified by" not in row_a
    assert verify_pack(pack).intact


def test_risk_acceptance_and_false_positive_appear_in_the_evidence(story_db, tmp_path):
    probe = build(story_db, tmp_path / "probe.zip")
    a, c = key_of(probe, "10.0.0.1"), key_of(probe, "10.0.0.3")
    engine = open_store(story_db, create=False)
    with engine.begin() as conn:
        conn.execute(insert(decisions), [
            {"ticket_key": a, "kind": "risk_accepted", "at": datetime(2026, 11, 20, 9),
             "reason": "partner VPN until cutover", "approver": "CISO", "until": datetime(2027, 1, 1)},
            {"ticket_key": c, "kind": "false_positive", "at": datetime(2026, 11, 20, 10),
             "reason": "NAT-T test responder", "approver": "Network lead", "until": None}])
    engine.dispose()
    pack = build(story_db, tmp_path / "decided.zip")
    da, dc = ticket_doc(pack, a), ticket_doc(pack, c)
    assert da["state"] == "risk_accepted"
    assert da["risk_acceptance"]["approver"] == "CISO" and da["risk_acceptance"]["until"] == "2026-12-31"   # the last day it holds
    assert [d["kind"] for d in da["decisions"]] == ["risk_accepted"]
    assert dc["state"] == "false_positive" and dc["false_positive"]["reason"] == "NAT-T test responder"
    got = members(pack)
    cols = openpyxl.load_workbook(io.BytesIO(got["poam.xlsx"]))["Open POA&M Items"][5]
    header = [c.value for c in cols]
    open_rows = {r[0]: dict(zip(header, r)) for r in sheet_rows(got["poam.xlsx"], "Open POA&M Items")}
    closed_rows = {r[0]: dict(zip(header, r)) for r in sheet_rows(got["poam.xlsx"], "Closed POA&M Items")}
    row_a = next(v for k, v in open_rows.items() if k.startswith(a))
    assert row_a["Operational Requirement"] == "Yes" and "CISO" in row_a["Deviation Rationale"]
    # a false positive stays open (False Positive = Yes) until a covering rescan closes it
    assert not any(k.startswith(c) for k in closed_rows)
    row_c = next(v for k, v in open_rows.items() if k.startswith(c))
    assert row_c["False Positive"] == "Yes" and "NAT-T" in row_c["Deviation Rationale"]


# -- names and escaping ------------------------------------------------------------------------

def test_entry_names_never_come_from_scanner_text(tmp_path):
    d = tmp_path / "scans"
    d.mkdir()
    hostile = [("../../etc/passwd", "10.0.0.7", True), ("evil/../../x\\y", "10.0.0.8", True),
               ("<script>alert(1)</script>", "10.0.0.9", True)]
    small_scan(d / "hostile.nessus", hostile, 0)
    db = ingest_all(tmp_path / "h.db", [d])
    pack = build(db, tmp_path / "h.zip")
    got = members(pack)
    assert all(SAFE_NAME.match(n) for n in got), sorted(got)
    assert not any("passwd" in n or "etc" in n or "script" in n or "evil" in n for n in got)
    assert len([n for n in got if n.startswith("tickets/") and n.endswith(".json")]) == 3
    index = got["index.html"].decode()
    assert "<script>" not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "../../etc/passwd" in index                 # shown as text, never used as a path
    md = next(v for n, v in got.items() if n.endswith(".md") and b"10.0.0.9" in v).decode()
    assert "<script>" not in md.split("```")[0]
    assert verify_pack(pack).intact


# -- scope: period and tickets -----------------------------------------------------------------

def test_period_keeps_only_tickets_active_in_it_and_judges_at_its_end(sample_db, tmp_path):
    late = members(build(sample_db, tmp_path / "late.zip",
                         period=Period(datetime(2026, 11, 20, tzinfo=timezone.utc),
                                       datetime(2026, 12, 1, tzinfo=timezone.utc), "late")))
    keys = {n[8:-5] for n in late if n.startswith("tickets/") and n.endswith(".json")}
    assert FIXED_BY_RESCAN in keys and FIXED_IN_W47 not in keys and FIXED_IN_W45 not in keys
    used = {s["scan_id"] for s in json.loads(late["manifest.json"])["scans_used"]}
    assert {6, 7, 8, 9} <= used
    early = members(build(sample_db, tmp_path / "early.zip",
                          period=Period(datetime(2026, 11, 1, tzinfo=timezone.utc),
                                        datetime(2026, 11, 8, tzinfo=timezone.utc), "W45")))
    manifest = json.loads(early["manifest.json"])
    assert manifest["scope"]["judged_as_of"].startswith("2026-11-07T23:59:59")
    rras02 = json.loads(early[f"tickets/{FIXED_IN_W47}.json"])
    assert rras02["state"] == "open" and rras02["verified_fixed_by"] is None   # not fixed yet then
    assert f"tickets/{FIXED_IN_W45}.json" in early                            # fixed in W45


def test_quarter_covers_the_whole_quarter():
    q = quarter("2026-Q4")
    assert (q.start, q.end) == (datetime(2026, 10, 1, tzinfo=timezone.utc),
                                datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert q.contains(datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc))
    assert not q.contains(datetime(2027, 1, 1, tzinfo=timezone.utc))


def test_ticket_filter_and_quarter_from_the_cli(sample_db, tmp_path):
    out = tmp_path / "one.zip"
    r = run_cli("evidence", "build", "--db", sample_db, "--quarter", "2026-Q4",
                "--ticket", FIXED_BY_RESCAN, "--out", out)
    assert r.returncode == 0, r.stderr.decode()
    got = members(out)
    assert sorted(n for n in got if n.startswith("tickets/")) == \
        [f"tickets/{FIXED_BY_RESCAN}.json", f"tickets/{FIXED_BY_RESCAN}.md"]
    manifest = json.loads(got["manifest.json"])
    assert manifest["scope"]["tickets"] == [FIXED_BY_RESCAN] and manifest["scope"]["period"] == "2026-Q4"
    assert {s["file_name"] for s in manifest["scans_used"]} >= {"2026-W44-weekly.nessus",
                                                                "2026-W48-rescan-a.nessus"}
    assert "2026-W46-dmz.nessus" not in {s["file_name"] for s in manifest["scans_used"]}
    r = run_cli("evidence", "build", "--db", sample_db, "--ticket", "VP-0000000000", "--out", tmp_path / "x.zip")
    assert r.returncode == 1 and b"no ticket VP-0000000000" in r.stderr
    assert not (tmp_path / "x.zip").exists()


# -- original scan files -----------------------------------------------------------------------

def test_include_raw_adds_the_originals_matched_by_sha256(sample_db, tmp_path):
    pack = build(sample_db, tmp_path / "raw.zip", tickets=(FIXED_BY_RESCAN,),
                 raw_dir=SAMPLE / "scans")
    got = members(pack)
    manifest = json.loads(got["manifest.json"])
    for s in manifest["scans_used"]:
        assert s["original_file"] == f"scans/{s['scan_id']}.nessus"
        assert got[s["original_file"]] == (SAMPLE / "scans" / s["file_name"]).read_bytes()
    assert verify_pack(pack).intact


def test_include_raw_refuses_when_an_original_is_missing(sample_db, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(SAMPLE / "scans" / "2026-W44-weekly.nessus", partial / "renamed.nessus")
    r = run_cli("evidence", "build", "--db", sample_db, "--ticket", FIXED_BY_RESCAN,
                "--include-raw", "--raw-dir", partial, "--out", tmp_path / "p.zip")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "2026-W48-rescan-a.nessus" in err and "2026-W44-weekly.nessus" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "p.zip").exists()
    r = run_cli("evidence", "build", "--db", sample_db, "--include-raw", "--out", tmp_path / "p.zip")
    assert r.returncode == 1 and b"--raw-dir" in r.stderr


def test_readme_says_how_to_verify(sample_pack):
    text = members(sample_pack)["README.txt"].decode()
    assert "vulnpipe evidence verify PACK.zip" in text and "sha256sum" in text
    index = members(sample_pack)["index.html"].decode()
    assert "default-src 'none'; style-src 'unsafe-inline'" in index and "<script" not in index
