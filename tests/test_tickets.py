"""Tickets: stable keys, grouping, every state transition, exports a person opens."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import openpyxl

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.reports.tickets.model import ticket_key

T0 = datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)   # Monday of 2026-W44
COVERS = nb.policy_element(name="weekly", plugin_set=[11387, 10622, 11935, 19506])
BLIND = nb.policy_element(name="no-l2tp", plugin_set=[19506])


def week(n: int) -> datetime:
    return T0 + timedelta(weeks=n)


def scan(tmp_path, name, when, hosts, policy=COVERS):
    specs = []
    for i, (addr, items) in enumerate(hosts):
        specs.append(nb.HostSpec(addr, ip=addr, os="Microsoft Windows Server 2019 Standard",
                                 start=when + timedelta(minutes=i), end=when + timedelta(minutes=i + 5),
                                 items=items))
    return nb.write(tmp_path / name, specs, policy=policy, report_name=name)


def ingest(db, *files):
    r = run_cli("ingest", *files, "--db", db)
    assert r.returncode == 0, r.stderr.decode()


def tickets_jsonl(db, *extra):
    r = run_cli("tickets", "--db", db, "--jsonl", "-", *extra)
    assert r.returncode == 0, r.stderr.decode()
    return {t["key"]: t for t in map(json.loads, r.stdout.decode().splitlines())}


def test_ticket_key_is_the_same_on_every_machine():
    # derived from the identity alone: this literal must never change
    assert ticket_key("l2tp", "host:10.0.0.1") == "VP-196492EA6F"
    assert ticket_key("l2tp", "host:10.0.0.1") != ticket_key("l2tp", "host:10.0.0.2")
    assert ticket_key("l2tp", "asset:A1") != ticket_key("all", "asset:A1")


def test_key_stable_across_weeks_and_grouping_per_host(tmp_path):
    db = str(tmp_path / "s.db")
    w1 = scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp(), nb.Item(**nb.PPTP)]),
                                               ("10.0.0.2", [nb.l2tp()])])
    w2 = scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [nb.l2tp(), nb.Item(**nb.PPTP)]),
                                               ("10.0.0.2", [nb.l2tp()])])
    ingest(db, w1)
    first = tickets_jsonl(db)
    ingest(db, w2)
    second = tickets_jsonl(db)
    assert set(first) == set(second) and len(second) == 2
    by_host = {t["address"]: t for t in second.values()}
    assert [f["plugin_id"] for f in by_host["10.0.0.1"]["findings"]] == [11387, 10622]
    assert by_host["10.0.0.1"]["findings"][0]["scans"] == ["w1.nessus", "w2.nessus"]
    assert by_host["10.0.0.1"]["key"] == ticket_key("l2tp", "host:10.0.0.1")
    # re-running never duplicates
    assert tickets_jsonl(db) == second


def test_fixed_only_by_a_covering_rescan_then_resurfaced(tmp_path):
    db = str(tmp_path / "s.db")
    files = [
        scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()]), ("10.0.0.9", [])]),
        # host rescanned by a policy without 11387: absence proves nothing
        scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [])], policy=BLIND),
        # host not in this scan at all: nothing proved
        scan(tmp_path, "w3.nessus", week(2), [("10.0.0.9", [])]),
    ]
    ingest(db, *files)
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "open"
    ingest(db, scan(tmp_path, "w4.nessus", week(3), [("10.0.0.1", [])]))
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "fixed"
    fixed = [h for h in t["history"] if h["event"] == "fixed"][0]
    assert fixed["detail"]["scan"] == "w4.nessus" and fixed["at"].startswith("2026-11-16")
    ingest(db, scan(tmp_path, "w5.nessus", week(4), [("10.0.0.1", [nb.l2tp()])]))
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "resurfaced"
    assert [h["event"] for h in t["history"]] == ["opened", "fixed", "resurfaced"]


def test_history_follows_scan_time_not_ingest_order(tmp_path):
    files = [scan(tmp_path, f"w{i}.nessus", week(i), hosts) for i, hosts in enumerate([
        [("10.0.0.1", [nb.l2tp()]), ("10.0.0.2", [nb.l2tp(), nb.Item(**nb.IKE1)])],
        [("10.0.0.1", []), ("10.0.0.2", [nb.l2tp()])],
        [("10.0.0.1", [nb.l2tp()]), ("10.0.0.3", [nb.l2tp()])],
        [("10.0.0.2", []), ("10.0.0.3", [nb.l2tp()])],
    ])]
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    ingest(a, *files)
    for f in (files[3], files[1], files[2], files[0]):
        ingest(b, f)
    tb_before = tickets_jsonl(b)
    for _ in range(2):                # reconciling (twice) changes nothing either
        r = run_cli("reconcile", "--db", b)
        assert r.returncode == 0, r.stderr.decode()
    ta, tb = tickets_jsonl(a), tickets_jsonl(b)
    assert ta == tb == tb_before
    states = sorted((t["address"], t["state"]) for t in ta.values())
    assert states == [("10.0.0.1", "resurfaced"), ("10.0.0.2", "fixed"), ("10.0.0.3", "open")]


def test_risk_acceptance_then_expiry_reopens(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])]))
    key = next(iter(tickets_jsonl(db)))
    r = run_cli("accept", key, "--until", "2026-11-10", "--reason", "partner VPN until cutover",
                "--approver", "CISO", "--db", db, "--at", "2026-10-28")
    assert r.returncode == 0, r.stderr.decode()
    during = tickets_jsonl(db, "--as-of", "2026-11-05")[key]
    assert during["state"] == "risk_accepted"
    assert during["acceptance"]["approver"] == "CISO" and during["acceptance"]["until"] == "2026-11-10"
    after = tickets_jsonl(db, "--as-of", "2026-11-12")[key]
    assert after["state"] == "open"
    assert after["history"][-1]["event"] == "acceptance_expired"


def test_false_positive_stays_closed_while_still_reported_and_can_be_reopened(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])]))
    key = next(iter(tickets_jsonl(db)))
    assert run_cli("false-positive", key, "--reason", "NAT-T test responder", "--db", db,
                   "--at", "2026-10-27").returncode == 0
    ingest(db, scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [nb.l2tp()])]))
    assert tickets_jsonl(db)[key]["state"] == "false_positive"
    assert run_cli("reopen", key, "--reason", "it was real", "--db", db,
                   "--at", "2026-11-05").returncode == 0
    assert tickets_jsonl(db)[key]["state"] == "open"


def test_decision_on_unknown_ticket_is_a_clear_error(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])]))
    r = run_cli("accept", "VP-0000000000", "--until", "2026-12-01", "--reason", "x",
                "--approver", "y", "--db", db)
    assert r.returncode == 1 and b"no ticket VP-0000000000" in r.stderr


HOSTILE = ["=HYPERLINK(\"http://evil.example/\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
           "\tleading-tab", "-2+3", "<img src=x onerror=alert(1)>"]


def test_exports_keep_hostile_scanner_text_as_plain_text(tmp_path):
    out = tmp_path / "out"
    hosts = [nb.HostSpec(name, ip=f"10.0.1.{i + 1}", fqdn=None, os=name,
                         start=week(0), end=week(0) + timedelta(minutes=5),
                         items=[nb.l2tp(output=name)]) for i, name in enumerate(HOSTILE)]
    # ReportHost name is scanner text: use the hostile strings as names
    path = nb.write(tmp_path / "hostile.nessus", hosts, policy=COVERS)
    r = run_cli("tickets", "--scan", path, "--xlsx", out / "t.xlsx", "--jira-csv", out / "j.csv",
                "--jsonl", out / "t.jsonl", "--markdown", out / "md")
    assert r.returncode == 0, r.stderr.decode()
    wb = openpyxl.load_workbook(out / "t.xlsx")
    ws = wb["Assets"]
    header = [c.value for c in ws[1]]
    hosts_in_sheet = {ws.cell(row=i, column=header.index("Host") + 1).value
                      for i in range(2, ws.max_row + 1)}
    assert hosts_in_sheet == set(HOSTILE)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", f"formula written in {sheet.title}!{cell.coordinate}: {cell.value!r}"
    findings = wb["Findings"]
    outputs = {c.value for c in findings["M"][1:]}
    assert outputs == set(HOSTILE)
    with open(out / "j.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert any(r["Summary"].startswith("[VP-") for r in rows)
    names = sorted(p.name for p in (out / "md").iterdir() if p.suffix != ".keys")   # (its list)
    assert all(n.startswith("VP-") and n.endswith(".md") for n in names) and len(names) == len(HOSTILE)
    md = "".join((out / "md" / n).read_text() for n in names)
    assert "&lt;img src=x onerror=alert(1)&gt;" in md          # shown, inert
    outside_fences = "".join(part for i, part in enumerate(md.split("```")) if i % 2 == 0)
    assert "<img" not in outside_fences                        # never live HTML in Markdown


def test_every_export_is_byte_identical_on_rerun(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()]),
                                                     ("10.0.0.2", [nb.Item(**nb.PPTP)])]))
    outs = []
    for run in ("a", "b"):
        d = tmp_path / run
        r = run_cli("tickets", "--db", db, "--as-of", "2026-11-27", "--xlsx", d / "t.xlsx",
                    "--jira-csv", d / "j.csv", "--jsonl", d / "t.jsonl", "--markdown", d / "md")
        assert r.returncode == 0, r.stderr.decode()
        outs.append({p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()})
    assert outs[0] == outs[1] and len(outs[0]) == 6     # 4 exports, 1 ticket, its keys list


def test_markdown_tickets_are_all_replaced_or_none_on_a_full_disk(tmp_path, monkeypatch):
    """A disk that fills up halfway through the Markdown files leaves the folder exactly as
    it was (no ticket half-written, no mix of this run and the last, no staging left)."""
    import errno
    from pathlib import Path

    import pytest

    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.reports.tickets.export import write_markdown

    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [(f"10.0.0.{i}", [nb.l2tp()]) for i in (1, 2, 3)]))
    views = sorted(tickets_jsonl(db).values(), key=lambda v: v["key"])
    md = tmp_path / "md"
    write_markdown(views, md, "l2tp")
    before = {p.name: p.read_bytes() for p in md.iterdir()}
    assert len(before) == 4                                 # three tickets and the keys file
    changed = [{**v, "title": v["title"] + " (changed)"} for v in views]
    real_write, calls = Path.write_text, []

    def filling(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", filling)
    with pytest.raises(VulnpipeError, match="disk space|No space"):
        write_markdown(changed[:2], md, "l2tp")   # the third ticket's file would go, but not yet
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in md.iterdir()} == before
    write_markdown(changed[:2], md, "l2tp")
    tickets = [p for p in md.iterdir() if p.suffix == ".md"]
    assert all(b"(changed)" in p.read_bytes() for p in tickets) and len(tickets) == 2


def test_a_markdown_folder_holds_exactly_the_tickets_of_the_export(tmp_path):
    """A ticket that leaves the exports' window has its KEY.md removed from the --markdown
    folder (no stale ticket read as current); files that are not vulnpipe's KEY.md stay."""
    db, md = str(tmp_path / "s.db"), tmp_path / "md"
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()]), ("10.0.0.2", [nb.l2tp()])]),
           scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [nb.l2tp()]), ("10.0.0.2", [])]))
    assert run_cli("tickets", "--db", db, "--markdown", md).returncode == 0
    fixed, live = ticket_key("l2tp", "host:10.0.0.2"), ticket_key("l2tp", "host:10.0.0.1")
    assert sorted(p.name for p in md.iterdir() if p.suffix == ".md") == [f"{live}.md", f"{fixed}.md"]
    mine = {"notes.md": b"mine", "vp-0123456789.md": b"mine", "VP-0123456789.md.bak": b"mine",
            "VP-01234567.md": b"mine", "VP-0123456789.txt": b"mine"}
    for name, body in mine.items():
        (md / name).write_bytes(body)
    ingest(db, scan(tmp_path, "w6.nessus", week(5), [("10.0.0.1", [nb.l2tp()])]))   # 4 weeks on
    r = run_cli("tickets", "--db", db, "--markdown", md, "--fixed-within", "14")
    assert r.returncode == 0 and b"1 fixed before" in r.stderr, r.stderr.decode()
    assert {p.name: p.read_bytes() for p in md.iterdir()
            if p.name != f"{live}.md" and p.suffix != ".keys"} == mine
    assert (md / f"{live}.md").is_file()


