"""Host -> asset matching: each method, its order, ambiguity, CIDR fallback, default owner,
and properties that hold for any way an address is written."""
from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vulnpipe.ingest.assets.inventory import inventory_from_frame, load_inventory
from vulnpipe.ingest.assets.matching import MATCH_COLUMNS, join_findings, match_hosts, match_summary
from vulnpipe.ingest.nessus.frames import hosts_frame
from vulnpipe.ingest.records import Host

FIX = Path(__file__).parent / "fixtures" / "inventory"


def hosts(*rows: dict) -> pd.DataFrame:
    cols = ["host", "host_ip", "host_fqdn", "hostname", "netbios_name", "mac_address"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


def one(inventory, **host) -> pd.Series:
    host.setdefault("host", host.get("host_ip") or host.get("host_fqdn") or "scanned")
    return match_hosts(hosts(host), inventory, default_owner="secops").iloc[0]


@pytest.fixture(scope="module")
def basic():
    return load_inventory(FIX / "basic.csv")


def test_match_by_ip(basic):
    m = one(basic, host_ip="198.51.100.10")
    assert (m["asset_id"], m["match_method"], m["owner"]) == ("SRV-001", "ip", "Alice Martin")
    assert m["criticality"] == "critical" and bool(m["internet_facing"]) and not m["unowned"]


def test_any_of_several_ips_in_one_cell_matches(basic):
    assert [one(basic, host_ip=ip)["asset_id"] for ip in ("10.1.0.11", "10.1.0.12", "10.1.0.13")
            ] == ["SRV-002"] * 3


def test_report_host_name_that_is_an_ip_matches_by_ip(basic):
    assert one(basic, host="198.51.100.10")["match_method"] == "ip"


def test_ipv6_written_in_two_forms_matches(basic):
    for written in ("2001:db8::10", "2001:0DB8:0000:0000:0000:0000:0000:0010"):
        m = one(basic, host=written)
        assert (m["asset_id"], m["match_method"]) == ("SRV-004", "ip")


def test_match_by_fqdn_case_and_trailing_dot_ignored(basic):
    m = one(basic, host_ip="172.16.0.9", host_fqdn="WEB01.Corp.Example.")
    assert (m["asset_id"], m["match_method"]) == ("SRV-002", "fqdn")


def test_an_inventory_address_with_a_trailing_dot_matches_by_ip_and_its_fqdn_by_fqdn():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["D-1", "D-2", "D-3"],
                                             "ip": ["10.0.0.5.", "", ""],
                                             "hostname": ["", "10.0.0.6.", ""],
                                             "fqdn": ["", "", "vpn.corp.example."]}))
    got = [(m["asset_id"], m["match_method"]) for m in (
        one(inv, host_ip="10.0.0.5"), one(inv, host_ip="10.0.0.6"),
        one(inv, host_ip="10.0.0.7", host_fqdn="vpn.corp.example"))]
    assert got == [("D-1", "ip"), ("D-2", "ip"), ("D-3", "fqdn")]


def test_match_by_netbios_name(basic):
    m = one(basic, host_ip="172.16.0.9", netbios_name="FILESRV")
    assert (m["asset_id"], m["match_method"]) == ("SRV-003", "hostname")


def test_match_by_short_name_of_a_scanned_fqdn_in_another_domain(basic):
    m = one(basic, host_ip="172.16.0.9", host_fqdn="db01.dmz.example")
    assert (m["asset_id"], m["match_method"]) == ("SRV-004", "hostname")


def test_match_by_mac_in_another_notation(basic):
    m = one(basic, host_ip="172.16.0.9", mac_address="aa:aa:aa:aa:aa:aa;00:50:56:AA:BB:03")
    assert (m["asset_id"], m["match_method"]) == ("SRV-003", "mac")


def test_cidr_fallback_narrowest_range_wins(basic):
    wide = one(basic, host_ip="10.20.1.1")
    narrow = one(basic, host_ip="10.20.30.7")
    assert (wide["asset_id"], wide["match_method"], wide["owner"]) == \
        ("NET-010", "cidr", "Network Team")
    assert (narrow["asset_id"], narrow["match_method"]) == ("NET-011", "cidr")


