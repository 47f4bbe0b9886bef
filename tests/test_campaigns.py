"""Many campaigns, one store (#26).

A store read for several campaigns at once (``[profiles] campaigns``, ``--profile`` given
more than once) holds the union of their findings once, each marked with its campaigns; a
reading command with ``--profile NAME`` then gives, byte for byte, what a store ingested for
that campaign alone gives.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import (
    PG_URL,
    ROOT,
    _drop_pg_database,
    _new_pg_database,
    copy_store,
    generate,
    ingested_store,
    made_once,
    run_cli,
)

SAMPLE = ROOT / "sample_data"
AS_OF = "2026-11-27"

#: A third campaign for the generated history (the how-to's IKE example).
IKE_PROFILE = "\n" + (Path(__file__).resolve().parents[1] / "examples" / "profiles" / "ike.toml").read_text()


def _ok(result) -> bytes:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout + result.stderr


def reading_outputs(db: str, cwd: Path, profile: str, inventory: Path, week: str, *,
                    config: Path | None = None, evidence: bool = True) -> dict[str, bytes]:
    """What every reading command gives for ``profile`` (files and messages), by name.
    Commands run in ``cwd`` and write under ``cwd/PROFILE`` by relative names, the same
    whatever the store; ``db`` is named as given (a relative SQLite name: the evidence pack
    records it)."""
    folder = cwd / profile
    folder.mkdir(parents=True, exist_ok=True)
    cfg = ("--config", str(config)) if config else ()
    common = ("--db", db, "--profile", profile, "--inventory", str(inventory), *cfg)
    out: dict[str, bytes] = {}

    def run(*args: str) -> bytes:
        return _ok(run_cli(*args, cwd=cwd))

    p = profile
    out["tickets"] = run("tickets", *common, "--as-of", AS_OF, "--jsonl", f"{p}/t.jsonl",
                         "--jira-csv", f"{p}/t.csv", "--xlsx", f"{p}/t.xlsx", "--markdown", f"{p}/md")
    out["reconcile"] = run("reconcile", *common, "--as-of", AS_OF)
    out["report"] = run("report", "weekly", *common, "--week", week, "--json", f"{p}/w.json",
                        "--html", f"{p}/w.html", "--xlsx", f"{p}/w.xlsx", "--markdown", f"{p}/w.md")
    if evidence:
        out["evidence"] = run("evidence", "build", *common, "--generated-at",
                              "2026-12-01T00:00:00Z", "--out", f"{p}/pack.zip")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def assert_same(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name


def _stores(kind: str, tmp_path: Path, names: list[str]):
    """Fresh stores, one per name: SQLite files ``NAME/h.db`` (given to commands as the
    relative ``h.db``), or new PostgreSQL databases."""
    if kind == "sqlite":
        return {n: "h.db" for n in names}, []
    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it): PostgreSQL tests skipped")
    made = {n: f"vp_camp_{uuid.uuid4().hex[:10]}" for n in names}
    return {n: _new_pg_database(db) for n, db in made.items()}, list(made.values())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_one_ingest_for_two_campaigns_reads_as_two_single_campaign_stores(tmp_path, kind,
                                                                         tmp_path_factory):
    """`ingest --profile l2tp --profile pptp` stores the union once; tickets, reconcile, the
    weekly report (and, on SQLite, the evidence pack) of each campaign are byte for byte what
    a store ingested with that campaign alone gives."""
    scans = sorted((SAMPLE / "scans").glob("*.nessus"))
    urls, pg = _stores(kind, tmp_path, ["both", "l2tp", "pptp"])
    try:
        for name, profiles in (("both", ["l2tp", "pptp"]), ("l2tp", ["l2tp"]),
                               ("pptp", ["pptp"])):
            (tmp_path / name).mkdir()
            if kind == "sqlite":        # the same ingest, made once per session
                copy_store(ingested_store(tmp_path_factory, *profiles), tmp_path / name / "h.db")
                continue
            opts = [x for p in profiles for x in ("--profile", p)]
            r = run_cli("ingest", *scans, "--db", urls[name], *opts, cwd=tmp_path / name)
            assert r.returncode == 0, r.stderr.decode()
        scans_out = run_cli("scans", "--db", urls["both"], cwd=tmp_path / "both").stdout.decode()
        assert "l2tp+pptp" in scans_out
        for campaign in ("l2tp", "pptp"):
            got = reading_outputs(urls["both"], tmp_path / "both", campaign,
                                  SAMPLE / "inventory.csv", "2026-W48", evidence=kind == "sqlite")
            alone = reading_outputs(urls[campaign], tmp_path / campaign, campaign,
                                    SAMPLE / "inventory.csv", "2026-W48",
                                    evidence=kind == "sqlite")
            assert_same(got, alone)
        assert b"PPTP" in got["w.html"]
    finally:
        for name in pg:
            _drop_pg_database(name)


def _finding_rows(db: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT count(*) FROM findings").fetchone()[0],
                conn.execute("SELECT count(*) FROM finding_campaigns").fetchone()[0])


def test_storage_grows_with_the_kept_findings_only(tmp_path_factory):
    """pptp's findings are all related findings of l2tp: adding the campaign stores no
    finding twice (only the marks saying which campaigns each belongs to). (The stores:
    `vulnpipe ingest sample_data/scans` with those --profile options, made once.)"""
    both, marks = _finding_rows(ingested_store(tmp_path_factory, "l2tp", "pptp"))
    l2tp, l2tp_marks = _finding_rows(ingested_store(tmp_path_factory, "l2tp"))
    pptp, _ = _finding_rows(ingested_store(tmp_path_factory, "pptp"))
    assert both == l2tp and marks == l2tp + pptp
    assert l2tp_marks == 0      # one campaign: nothing more stored


@pytest.fixture(scope="session")
def small_history(tmp_path_factory, shared):
    return made_once(tmp_path_factory, "history-300x3", lambda out: generate(
        shared, "gen_history.py", "--hosts", "300", "--weeks", "3", "--seed", "5", "--exposed",
        "0.15", "--out", out))


@pytest.mark.slow
def test_three_campaigns_from_the_config_read_as_three_single_campaign_stores(
        tmp_path, small_history):
    """`[profiles] campaigns = ["l2tp", "pptp", "ike"]`: one ingest, and each campaign's
    reading commands equal those of a store ingested with it alone (a generated history)."""
    scans = sorted((small_history / "scans").glob("*.nessus"))
    inventory = small_history / "inventory.csv"
    config = tmp_path / "vulnpipe.toml"
    config.write_text('[profiles]\ncampaigns = ["l2tp", "pptp", "ike"]\n' + IKE_PROFILE)
    names = ["all3", "l2tp", "pptp", "ike"]
    for name in names:
        (tmp_path / name).mkdir()
        opts = () if name == "all3" else ("--profile", name)
        r = run_cli("ingest", *scans, "--db", "h.db", "--config", config, *opts,
                    cwd=tmp_path / name)
        assert r.returncode == 0, r.stderr.decode()
    assert b"l2tp+pptp+ike" in run_cli("scans", "--db", tmp_path / "all3" / "h.db").stdout
    week = scans[-1].name[:8]
    for campaign in ("l2tp", "pptp", "ike"):
        got = reading_outputs("h.db", tmp_path / "all3", campaign, inventory, week,
                              config=config)
        alone = reading_outputs("h.db", tmp_path / campaign, campaign, inventory, week,
                                config=config)
        assert_same(got, alone)
        assert got["t.jsonl"], f"no {campaign} tickets: the comparison would prove nothing"


def test_several_campaigns_and_plugin_is_refused_in_one_line(tmp_path):
    r = run_cli("ingest", SAMPLE / "scans" / "2026-W44-weekly.nessus", "--db", tmp_path / "h.db",
                "--profile", "l2tp", "--profile", "pptp", "--plugin", "12345")
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and "--plugin" in err
    assert not (tmp_path / "h.db").exists()


def _rows(db: Path, query: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


STORED = ("SELECT * FROM findings ORDER BY scan_id, host_seq, item_seq",
          "SELECT * FROM finding_campaigns ORDER BY scan_id, host_seq, item_seq, profile",
          "SELECT * FROM scan_campaigns ORDER BY scan_id, profile",
          "SELECT id, sha256, profile, profile_plugins, hosts_count, findings_count FROM scans "
          "ORDER BY id")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_campaign_added_later_has_its_history_from_the_first_scan(tmp_path, kind,
                                                                    tmp_path_factory):
    """A store ingested for pptp alone, read (tickets built) for both campaigns, then given
    `ingest --add-campaign l2tp` with the stored files: the same scans now hold l2tp's
    findings (in file order, beside pptp's), and every reading command of both campaigns
    gives what a store that had both campaigns from the start gives."""
    scans = sorted((SAMPLE / "scans").glob("*.nessus"))
    inv = SAMPLE / "inventory.csv"
    urls, pg = _stores(kind, tmp_path, ["later", "start"])
    try:
        (tmp_path / "later").mkdir()
        (tmp_path / "start").mkdir()
        later = dict(cwd=tmp_path / "later")
        if kind == "sqlite":            # the same ingest, made once per session
            copy_store(ingested_store(tmp_path_factory, "pptp"), tmp_path / "later" / "h.db")
        else:
            assert run_cli("ingest", *scans, "--db", urls["later"], "--profile", "pptp",
                           **later).returncode == 0
        for campaign in ("pptp", "l2tp"):       # derived state of both, before the adding
            assert run_cli("tickets", "--db", urls["later"], "--profile", campaign,
                           "--inventory", inv, "--jsonl", "-", **later).returncode == 0
        r = run_cli("ingest", "--add-campaign", "l2tp", SAMPLE / "scans", "--db", urls["later"],
                    **later)
        assert r.returncode == 0, r.stderr.decode()
        assert b"campaign 'l2tp' added to 9 stored scan(s) (161 findings)" in r.stderr
        assert run_cli("ingest", *scans, "--db", urls["start"], "--profile", "pptp",
                       "--profile", "l2tp", cwd=tmp_path / "start").returncode == 0
        if kind == "sqlite":
            for query in STORED:
                assert _rows(tmp_path / "later" / "h.db", query) == \
                    _rows(tmp_path / "start" / "h.db", query), query
        for campaign in ("l2tp", "pptp"):
            assert_same(reading_outputs(urls["later"], tmp_path / "later", campaign, inv,
                                        "2026-W48", evidence=kind == "sqlite"),
                        reading_outputs(urls["start"], tmp_path / "start", campaign, inv,
                                        "2026-W48", evidence=kind == "sqlite"))
        again = run_cli("ingest", "--add-campaign", "l2tp", scans[0], "--db", urls["later"],
                        **later)
        assert again.returncode == 0 and b"already holds campaign 'l2tp'" in again.stderr
    finally:
        for name in pg:
            _drop_pg_database(name)


def test_adding_a_campaign_refuses_a_changed_or_unknown_file_in_one_line(tmp_path):
    scans = sorted((SAMPLE / "scans").glob("*.nessus"))
    db = tmp_path / "h.db"
    assert run_cli("ingest", *scans[:2], "--db", db, "--profile", "l2tp").returncode == 0
    before = [_rows(db, q) for q in STORED]
    changed = tmp_path / scans[0].name
    changed.write_bytes(scans[0].read_bytes().replace(b"</NessusClientData_v2>",
                                                      b"</NessusClientData_v2>\n"))
    r = run_cli("ingest", "--add-campaign", "pptp", changed, scans[1], "--db", db)
    err = r.stderr.decode().splitlines()
    assert r.returncode == 1
    assert err[0] == (f"error: {scans[0].name}: changed since it was stored as scan 1: its "
                      "SHA-256 differs, so it is not the file those findings came from (give "
                      "the file exactly as it was ingested)")
    assert "added to 1 stored scan(s)" in err[-1] and "1 refused" in err[-1]   # the other file
    unknown = run_cli("ingest", "--add-campaign", "pptp", scans[2], "--db", db)
    assert unknown.returncode == 1 and b"matches no stored scan" in unknown.stderr
    assert b"Traceback" not in unknown.stderr + r.stderr
    after = [_rows(db, q) for q in STORED]
    assert after[3][0] == before[3][0]                     # the changed file's scan: untouched
    assert after[3][1][2] == "l2tp+pptp"


@pytest.fixture(scope="module")
def two_campaign_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("programme")
    scans = sorted((SAMPLE / "scans").glob("*.nessus"))
    (folder / "vulnpipe.toml").write_text('[profiles]\ncampaigns = ["l2tp", "pptp"]\n')
    r = run_cli("ingest", *scans, "--db", "h.db", cwd=folder)
    assert r.returncode == 0 and b"profile 'l2tp+pptp'" in r.stderr, r.stderr.decode()
    return folder


def test_without_profile_several_campaigns_give_a_programme_report(two_campaign_store):
    """`report weekly` with [profiles] campaigns and no --profile: one headline row per
    campaign linking to its section (HTML), an overview sheet and a sheet per campaign
    (workbook), `campaigns: {name: figures}` (JSON); each campaign's figures are those of
    its own report."""
    import json

    from openpyxl import load_workbook

    folder = two_campaign_store
    inv = SAMPLE / "inventory.csv"
    r = run_cli("report", "weekly", "--db", "h.db", "--inventory", inv, "--week", "2026-W48",
                "--html", "p.html", "--xlsx", "p.xlsx", "--json", "p.json", "--markdown", "p.md",
                cwd=folder)
    assert r.returncode == 0, r.stderr.decode()
    assert b"programme of 2 campaigns" in r.stderr
    doc = json.loads((folder / "p.json").read_text())
    assert list(doc["campaigns"]) == ["l2tp", "pptp"] and doc["week"] == "2026-W48"
    for name in ("l2tp", "pptp"):
        alone = run_cli("report", "weekly", "--db", "h.db", "--inventory", inv, "--week",
                        "2026-W48", "--profile", name, "--json", "-", cwd=folder)
        own = json.loads(alone.stdout)
        median = own["mttr_days"]["median"]
        assert doc["campaigns"][name] == {**own, "time_to_verified_fix": median}
    assert doc["campaigns"]["l2tp"]["open_tickets"] == 19
    assert doc["campaigns"]["pptp"]["open_tickets"] == 2
    page = (folder / "p.html").read_text()
    for name, label in (("l2tp", "L2TP exposure"), ("pptp", "PPTP exposure")):
        assert f'<a href="#campaign-{name}">{label}</a>' in page
        assert f'<section id="campaign-{name}" class="campaign">' in page
        assert f'id="campaign-{name}-open-tickets"' in page
    assert "Time to verified fix" in page
    wb = load_workbook(folder / "p.xlsx")
    assert wb.sheetnames == ["Overview", "L2TP", "PPTP"]
    rows = list(wb["Overview"].iter_rows(values_only=True))
    assert rows[0][:4] == ("Campaign (sheet)", "Profile", "Report", "Open tickets")
    assert rows[1][:4] == ("L2TP", "l2tp", "L2TP exposure", 19)
    assert rows[2][:4] == ("PPTP", "pptp", "PPTP exposure", 2)
    assert "| L2TP exposure | 19 |" in (folder / "p.md").read_text()


def test_a_pptp_section_says_nothing_of_l2tp(two_campaign_store):
    """Each campaign's section follows its profile: the PPTP part of the programme page
    speaks of PPTP, its detector and coverage, never of L2TP."""
    folder = two_campaign_store
    assert run_cli("report", "weekly", "--db", "h.db", "--inventory", SAMPLE / "inventory.csv",
                   "--week", "2026-W48", "--html", "p4.html", cwd=folder).returncode == 0
    page = (folder / "p4.html").read_text()
    pptp = page[page.index('<section id="campaign-pptp"'):]
    assert "L2TP" not in pptp and "1701" not in pptp and "11387" not in pptp
    assert "Can detect PPTP" in pptp and "plugin 10622 (tcp/1723)" in pptp


def test_one_campaign_keeps_todays_report_byte_for_byte(tmp_path):
    """`campaigns = ["l2tp"]` (one campaign) writes the report a store without the setting
    writes, byte for byte, in every format."""
    scans = sorted((SAMPLE / "scans").glob("*.nessus"))
    outputs = {}
    for name, toml in (("plain", ""), ("one", '[profiles]\ncampaigns = ["l2tp"]\n')):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "vulnpipe.toml").write_text(toml)
        assert run_cli("ingest", *scans, "--db", "h.db", cwd=folder).returncode == 0
        r = run_cli("report", "weekly", "--db", "h.db", "--inventory", SAMPLE / "inventory.csv",
                    "--week", "2026-W48", "--html", "w.html", "--xlsx", "w.xlsx", "--json",
                    "w.json", "--markdown", "w.md", cwd=folder)
        assert r.returncode == 0, r.stderr.decode()
        outputs[name] = {f: (folder / f).read_bytes() for f in ("w.html", "w.xlsx", "w.json", "w.md")}
        outputs[name]["stderr"] = r.stderr
    assert outputs["plain"] == outputs["one"]


def test_the_programme_report_refuses_per_team_options_in_one_line(two_campaign_store):
    r = run_cli("report", "weekly", "--db", "h.db", "--team", "Network", "--html", "x.html",
                cwd=two_campaign_store)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1 and "give --profile NAME" in err
    assert not (two_campaign_store / "x.html").exists()


def test_pptp_tickets_say_pptp_never_l2tp(two_campaign_store):
    """A campaign's tickets follow its profile: title, why and remediation of a PPTP ticket
    speak of PPTP, with nothing of L2TP's wording."""
    import json

    r = run_cli("tickets", "--db", "h.db", "--profile", "pptp", "--inventory",
                SAMPLE / "inventory.csv", "--as-of", AS_OF, "--jsonl", "-", cwd=two_campaign_store)
    views = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(views) == 2
    for v in views:
        assert v["title"].startswith("PPTP exposed on ") and v["title"].endswith(", 1723/tcp")
        assert "L2TP" not in json.dumps(v) and "1701" not in json.dumps(v)
        assert v["remediation"][0]["title"] == "PPTP VPN server reachable on TCP port 1723"
    l2tp = run_cli("tickets", "--db", "h.db", "--profile", "l2tp", "--inventory",
                   SAMPLE / "inventory.csv", "--as-of", AS_OF, "--jsonl", "-",
                   cwd=two_campaign_store)
    assert all(json.loads(line)["title"].startswith(("L2TP VPN endpoint exposed on ",
                                                     "VPN service exposure on "))
               for line in l2tp.stdout.splitlines())


def test_a_run_on_two_campaigns_covers_both(tmp_path, tmp_path_factory):
    """`vulnpipe run` with `campaigns = ["l2tp", "pptp"]`: each campaign's tickets in OUT/NAME/,
    the programme report `report weekly` writes, a summary with both campaigns (totals, each
    campaign's figures, alerts naming their campaign) and `--fail-on new` seeing pptp's."""
    import json

    copy_store(ingested_store(tmp_path_factory, "l2tp", "pptp"), tmp_path / "h.db")
    (tmp_path / "vulnpipe.toml").write_text('[profiles]\ncampaigns = ["l2tp", "pptp"]\n'
                                            '[run]\nout_dir = "out"\n')
    inv = ("--inventory", str(SAMPLE / "inventory.csv"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "tickets.jsonl").write_text("{}\n")       # left by an earlier run on one campaign
    r = run_cli("run", SAMPLE / "scans", "--db", "h.db", *inv, "--summary-json", "s.json",
                "--fail-on", "new", cwd=tmp_path)
    assert r.returncode == 3, r.stderr.decode()        # the alert: every ticket is new here
    assert f"note: tickets.jsonl in {out}: left by a run on one campaign".encode() in r.stderr
    files = ["tickets", "tickets-jira.csv", "tickets.jsonl", "tickets.xlsx"]
    assert sorted(p.name for p in out.iterdir()) == [
        "l2tp", "pptp", "tickets.jsonl", *(f"weekly-2026-W48.{x}" for x in ("html", "json", "md", "xlsx"))]
    assert (out / "tickets.jsonl").read_text() == "{}\n"
    for name, count in (("l2tp", 23), ("pptp", 2)):
        assert sorted(p.name for p in (out / name).iterdir()) == files
        assert len((out / name / "tickets.jsonl").read_text().splitlines()) == count
        assert len(list((out / name / "tickets").glob("VP-*.md"))) == count
    assert all(json.loads(line)["title"].startswith("PPTP exposed on ")
               for line in (out / "pptp" / "tickets.jsonl").read_text().splitlines())
    programme = run_cli("report", "weekly", "--db", "h.db", *inv, "--week", "2026-W48",
                        "--json", "-", cwd=tmp_path)
    assert (out / "weekly-2026-W48.json").read_bytes() == programme.stdout
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["ok"] is True and s["profile"] == "l2tp+pptp"
    assert s["tickets"]["total"] == 25 and s["fail_on"]["triggered"] == ["new"]
    assert {n: c["tickets"]["total"] for n, c in s["campaigns"].items()} == {"l2tp": 23, "pptp": 2}
    assert s["campaigns"]["pptp"]["report"]["open_tickets"] == 2
    assert s["report"]["week"] == "2026-W48" and s["report"]["open_tickets"] == 19 + 2
    pptp_new = sorted(i["key"] for i in s["new"] if i["campaign"] == "pptp")
    assert len(pptp_new) == 2 and {c["campaign"] for c in s["changes"]} == {"l2tp", "pptp"}
    assert b"25 ticket(s) (l2tp 23, pptp 2), 25 changed" in r.stderr


def test_the_programme_report_is_mailed_as_one_message(two_campaign_store):
    """`report weekly --mail-dry-run` without --profile on several campaigns (what `run` sends
    with `[mail] send = true`): one message holding the programme report, its workbook
    attached."""
    import email
    from email import policy

    r = run_cli("report", "weekly", "--db", "h.db", "--week", "2026-W48", "--mail-dry-run",
                "mail", "--mail-to", "secops@corp.example", cwd=two_campaign_store)
    assert r.returncode == 0, r.stderr.decode()
    (eml,) = (two_campaign_store / "mail").iterdir()
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert eml.name == "weekly-2026-W48-programme.eml" and msg["To"] == "secops@corp.example"
    assert msg["Subject"] == "Remediation programme: L2TP, PPTP: weekly report 2026-W48"
    html = msg.get_body(("html",)).get_content()
    assert 'id="campaign-l2tp"' in html and 'id="campaign-pptp"' in html
    (xlsx,) = [p for p in msg.iter_attachments()]
    assert xlsx.get_filename() == "weekly-2026-W48-programme.xlsx"