def test_profiles_sharing_a_markdown_folder_remove_only_their_own_files(tmp_path):
    """Ticket keys differ by profile, so two profiles may write one --markdown folder: each
    export removes only the KEY.md files its own profile wrote before (not the other's, nor a
    ticket file it did not write), and each keeps its list of them in the folder."""
    from vulnpipe.reports.tickets.export import write_markdown

    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [(f"10.0.0.{i}", [nb.l2tp()]) for i in (1, 2, 3, 4)]))
    views = sorted(tickets_jsonl(db).values(), key=lambda v: v["key"])
    md = tmp_path / "md"
    md.mkdir()
    (md / f"{views[3]['key']}.md").write_text("written before the lists existed")
    write_markdown(views[:2], md, "l2tp")
    write_markdown(views[2:3], md, "pptp")
    mds = lambda: sorted(p.name for p in md.iterdir() if p.suffix == ".md")  # noqa: E731
    assert mds() == sorted(f"{v['key']}.md" for v in views)
    write_markdown(views[:1], md, "l2tp")                 # l2tp's second ticket left
    assert mds() == sorted(f"{v['key']}.md" for v in (views[0], views[2], views[3]))
    write_markdown([], md, "pptp")                        # and every pptp ticket
    assert mds() == sorted(f"{v['key']}.md" for v in (views[0], views[3]))
    assert len(list(md.glob(".vulnpipe-*.keys"))) == 2