def test_ip_beats_fqdn_beats_hostname_beats_mac_beats_cidr(basic):
    m = one(basic, host_ip="198.51.100.10", host_fqdn="web01.corp.example",
            netbios_name="FILESRV", mac_address="00:50:56:aa:bb:03")
    assert (m["asset_id"], m["match_method"]) == ("SRV-001", "ip")
    m = one(basic, host_ip="10.20.1.1", netbios_name="FILESRV")
    assert (m["asset_id"], m["match_method"]) == ("SRV-003", "hostname")


def test_two_assets_at_the_same_level_is_ambiguous_never_a_guess(basic):
    m = one(basic, host_ip="10.1.0.50")
    assert m["match_method"] == "ambiguous" and pd.isna(m["asset_id"])
    assert m["match_candidates"] == "SRV-005;SRV-006"
    assert m["owner"] == "secops" and m["unowned"]


def test_two_names_of_one_host_pointing_at_two_assets_is_ambiguous(basic):
    m = one(basic, host_ip="172.16.0.9", netbios_name="FILESRV", hostname="legacy")
    assert m["match_method"] == "ambiguous" and m["match_candidates"] == "SRV-003;SRV-005"


def test_unmatched_host_gets_the_default_owner(basic):
    m = match_hosts(hosts({"host": "192.0.2.99", "host_ip": "192.0.2.99"}), basic,
                    default_owner="secops", default_owner_email="secops@corp.example").iloc[0]
    assert (m["match_method"], m["owner"], m["owner_email"]) == \
        ("unmatched", "secops", "secops@corp.example")
    assert pd.isna(m["asset_id"]) and pd.isna(m["criticality"]) and m["unowned"]


def test_matched_asset_without_owner_is_unowned_and_gets_the_default():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["Z-1"], "ip": ["10.0.0.1"],
                                             "owner": [None]}))
    m = one(inv, host_ip="10.0.0.1")
    assert (m["asset_id"], m["owner"], bool(m["unowned"])) == ("Z-1", "secops", True)


def test_output_keeps_input_rows_index_and_columns(basic):
    frame = hosts({"host": "a", "host_ip": "198.51.100.10"}, {"host": "b"})
    frame.index = [10, 20]
    frame["os"] = ["Linux", "?"]
    out = match_hosts(frame, basic)
    assert list(out.index) == [10, 20] and list(out["os"]) == ["Linux", "?"]
    assert list(out.columns[-len(MATCH_COLUMNS):]) == list(MATCH_COLUMNS)
    assert pd.isna(out.loc[20, "owner"])         # no default owner given


def test_hosts_frame_from_parsed_hosts_matches(basic):
    host = Host(scan_file="s.nessus", report_name="r", name="vpn01", host_ip=None,
                host_fqdn=None, hostname="vpn01", netbios_name=None, mac_addresses=(),
                os=None, credentialed=None, host_start=datetime(2024, 1, 1, tzinfo=timezone.utc),
                host_end=None)
    out = match_hosts(hosts_frame([host]), basic)
    assert (out.iloc[0]["asset_id"], out.iloc[0]["match_method"]) == ("SRV-001", "hostname")


def test_summary_counts_hosts_per_method(basic):
    out = match_hosts(hosts({"host": "198.51.100.10"}, {"host": "10.20.1.1"},
                            {"host": "10.1.0.50"}, {"host": "192.0.2.1"}), basic)
    s = match_summary(out)
    assert (s["hosts"], s["matched"], s["ip"], s["cidr"], s["ambiguous"], s["unmatched"],
            s["unowned"]) == (4, 2, 1, 1, 1, 1, 2)


def test_empty_hosts_frame(basic):
    assert len(match_hosts(hosts(), basic)) == 0


# -- properties -------------------------------------------------------------------------

