"""Reconcile: a fix counts only when a rescan could have seen the finding."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import openpyxl

from tests import nessus_builder as nb
from tests.conftest import ROOT, run_cli
from vulnpipe.reports.reconcile import load_scans, reconcile

SAMPLE = ROOT / "sample_data"
EXPECTED = json.loads((SAMPLE / "expected.json").read_text())
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
FULL = dict(plugin_set=[11387, 10622, 11935, 68453, 19506])


def write(tmp_path, name, hosts, day=0, **policy):
    specs = [nb.HostSpec(h.get("name", h["ip"]), ip=h["ip"], fqdn=h.get("fqdn"),
                         netbios=h.get("netbios"), mac=h.get("mac"), credentialed=h.get("cred"),
                         start=None if day is None else T0 + timedelta(days=day, minutes=i),
                         end=None if day is None else T0 + timedelta(days=day, minutes=i + 3),
                         items=h.get("items", []))
             for i, h in enumerate(hosts)]
    kw = {}
    if policy.get("no_policy"):
        kw["no_policy"] = True
    else:
        kw["policy"] = nb.policy_element(**{**FULL, **policy})
    return nb.write(tmp_path / name, specs, **kw)


def statuses(result):
    return {(r.host_ip or r.host, r.plugin_id, r.port, r.protocol): (r.status, r.reason, r.rescan_scan)
            for r in result.rows}


def test_sample_rescans_give_every_expected_status():
    scans = SAMPLE / "scans"
    result = reconcile(load_scans([scans / EXPECTED["reconcile"]["baseline"]], "l2tp"),
                       load_scans([scans / n for n in EXPECTED["reconcile"]["rescans"]], "l2tp"))
    got = statuses(result)
    want = {(e["address"], e["plugin_id"], e["port"], e["protocol"]): e for e in EXPECTED["reconcile"]["l2tp"]}
    assert set(got) == set(want)
    for key, e in want.items():
        status, reason, rescan = got[key]
        assert status == e["status"], key
        if e["status"] == "not_covered":
            assert e["reason"] in reason
    assert {s for s, _r, _x in got.values()} == {"still_open", "fixed", "not_rescanned", "not_covered", "new"}


def test_sample_68453_under_profile_all_and_local_check_without_credentials():
    scans = SAMPLE / "scans"
    result = reconcile(load_scans([scans / EXPECTED["reconcile"]["baseline"]], "all"),
                       load_scans([scans / n for n in EXPECTED["reconcile"]["rescans"]], "all"))
    got = statuses(result)
    for e in EXPECTED["reconcile"]["all_68453"]:
        status, reason, _ = got[(e["address"], 68453, 0, "tcp")]
        assert status == e["status"]
        if status == "not_covered":
            assert "local check without credentials" in reason


def test_l2tp_profile_never_lets_an_oracle_linux_68453_finding_in(tmp_path):
    elsa = nb.Item(**nb.ELSA)
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.5", "items": [elsa, nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.5", "items": [elsa]}], day=2)
    result = reconcile(load_scans([base]), load_scans([again]))
    assert [(r.plugin_id, r.status) for r in result.rows] == [(11387, "fixed")]


def test_every_not_covered_reason(tmp_path):
    hosts = [{"ip": f"10.0.0.{i}", "items": [nb.l2tp()]} for i in (1, 2, 3)]
    base = write(tmp_path, "b.nessus", hosts + [{"ip": "10.0.0.4", "items": [nb.Item(**nb.ELSA)]}])
    plugin_off = write(tmp_path, "r1.nessus", [{"ip": "10.0.0.1"}], day=1, plugin_set=[19506])
    port_out = write(tmp_path, "r2.nessus", [{"ip": "10.0.0.2"}], day=1, port_range="1-1024")
    no_policy = write(tmp_path, "r3.nessus", [{"ip": "10.0.0.3"}], day=1, no_policy=True)
    no_creds = write(tmp_path, "r4.nessus", [{"ip": "10.0.0.4", "cred": False}], day=1)
    result = reconcile(load_scans([base], "all"),
                       load_scans([plugin_off, port_out, no_policy, no_creds], "all"))
    got = statuses(result)
    assert got[("10.0.0.1", 11387, 1701, "udp")][:2] == ("not_covered", "plugin not enabled (r1.nessus)")
    assert got[("10.0.0.2", 11387, 1701, "udp")][:2] == ("not_covered", "port outside the scan's port range (r2.nessus)")
    assert got[("10.0.0.3", 11387, 1701, "udp")][:2] == ("not_covered", "no policy information (r3.nessus)")
    assert got[("10.0.0.4", 68453, 0, "tcp")][:2] == ("not_covered", "local check without credentials (r4.nessus)")


def test_one_covering_rescan_among_several_is_enough(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]}])
    blind = write(tmp_path, "r1.nessus", [{"ip": "10.0.0.1"}], day=1, plugin_set=[19506])
    sees = write(tmp_path, "r2.nessus", [{"ip": "10.0.0.1"}], day=2)
    got = statuses(reconcile(load_scans([base]), load_scans([blind, sees])))
    assert got[("10.0.0.1", 11387, 1701, "udp")] == (
        "fixed", "absent from a rescan that covered it (plugin enabled, port in range, host scanned)",
        "r2.nessus")


def test_ipv6_written_two_ways_and_fqdn_named_host_are_the_same_host(tmp_path):
    base = write(tmp_path, "b.nessus", [
        {"ip": "2001:db8:0:0::25", "name": "2001:DB8::25", "items": [nb.l2tp()]},
        {"ip": "10.0.0.7", "name": "vpn1.corp.example", "fqdn": "vpn1.corp.example", "items": [nb.l2tp()]},
    ])
    again = write(tmp_path, "r.nessus", [
        {"ip": "2001:0db8:0000:0000:0000:0000:0000:0025", "items": [nb.l2tp()]},
        {"ip": "10.0.0.7", "name": "10.0.0.7"},
    ], day=1)
    got = statuses(reconcile(load_scans([base]), load_scans([again])))
    assert got[("2001:db8::25", 11387, 1701, "udp")][0] == "still_open"
    assert got[("10.0.0.7", 11387, 1701, "udp")][0] == "fixed"
    assert len(got) == 2


def test_address_change_with_and_without_inventory(tmp_path):
    mac = "00:50:56:aa:bb:cc"
    base = write(tmp_path, "b.nessus", [{"ip": "10.40.0.57", "name": "10.40.0.57", "mac": mac,
                                          "fqdn": "eng-ws.corp.example", "items": [nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.40.0.131", "name": "10.40.0.131", "mac": mac,
                                           "fqdn": "eng-ws.corp.example"}], day=1)
    inv = tmp_path / "inv.csv"
    inv.write_text("Asset ID,Hostname,FQDN,IP Address,MAC Address,Owner\n"
                   "AST-1,eng-ws,eng-ws.corp.example,10.40.0.57,00:50:56:AA:BB:CC,Eng\n")
    without = json.loads(run_cli("reconcile", "--baseline", base, "--rescan", again).stdout)
    assert without["summary"]["not_rescanned"] == 1 and without["summary"]["fixed"] == 0
    with_inv = json.loads(run_cli("reconcile", "--baseline", base, "--rescan", again,
                                  "--inventory", inv).stdout)
    assert with_inv["summary"]["fixed"] == 1
    assert with_inv["findings"][0]["asset_id"] == "AST-1"


def test_cli_json_shape_xlsx_and_targets(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.2", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.3", "items": [nb.l2tp(output="=HYPERLINK(\"x\")")]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.1"}, {"ip": "10.0.0.3", "items": [nb.l2tp()]},
                                         {"ip": "10.0.0.9", "items": [nb.l2tp()]}], day=1)
    r = run_cli("reconcile", "--baseline", base, "--rescan", again, "--format", "json",
                "--out", tmp_path / "r.json", "--targets-out", tmp_path / "t.txt")
    assert r.returncode == 0, r.stderr.decode()
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"] == {"still_open": 1, "fixed": 1, "not_rescanned": 1, "not_covered": 0, "new": 1}
    assert set(data["findings"][0]) == {"host", "host_ip", "asset_id", "plugin_id", "plugin_name", "port",
                                        "protocol", "status", "reason", "baseline_scan", "rescan_scan",
                                        "baseline_seen", "rescan_seen"}
    assert (tmp_path / "t.txt").read_text() == "10.0.0.2\n10.0.0.3\n"
    r = run_cli("reconcile", "--baseline", base, "--rescan", again, "--format", "xlsx",
                "--out", tmp_path / "r.xlsx")
    assert r.returncode == 0
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Reconciliation", "Summary"]
    ws = wb["Reconciliation"]
    assert ws.max_row == 5 and all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert isinstance(ws["K2"].value, datetime)


def test_a_local_check_on_a_host_whose_credentials_are_unknown_is_not_proved_fixed(tmp_path):
    # the rescan says nothing about credentials (no Credentialed_Scan tag, no plugin 19506)
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.4", "cred": True, "items": [nb.Item(**nb.ELSA)]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.4"}], day=1)
    r = run_cli("reconcile", "--baseline", base, "--rescan", again, "--profile", "all")
    assert r.returncode == 0, r.stderr.decode()
    data = json.loads(r.stdout)
    assert data["summary"]["fixed"] == 0 and data["summary"]["not_covered"] == 1
    assert data["findings"][0]["reason"] == "local check without credentials (r.nessus)"
    creds = write(tmp_path, "c.nessus", [{"ip": "10.0.0.4", "cred": True}], day=1)
    data = json.loads(run_cli("reconcile", "--baseline", base, "--rescan", creds, "--profile", "all").stdout)
    assert data["summary"]["fixed"] == 1


def test_an_excluded_plugin_stays_out_even_where_another_rule_would_select_it(tmp_path):
    # 68453 on udp/1701 (l2tp's related port), and a user profile selecting its whole family
    elsa = nb.Item(**{**nb.ELSA, "port": 1701, "protocol": "udp"})
    path = write(tmp_path, "b.nessus", [{"ip": "10.0.0.5", "items": [elsa, nb.l2tp()]}])
    r = run_cli("parse", path, "--profile", "l2tp", "--format", "jsonl", "--out", "-")
    assert r.returncode == 0, r.stderr.decode()
    assert [json.loads(line)["plugin_id"] for line in r.stdout.decode().splitlines()] == [11387]
    profiles = tmp_path / "p.toml"
    profiles.write_text('[profiles.oracle]\nrelated_families = ["Oracle Linux Local Security Checks"]\n'
                        'related_plugins = [11387]\nexclude_plugins = [68453]\n')
    r = run_cli("parse", path, "--profiles-file", profiles, "--profile", "oracle", "--format", "jsonl",
                "--out", "-")
    assert r.returncode == 0, r.stderr.decode()
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [(f["plugin_id"], f["profile_role"]) for f in rows] == [(11387, "related")]


def test_every_row_field_and_every_output_byte_for_each_status(tmp_path):
    base = write(tmp_path, "b.nessus", [
        {"ip": "10.0.0.1", "name": "gw", "items": [nb.l2tp()]},
        {"ip": "10.0.0.2", "fqdn": "vpn.example", "items": [nb.l2tp()]},
        {"ip": "10.0.0.3", "items": [nb.l2tp()]},
        {"ip": "10.0.0.4", "items": [nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]}, {"ip": "10.0.0.2"},
                                         {"ip": "10.0.0.9", "items": [nb.l2tp()]}], day=1)
    blind = write(tmp_path, "r2.nessus", [{"ip": "10.0.0.4"}], day=2, plugin_set=[19506])
    result = reconcile(load_scans([base]), load_scans([blind, again]))
    common = dict(plugin_id=11387, plugin_name="L2TP Network Server Detection", port=1701, protocol="udp",
                  asset_id=None)
    b0, r1 = "2026-11-23T01:0{}:00Z", "2026-11-24T01:0{}:00Z"
    assert [(r.as_dict(), r.name) for r in result.rows] == [
        ({**common, "host": "gw", "host_ip": "10.0.0.1", "status": "still_open",
          "reason": "reported again by the rescan", "baseline_scan": "b.nessus", "rescan_scan": "r.nessus",
          "baseline_seen": b0.format(0), "rescan_seen": r1.format(0)}, "gw"),
        ({**common, "host": "10.0.0.2", "host_ip": "10.0.0.2", "status": "fixed",
          "reason": "absent from a rescan that covered it (plugin enabled, port in range, host scanned)",
          "baseline_scan": "b.nessus", "rescan_scan": "r.nessus", "baseline_seen": b0.format(1),
          "rescan_seen": r1.format(1)}, "vpn.example"),
        ({**common, "host": "10.0.0.3", "host_ip": "10.0.0.3", "status": "not_rescanned",
          "reason": "host in no rescan", "baseline_scan": "b.nessus", "rescan_scan": None,
          "baseline_seen": b0.format(2), "rescan_seen": None}, None),
        ({**common, "host": "10.0.0.4", "host_ip": "10.0.0.4", "status": "not_covered",
          "reason": "plugin not enabled (r2.nessus)", "baseline_scan": "b.nessus", "rescan_scan": None,
          "baseline_seen": b0.format(3), "rescan_seen": None}, None),
        ({**common, "host": "10.0.0.9", "host_ip": "10.0.0.9", "status": "new",
          "reason": "absent from the baseline", "baseline_scan": None, "rescan_scan": "r.nessus",
          "baseline_seen": None, "rescan_seen": r1.format(2)}, None),
    ]
    assert result.summary == {"still_open": 1, "fixed": 1, "not_rescanned": 1, "not_covered": 1, "new": 1}
    assert result.targets() == ["10.0.0.1", "10.0.0.3", "10.0.0.4"]
    # the rescans are read oldest first, whatever the order given
    assert [s.start for s in load_scans([blind, again])] == [T0 + timedelta(days=2), T0 + timedelta(days=1)]
    result.write("json", tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text("utf-8")
    assert text == json.dumps(result.as_json(), indent=1, ensure_ascii=False) + "\n"
    result.write("csv", tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_bytes().decode("utf-8").split("\r\n")
    assert lines[0] == ("host,host_ip,asset_id,plugin_id,plugin_name,port,protocol,status,reason,"
                        "baseline_scan,rescan_scan,baseline_seen,rescan_seen")
    assert lines[3] == ("10.0.0.3,10.0.0.3,,11387,L2TP Network Server Detection,1701,udp,not_rescanned,"
                        "host in no rescan,b.nessus,,2026-11-23T01:02:00Z,") and lines[-1] == ""


def test_addresses_sort_as_numbers_and_names_after_them():
    from vulnpipe.reports.reconcile import address_order

    texts = ["b.example", "10.0.0.10", "::1", "10.0.0.9", "a.example", "10.0.0.9x"]
    assert sorted(texts, key=address_order) == ["10.0.0.9", "10.0.0.10", "::1", "10.0.0.9x", "a.example",
                                                "b.example"]
    assert address_order("10.0.0.1") == (0, 4, 167772161, "") and address_order("x") == (1, 0, 0, "x")


# -- what the mutation run (tests/MUTATION.md) found unpinned ---------------------------

def test_the_reconcile_workbook_cell_by_cell(tmp_path):
    base = write(tmp_path, "b.nessus", [
        {"ip": "10.0.0.1", "name": "gw", "fqdn": "gw.corp.example", "items": [nb.l2tp()]},
        {"ip": "10.0.0.2", "netbios": "VPN2", "items": [nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.1"}], day=1)
    result = reconcile(load_scans([base]), load_scans([again]))
    result.write("xlsx", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    ws = wb["Reconciliation"]
    values = [tuple(c.value for c in row) for row in ws.iter_rows()]
    name = "L2TP Network Server Detection"
    assert values == [
        ("Host", "Address", "Asset ID", "Plugin ID", "Plugin name", "Port", "Protocol", "Status",
         "Reason", "Baseline scan", "Baseline seen", "Rescan scan", "Rescan seen"),
        ("gw.corp.example", "10.0.0.1", None, 11387, name, 1701, "udp", "fixed",
         "absent from a rescan that covered it (plugin enabled, port in range, host scanned)",
         "b.nessus", datetime(2026, 11, 23, 1, 0), "r.nessus", datetime(2026, 11, 24, 1, 0)),
        ("VPN2", "10.0.0.2", None, 11387, name, 1701, "udp", "not_rescanned", "host in no rescan",
         "b.nessus", datetime(2026, 11, 23, 1, 1), None, None)]
    # the status column offers the five statuses
    rules = [(str(v.sqref), v.formula1) for v in ws.data_validations.dataValidation]
    assert [f for ref, f in rules if ref.startswith("H2:")] == \
        ['"still_open,fixed,not_rescanned,not_covered,new"']
    assert [tuple(c.value for c in row) for row in wb["Summary"].iter_rows()] == [
        ("Status", "Findings"), ("still_open", 0), ("fixed", 1), ("not_rescanned", 1),
        ("not_covered", 0), ("new", 0)]


def test_json_keeps_accents_as_written(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "name": "serveur-é",
                                          "items": [nb.l2tp()]}])
    result = reconcile(load_scans([base]), [])
    result.write("json", tmp_path / "r.json")
    text = (tmp_path / "r.json").read_bytes().decode("utf-8")
    assert '"host": "serveur-é"' in text


def test_rows_and_targets_are_in_address_order_and_new_rows_carry_name_and_asset(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.10", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.9", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.100", "items": [nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.8", "fqdn": "new.corp.example",
                                          "items": [nb.l2tp()]}], day=1)
    result = reconcile(load_scans([base]), load_scans([again]))
    assert [(r.host_ip, r.status, r.name) for r in result.rows] == [
        ("10.0.0.8", "new", "new.corp.example"), ("10.0.0.9", "not_rescanned", None),
        ("10.0.0.10", "not_rescanned", None), ("10.0.0.100", "not_rescanned", None)]
    assert result.targets() == ["10.0.0.9", "10.0.0.10", "10.0.0.100"]


def test_every_reason_is_listed_when_no_rescan_covers_and_families_decide_without_a_plugin_set(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.2", "items": [nb.l2tp()]}])
    off = write(tmp_path, "r1.nessus", [{"ip": "10.0.0.1"}], day=1, plugin_set=[19506])
    narrow = write(tmp_path, "r2.nessus", [{"ip": "10.0.0.1"}], day=2, port_range="1-1024")
    by_family = write(tmp_path, "r3.nessus", [{"ip": "10.0.0.2"}], day=3, plugin_set=None,
                      families={"Firewalls": "enabled"})
    got = statuses(reconcile(load_scans([base]), load_scans([off, narrow, by_family])))
    assert got[("10.0.0.1", 11387, 1701, "udp")] == (
        "not_covered", "plugin not enabled (r1.nessus); port outside the scan's port range (r2.nessus)",
        None)
    assert got[("10.0.0.2", 11387, 1701, "udp")][:2] == (
        "fixed", "absent from a rescan that covered it (plugin enabled, port in range, host scanned)")


def test_the_earliest_covering_rescan_proves_the_fix_and_undated_rescans_come_last(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]}])
    undated = write(tmp_path, "a-undated.nessus", [{"ip": "10.0.0.1"}], day=None)
    later = write(tmp_path, "b-later.nessus", [{"ip": "10.0.0.1"}], day=5)
    earlier = write(tmp_path, "c-earlier.nessus", [{"ip": "10.0.0.1"}], day=2)
    scans = load_scans([undated, later, earlier])
    assert [s.start for s in scans] == [None, T0 + timedelta(days=5), T0 + timedelta(days=2)]
    got = statuses(reconcile(load_scans([base]), scans))
    assert got[("10.0.0.1", 11387, 1701, "udp")][2] == "c-earlier.nessus"
    got = statuses(reconcile(load_scans([base]), load_scans([undated, later])))
    assert got[("10.0.0.1", 11387, 1701, "udp")][2] == "b-later.nessus"


def test_with_an_inventory_unmatched_hosts_keep_their_own_address(tmp_path):
    import pandas as pd

    from vulnpipe.ingest.assets.inventory import inventory_from_frame
    from vulnpipe.reports.reconcile import inventory_asset_of

    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.2", "items": [nb.l2tp()]},
                                        {"ip": "10.0.0.3", "items": [nb.l2tp()]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.2"},
                                         {"ip": "10.0.0.7", "items": [nb.l2tp(port=1702)]}], day=1)
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["AST-7"], "ip": ["10.0.0.7"]}))
    b, r = load_scans([base]), load_scans([again])
    asset_of = inventory_asset_of([h for s in [*b, *r] for h in s.hosts], inv)
    result = reconcile(b, r, asset_of)
    assert [(r.host_ip, r.status, r.asset_id) for r in result.rows] == [
        ("10.0.0.1", "not_rescanned", None), ("10.0.0.2", "fixed", None),
        ("10.0.0.3", "not_rescanned", None), ("10.0.0.7", "new", "AST-7")]


def test_a_finding_without_a_protocol_reports_none_made_up(tmp_path):
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp(protocol="")]}])
    result = reconcile(load_scans([base]), [])
    assert [(r.port, r.protocol) for r in result.rows] == [(1701, "")]


def test_a_finding_without_a_plugin_id_reports_plugin_id_0_never_a_made_up_one(tmp_path):
    # the parser keeps a ReportItem whose pluginID is empty (plugin_id None); both the
    # baseline row and the rescan's new row must show 0, not some real-looking plugin ID
    nameless = nb.item(plugin_id="", name="Nameless check", port=443)
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nameless]}])
    again = write(tmp_path, "r.nessus", [{"ip": "10.0.0.2", "items": [nameless]}], day=1)
    result = reconcile(load_scans([base], profile="all"), load_scans([again], profile="all"))
    assert [(r.host_ip, r.plugin_id, r.plugin_name, r.port, r.status) for r in result.rows] == [
        ("10.0.0.1", 0, "Nameless check", 443, "not_rescanned"),
        ("10.0.0.2", 0, "Nameless check", 443, "new")]


def test_plugin_name_and_reason_are_shown_whole_in_the_workbook(tmp_path):
    # A plugin name or reason just under the cap of an unwrapped column (MAX_WIDTH) still
    # gets a column wide enough for it and its margins: the two long-text columns may grow to
    # the wrapped width, so the text is never cut at the column edge.
    from dataclasses import replace

    from vulnpipe.reports.writers import xlsx

    def just_under_the_cap(sentence):
        # the longest start of ``sentence`` that an unwrapped column could still hold
        text = ""
        for ch in sentence:
            if xlsx._longest([text + ch]) > xlsx.MAX_WIDTH:
                break
            text += ch
        assert xlsx._longest([text]) + xlsx.PADDING > xlsx.MAX_WIDTH
        return text

    name = just_under_the_cap("Microsoft Windows Remote Desktop Protocol Server Detection")
    reason = just_under_the_cap("plugin family disabled by the policy (weekly-rescan.nessus)")
    base = write(tmp_path, "b.nessus", [{"ip": "10.0.0.1", "items": [nb.l2tp()]}])
    result = reconcile(load_scans([base]), [])
    result.rows[:] = [replace(r, plugin_name=name, reason=reason) for r in result.rows]
    result.write("xlsx", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Reconciliation"]
    header = [c.value for c in ws[1]]
    for column, text in (("Plugin name", name), ("Reason", reason)):
        letter = openpyxl.utils.get_column_letter(header.index(column) + 1)
        assert ws[f"{letter}2"].value == text
        assert ws.column_dimensions[letter].width >= \
            xlsx._longest([text]) + xlsx.PADDING, column