def test_windows_ticket_has_rras_remediation_expecting_stopped_and_disabled(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])]))
    t = next(iter(tickets_jsonl(db).values()))
    assert t["platform"].startswith("windows")
    text = json.dumps(t["remediation"])
    assert "RemoteAccess" in text and "STOPPED" in text and "DISABLED" in text
    assert "L2TP Network Server\\\"" not in text


def test_stateless_tickets_need_no_database(tmp_path):
    path = scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])])
    r = run_cli("tickets", "--scan", path, "--jsonl", "-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    (t,) = map(json.loads, r.stdout.decode().splitlines())
    assert (t["key"], t["address"], t["state"]) == (ticket_key("l2tp", "host:10.0.0.1"), "10.0.0.1", "open")
    assert [(f["plugin_id"], f["port"], f["protocol"], f["scans"]) for f in t["findings"]] == [
        (11387, 1701, "udp", ["w1.nessus"])]
    assert [h["event"] for h in t["history"]] == ["opened"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w1.nessus"]    # no vulnpipe.db, nothing else


# -- #25: the rules that decide "fixed", as a user sees them -----------------------------------

def test_a_ticket_is_fixed_only_when_every_one_of_its_findings_is_gone(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp(), nb.Item(**nb.PPTP)])]),
           scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [nb.l2tp()])]))
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "open"
    assert [h["event"] for h in t["history"]] == ["opened"]
    ingest(db, scan(tmp_path, "w3.nessus", week(2), [("10.0.0.1", [])]))
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "fixed"
    fixed = [h for h in t["history"] if h["event"] == "fixed"]
    assert len(fixed) == 1 and fixed[0]["detail"]["scan"] == "w3.nessus"