def _ip_forms(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    if addr.version == 4:
        return [str(addr), f"::ffff:{addr}", f" {addr} "]
    return [str(addr), addr.exploded, addr.exploded.upper(), f"[{addr.compressed}]"]


def _same_address(addr) -> str:
    """What matching compares: an IPv4-mapped IPv6 address (``::ffff:0:0``) is its IPv4 one."""
    return str(getattr(addr, "ipv4_mapped", None) or addr)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(addrs=st.lists(st.ip_addresses(), min_size=1, max_size=25, unique_by=_same_address),
       data=st.data())
def test_property_an_ip_written_in_any_equivalent_form_matches_the_same_asset(addrs, data):
    written, scanned = [], []
    for addr in addrs:
        forms = _ip_forms(addr)
        # an inventory may also write it with a trailing dot (DNS's absolute form)
        written.append(data.draw(st.sampled_from([*forms, f"{addr}."]), label="inventory form"))
        scanned.append(data.draw(st.sampled_from(forms), label="scanned form").strip(" []"))
    ids = [f"A{i}" for i in range(len(addrs))]
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ids, "ip": written}))
    out = match_hosts(hosts(*({"host": s} for s in scanned)), inv)
    assert list(out["asset_id"]) == ids
    assert set(out["match_method"]) == {"ip"}


@settings(max_examples=20, deadline=None)
@given(macs=st.lists(st.binary(min_size=6, max_size=6), min_size=1, max_size=25, unique=True),
       seps=st.lists(st.sampled_from([":", "-", "."]), min_size=25, max_size=25),
       upper=st.booleans())
def test_property_a_mac_written_in_any_notation_matches(macs, seps, upper):
    written = []
    for mac, sep in zip(macs, seps):
        digits = "".join(f"{b:02x}" for b in mac)
        step = 4 if sep == "." else 2                                # Cisco: 0050.56aa.bb01
        text = sep.join(digits[i:i + step] for i in range(0, 12, step))
        written.append(text.upper() if upper else text)
    ids = [f"M{i}" for i in range(len(macs))]
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ids, "mac": written}))
    scanned = [":".join(f"{b:02x}" for b in mac) for mac in macs]
    out = match_hosts(hosts(*({"host": f"h{i}", "mac_address": m}
                              for i, m in enumerate(scanned))), inv)
    assert list(out["asset_id"]) == ids and set(out["match_method"]) == {"mac"}


@settings(max_examples=15, deadline=None)
@given(nets=st.lists(st.tuples(st.integers(0, 2**24 - 1), st.integers(8, 20), st.integers(1, 11),
                               st.integers(0, 2**20)), min_size=1, max_size=20))
def test_property_narrowest_enclosing_cidr_wins(nets):
    # prefixes stop at /31: a /32 "range" is a single address and matches as an IP
    ids, ranges, scanned, expected = [], [], [], []
    for i, (low_bits, outer, inner_extra, offset) in enumerate(nets):
        base = ipaddress.IPv4Address(((i + 1) << 24) | low_bits)    # one /8 per pair
        wide = ipaddress.ip_network(f"{base}/{outer}", strict=False)
        narrow = ipaddress.ip_network(f"{base}/{outer + inner_extra}", strict=False)
        inside = narrow.network_address + (offset % narrow.num_addresses)
        after = (int(narrow.network_address) - int(wide.network_address)
                 + narrow.num_addresses) % wide.num_addresses
        outside = wide.network_address + after                     # in wide, not in narrow
        ids += [f"wide{i}", f"narrow{i}"]
        ranges += [str(wide), str(narrow)]
        scanned += [str(inside), str(outside)]
        expected += [f"narrow{i}", f"wide{i}"]
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ids, "ip": ranges}))
    out = match_hosts(hosts(*({"host": h} for h in scanned)), inv)
    assert list(out["asset_id"]) == expected
    assert set(out["match_method"]) == {"cidr"}


_names = st.sampled_from(["alpha", "beta", "gamma"])
_ips = st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.1.1", "2001:db8::1"])
_nets = st.sampled_from(["10.0.0.0/16", "10.0.0.0/24", "2001:db8::/64"])


def _reference(host: dict, assets: list[dict]) -> tuple[str, tuple[str, ...]]:
    """The matching rules, one host at a time, written as plainly as possible."""
    levels = [
        ("ip", lambda a: host["ip"] is not None and host["ip"] in a["ips"]),
        ("hostname", lambda a: host["name"] is not None and host["name"] in a["names"]),
    ]
    for method, test in levels:
        found = tuple(sorted(a["id"] for a in assets if test(a)))
        if found:
            return (method if len(found) == 1 else "ambiguous"), found
    if host["ip"] is not None:
        addr = ipaddress.ip_address(host["ip"])
        best = {}
        for a in assets:
            for net in a["nets"]:
                n = ipaddress.ip_network(net)
                if addr.version == n.version and addr in n:
                    best.setdefault(n.prefixlen, set()).add(a["id"])
        if best:
            found = tuple(sorted(best[max(best)]))
            return ("cidr" if len(found) == 1 else "ambiguous"), found
    return "unmatched", ()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assets=st.lists(st.fixed_dictionaries({
    "ips": st.lists(_ips, max_size=2, unique=True), "names": st.lists(_names, max_size=1),
    "nets": st.lists(_nets, max_size=1)}), min_size=1, max_size=5),
    scanned=st.lists(st.fixed_dictionaries({"ip": st.none() | _ips, "name": st.none() | _names}),
                     min_size=1, max_size=8))
def test_property_vectorised_matcher_agrees_with_a_host_by_host_reference(assets, scanned):
    for i, a in enumerate(assets):
        a["id"] = f"A{i}"
    inv = inventory_from_frame(pd.DataFrame({
        "asset_id": [a["id"] for a in assets],
        "ip": [";".join(a["ips"] + a["nets"]) for a in assets],
        "hostname": [";".join(a["names"]) for a in assets]}))
    frame = hosts(*({"host": h["ip"] or h["name"] or "nameless", "host_ip": h["ip"],
                     "netbios_name": h["name"]} for h in scanned))
    out = match_hosts(frame, inv)
    for h, (_, row) in zip(scanned, out.iterrows()):
        method, found = _reference(h, assets)
        assert row["match_method"] == method
        if method == "ambiguous":
            assert row["match_candidates"] == ";".join(found)
        elif method != "unmatched":
            assert (row["asset_id"],) == found


# -- what the mutation run (tests/MUTATION.md) found unpinned ---------------------------

def test_narrowest_cidr_over_ipv6_and_ipv4_in_one_frame():
    inv = inventory_from_frame(pd.DataFrame({
        "asset_id": ["V6-48", "V6-64", "V6-120", "V4-8", "V4-31", "V4-16"],
        "ip": ["2001:db8::/48", "2001:db8:0:1::/64", "2001:db8:0:1::100/120", "10.0.0.0/8",
               "10.9.9.10/31", "172.16.0.0/16"]}))
    scanned = ["2001:db8:0:1::105", "2001:db8:0:1::5", "2001:db8:0:2::1", "2001:db9::1",
               "10.9.9.11", "10.9.9.9", "11.0.0.1", "172.16.255.255"]
    out = match_hosts(hosts(*({"host": h} for h in scanned)), inv)
    assert list(out["asset_id"].fillna("-")) == ["V6-120", "V6-64", "V6-48", "-", "V4-31", "V4-8",
                                                 "-", "V4-16"]
    assert list(out["match_method"]) == ["cidr"] * 3 + ["unmatched"] + ["cidr"] * 2 + \
        ["unmatched", "cidr"]
    # only IPv6 hosts, with IPv4 ranges listed first: the IPv6 ranges are still tried
    out = match_hosts(hosts({"host": "2001:db8:0:1::105"}, {"host": "2001:db8:0:2::1"}), inv)
    assert list(out["asset_id"]) == ["V6-120", "V6-48"]