def test_a_rescan_without_policy_information_fixes_no_ticket(tmp_path):
    db = str(tmp_path / "s.db")
    first = scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])])
    blind = tmp_path / "w2.nessus"
    blind.write_bytes(nb.document([nb.HostSpec("10.0.0.1", ip="10.0.0.1", start=week(1),
                                               end=week(1) + timedelta(minutes=5))],
                                  no_policy=True, report_name="w2.nessus"))
    facts = nb.policy_element(name="no facts", plugin_set=None)   # a policy that says nothing
    silent = scan(tmp_path, "w3.nessus", week(2), [("10.0.0.1", [])], policy=facts)
    ingest(db, first, blind, silent)
    t = next(iter(tickets_jsonl(db).values()))
    assert t["state"] == "open"
    assert [h["event"] for h in t["history"]] == ["opened"]


def test_a_resurfaced_ticket_is_still_resurfaced_when_its_acceptance_ends(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(db, scan(tmp_path, "w1.nessus", week(0), [("10.0.0.1", [nb.l2tp()])]),
           scan(tmp_path, "w2.nessus", week(1), [("10.0.0.1", [])]),
           scan(tmp_path, "w3.nessus", week(2), [("10.0.0.1", [nb.l2tp()])]))
    key = next(iter(tickets_jsonl(db)))
    r = run_cli("accept", key, "--until", "2026-11-30", "--reason", "partner VPN",
                "--approver", "CISO", "--db", db, "--at", "2026-11-10")
    assert r.returncode == 0, r.stderr.decode()
    assert tickets_jsonl(db, "--as-of", "2026-11-20")[key]["state"] == "risk_accepted"
    after = tickets_jsonl(db, "--as-of", "2026-12-02")[key]
    assert after["state"] == "resurfaced"
    assert [h["event"] for h in after["history"]] == ["opened", "fixed", "resurfaced",
                                                      "risk_accepted", "acceptance_expired"]


def test_a_later_run_without_inventory_reports_each_ticket_as_the_inventory_given_did(tmp_path,
                                                                                    sample_store):
    """A ticket matched through a second name in its inventory cell (`eng-ws-OLD;eng-ws-114`)
    keeps that asset's owner, team and match when a later command gives no inventory (the
    stored one, schema 0006 on: every name), as its key already does."""
    from tests.conftest import ROOT, copy_store

    lines = (ROOT / "sample_data" / "inventory.csv").read_text("utf-8").splitlines()
    changed = [ln.replace("AST-1196,eng-ws-114,,,0A:C4:6A:30:14:F3,",
                          'AST-1196,"eng-ws-OLD;eng-ws-114",,,,') for ln in lines]
    assert changed != lines
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("\n".join(changed) + "\n", "utf-8")
    db = copy_store(sample_store, tmp_path / "h.db")

    def tickets(*extra: object) -> dict[str, dict]:
        r = run_cli("tickets", "--db", db, "--as-of", "2026-11-27", "--jsonl", "-", *extra)
        assert r.returncode == 0, r.stderr.decode()
        return {t["key"]: t for t in map(json.loads, r.stdout.decode().splitlines())}

    given = tickets("--inventory", inventory)
    later = tickets()
    ours = [t for t in given.values() if t.get("asset_id") == "AST-1196"]
    assert ours and all(t["owner"] == "Ewan MacLeod" for t in ours)
    assert later == given