def test_two_assets_with_the_same_range_make_a_host_ambiguous():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["N-1", "N-2"],
                                             "ip": ["10.5.0.0/16", "10.5.0.0/16"]}))
    m = one(inv, host_ip="10.5.1.1")
    assert (m["match_method"], m["match_candidates"]) == ("ambiguous", "N-1;N-2")
    assert pd.isna(m["asset_id"]) and m["owner"] == "secops"


def test_hosts_that_reach_the_cidr_level_without_any_range_or_any_address(basic):
    no_ranges = inventory_from_frame(pd.DataFrame({"asset_id": ["A"], "ip": ["10.0.0.1"]}))
    m = one(no_ranges, host_ip="10.0.0.2")
    assert (m["match_method"], m["owner"]) == ("unmatched", "secops")
    # names only (no address anywhere in the frame), nothing matching
    out = match_hosts(hosts({"host": "nowhere"}, {"host": "elsewhere", "netbios_name": "ELSE"}),
                      basic)
    assert list(out["match_method"]) == ["unmatched", "unmatched"]


def test_the_scanned_address_matches_when_the_report_name_is_a_name(basic):
    m = one(basic, host="gateway-7", host_ip="198.51.100.10")
    assert (m["asset_id"], m["match_method"]) == ("SRV-001", "ip")
    # a report name is one name: never matched word by word
    assert one(basic, host="db01 old")["match_method"] == "unmatched"


def test_an_fqdn_cell_without_a_dot_is_a_short_name_not_an_fqdn():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["L"], "fqdn": ["legacy"]}))
    m = one(inv, host_ip="10.0.0.9", hostname="legacy")
    assert (m["asset_id"], m["match_method"]) == ("L", "hostname")


def test_a_frame_with_only_some_identity_columns_keeps_its_index():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["W"], "fqdn": ["web01.corp.example"],
                                             "owner": ["Bob"]}))
    frame = pd.DataFrame({"host_fqdn": ["web01.corp.example", None]}, index=[4, 2])
    out = match_hosts(frame, inv)
    assert list(out.index) == [4, 2]
    assert list(out["asset_id"].fillna("-")) == ["W", "-"]
    assert list(out["match_method"]) == ["fqdn", "unmatched"]


def test_match_columns_are_typed(basic):
    out = match_hosts(hosts({"host": "198.51.100.10"}, {"host": "10.1.0.50"}, {"host": "x"}), basic)
    assert {c: str(out[c].dtype) for c in ("asset_id", "owner", "owner_email", "criticality",
                                           "match_method", "match_candidates", "internet_facing",
                                           "unowned")} == {
        "asset_id": "string", "owner": "string", "owner_email": "string", "criticality": "string",
        "match_method": "string", "match_candidates": "string", "internet_facing": "boolean",
        "unowned": "boolean"}


def test_summary_counts_each_host_once_whatever_its_findings():
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["A"], "ip": ["10.0.0.1"],
                                             "owner": ["Ann"]}))
    frame = pd.DataFrame([_finding(host="10.0.0.1", host_ip="10.0.0.1", plugin_id=p)
                          for p in (11387, 10622)]
                         + [_finding(host="10.0.0.2", host_ip="10.0.0.2")])
    s = match_summary(join_findings(frame, inv, default_owner="secops"))
    assert (s["hosts"], s["matched"], s["ip"], s["unmatched"], s["unowned"]) == (2, 1, 1, 1, 1)
    matched = match_hosts(hosts({"host": "a"}, {"host": "b"}), inv)
    matched["unowned"] = pd.array([pd.NA, False], dtype="boolean")     # unknown counts as unowned
    assert match_summary(matched)["unowned"] == 1


def _finding(**over) -> dict:
    base = {"host": "10.0.0.1", "host_ip": "10.0.0.1", "host_fqdn": None, "hostname": None,
            "netbios_name": None, "mac_address": None, "plugin_id": 11387, "port": 1701,
            "protocol": "udp", "severity": 0, "profile_role": "primary",
            "host_start": datetime(2024, 3, 10, tzinfo=timezone.utc)}
    return {**base, **over}


def _day(d: int) -> datetime:
    return datetime(2024, 3, d, tzinfo=timezone.utc)


def test_join_findings_first_seen_per_host_address_else_report_name():
    from vulnpipe.ingest.assets.matching import join_findings

    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["A", "B"], "ip": ["10.0.0.1", "10.0.0.2"],
                                             "owner": ["Ann", "Ben"], "criticality": ["low", "low"],
                                             "internet_facing": ["no", "no"]}))
    frame = pd.DataFrame([
        _finding(host="10.0.0.1", host_start=_day(3)),
        _finding(host="vpn01", host_start=_day(10)),                  # renamed: same address
        _finding(host="10.0.0.2", host_ip="10.0.0.2", host_start=_day(5)),
        _finding(host="GW-A", host_ip=None, host_start=_day(4)),
        _finding(host="gw-a", host_ip=None, host_start=_day(9)),        # same name, other case
        _finding(host="gw-b", host_ip=None, host_start=_day(8)),
        _finding(host="gw-b", host_ip=None, port=None, host_start=_day(7)),
    ], index=[70, 60, 50, 40, 30, 20, 10])
    out = join_findings(frame, inv, default_owner="secops", default_owner_email="sec@corp.example")
    assert list(out.index) == [70, 60, 50, 40, 30, 20, 10]
    assert [t.day for t in out["first_seen"]] == [3, 3, 5, 4, 4, 8, 7]
    assert list(out["asset_id"].fillna("-")) == ["A", "A", "B", "-", "-", "-", "-"]
    assert list(out["owner"]) == ["Ann", "Ann", "Ben"] + ["secops"] * 4
    assert list(out["owner_email"].fillna("-")) == ["-"] * 3 + ["sec@corp.example"] * 4
    assert list(out["priority"]) == ["P4", "P4", "P4", "P2", "P2", "P2", "P2"]   # default rules


def test_join_findings_uses_the_rules_and_fallback_given_and_works_without_identities():
    from vulnpipe.ingest.assets.matching import join_findings
    from vulnpipe.ingest.assets.priority import Rule

    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["A"], "ip": ["10.0.0.1"]}))
    frame = pd.DataFrame([_finding(), _finding(host="10.0.0.9", host_ip="10.0.0.9")])
    out = join_findings(frame, inv, (Rule("P1", 2, criticality=frozenset({"unknown"}),
                                          internet_facing=True),), fallback=("P3", 60))
    assert list(out["priority"]) == ["P3", "P3"] and list(out["sla_days"]) == [60, 60]
    bare = pd.DataFrame({"plugin_id": [11387, 11387], "port": [1701, 1701],
                         "protocol": ["udp", "udp"], "severity": [0, 0],
                         "host_start": [_day(1), _day(2)]})
    out = join_findings(bare, inv, default_owner="secops")
    assert list(out["match_method"]) == ["unmatched", "unmatched"]
    assert list(out["owner"]) == ["secops", "secops"]
    empty = pd.DataFrame([_finding()]).iloc[0:0]
    out = join_findings(empty, inv)
    assert len(out) == 0 and set(MATCH_COLUMNS) <= set(out.columns)
    assert out["first_seen"].dtype == empty["host_start"].dtype


def test_an_ipv6_range_with_its_top_bit_set_holds_its_addresses():
    # unique-local fd00::/8 (first bit 1): the range's mask must cover the top bits exactly
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["ULA", "ALL6"],
                                             "ip": ["fd00::/8", "::/0"]}))
    out = match_hosts(hosts({"host": "fd12:3456::1"}, {"host": "7d00::1"},
                            {"host": "fc00::1"}), inv)
    assert list(out["asset_id"]) == ["ULA", "ALL6", "ALL6"]
    assert list(out["match_method"]) == ["cidr"] * 3


def test_match_summary_of_a_frame_without_host_columns_counts_every_row():
    frame = pd.DataFrame({"match_method": ["ip", "ip", "unmatched"],
                          "unowned": [False, False, True]})
    summary = match_summary(frame)
    assert (summary["hosts"], summary["ip"], summary["unmatched"], summary["matched"],
            summary["unowned"]) == (3, 2, 1, 2, 1)
