"""Priority rules and due dates: the l2tp defaults, configured tables, first-seen dates."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from vulnpipe.ingest.assets.inventory import inventory_from_frame
from vulnpipe.ingest.assets.matching import JOIN_COLUMNS, join_findings
from vulnpipe.ingest.assets.priority import DEFAULT_RULES, Rule, assign_priority, due_dates, rules_from_config
from vulnpipe.ingest.errors import VulnpipeError


def rows(*items: dict) -> pd.DataFrame:
    cols = ["criticality", "internet_facing", "profile_role", "severity"]
    frame = pd.DataFrame([{c: i.get(c) for c in cols} for i in items], columns=cols)
    frame["internet_facing"] = frame["internet_facing"].astype("boolean")
    frame["severity"] = frame["severity"].astype("Int64")
    return frame


def prio(**row) -> tuple[str, int]:
    p, s = assign_priority(rows(row), DEFAULT_RULES)
    return p.iloc[0], int(s.iloc[0])


def test_internet_facing_l2tp_endpoint_on_a_critical_asset_is_p1_in_7_days():
    assert prio(criticality="critical", internet_facing=True, profile_role="primary") == ("P1", 7)


def test_internet_facing_l2tp_endpoint_on_a_low_asset_is_p2():
    assert prio(criticality="low", internet_facing=True, profile_role="primary") == ("P2", 14)


def test_l2tp_endpoint_on_an_unknown_unowned_host_is_p2_for_triage():
    assert prio(criticality=None, internet_facing=None, profile_role="primary") == ("P2", 14)


def test_internal_l2tp_endpoints():
    assert prio(criticality="critical", internet_facing=False, profile_role="primary") == ("P3", 30)
    assert prio(criticality="low", internet_facing=False, profile_role="primary") == ("P4", 90)


def test_related_vpn_findings():
    assert prio(criticality="high", internet_facing=True, profile_role="related") == ("P3", 30)
    assert prio(criticality="low", internet_facing=True, profile_role="related") == ("P4", 90)


def test_profile_all_falls_back_to_severity():
    assert prio(severity=4, profile_role="") == ("P1", 15)
    assert prio(severity=3) == ("P2", 30)
    assert prio(severity=0) == ("P4", 180)


def test_rules_apply_in_order_first_match_wins():
    rules = (Rule("P3", 30, criticality=frozenset({"critical"})), Rule("P1", 1))
    p, s = assign_priority(rows({"criticality": "critical"}, {"criticality": "low"}), rules)
    assert list(p) == ["P3", "P1"] and list(s) == [30, 1]


def test_configured_rules_from_toml_shape():
    rules = rules_from_config([
        {"name": "exposed", "internet_facing": True, "priority": "p1", "sla_days": 3},
        {"criticality": ["unknown"], "internet_facing": "unknown", "priority": "P2",
         "sla_days": 10},
        {"min_severity": 2, "profile_role": ["none"], "priority": "P3", "sla_days": 60},
    ])
    p, s = assign_priority(rows({"internet_facing": True}, {}, {"severity": 2},
                                {"severity": 1, "criticality": "low"}), rules, ("P4", 365))
    assert list(p) == ["P1", "P2", "P2", "P4"] and list(s) == [3, 10, 10, 365]


@pytest.mark.parametrize("rule, expected", [
    ({"priority": "P5", "sla_days": 3}, "#1.priority: must be one of P1, P2, P3, P4"),
    ({"priority": "P1"}, "#1: missing key 'sla_days'"),
    ({"priority": "P1", "sla_days": "7"}, "#1.sla_days: must be a whole number"),
    ({"priority": "P1", "sla_days": 7, "criticallity": ["high"]}, "unknown key 'criticallity'"),
    ({"priority": "P1", "sla_days": 7, "criticality": ["urgent"]}, "unknown value(s) urgent"),
    ({"priority": "P1", "sla_days": 7, "internet_facing": "maybe"}, "must be true, false"),
    ({"priority": "P1", "sla_days": 7, "min_severity": 9}, "must be 0-4"),
    ({"priority": "P1", "sla_days": 7, "profile_role": ["main"]}, "unknown value(s) main"),
])
def test_bad_rule_names_the_key(rule, expected):
    with pytest.raises(VulnpipeError) as info:
        rules_from_config([rule])
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_due_date_is_first_seen_day_plus_sla_days():
    seen = pd.Series(pd.to_datetime(["2024-02-27T23:30:00Z", None], utc=True))
    due = due_dates(seen, pd.Series([3, 7], dtype="Int64"))
    assert due.iloc[0] == pd.Timestamp("2024-03-01") and pd.isna(due.iloc[1])


def _findings(**over):
    base = {"scan_file": "a.nessus", "host": "10.0.0.1", "host_ip": "10.0.0.1",
            "host_fqdn": None, "netbios_name": None, "mac_address": None, "plugin_id": 11387,
            "port": 1701, "protocol": "udp", "severity": 0, "profile_role": "primary",
            "host_start": datetime(2024, 3, 10, tzinfo=timezone.utc)}
    return {**base, **over}


def test_join_findings_first_seen_is_the_earliest_scan_of_the_same_finding():
    frame = pd.DataFrame([
        _findings(scan_file="week-10.nessus", host_start=datetime(2024, 3, 10, tzinfo=timezone.utc)),
        _findings(scan_file="week-09.nessus", host_start=datetime(2024, 3, 3, tzinfo=timezone.utc)),
        _findings(port=500, host_start=datetime(2024, 3, 10, tzinfo=timezone.utc)),
    ])
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["V"], "ip": ["10.0.0.1"],
                                             "criticality": ["critical"],
                                             "internet_facing": ["yes"], "owner": ["Vic"]}))
    out = join_findings(frame, inv, DEFAULT_RULES, "secops")
    assert set(JOIN_COLUMNS) <= set(out.columns) and "unowned" in out.columns
    assert list(out["priority"]) == ["P1", "P1", "P1"]
    assert [d.strftime("%Y-%m-%d") for d in out["due_date"]] == \
        ["2024-03-10", "2024-03-10", "2024-03-17"]
    assert list(out["owner"]) == ["Vic"] * 3


def test_join_findings_keeps_a_given_first_seen():
    frame = pd.DataFrame([_findings()])
    frame["first_seen"] = pd.to_datetime(["2024-01-01T00:00:00Z"], utc=True)
    inv = inventory_from_frame(pd.DataFrame({"asset_id": ["V"], "ip": ["10.9.9.9"]}))
    out = join_findings(frame, inv, DEFAULT_RULES, "secops")
    assert out["match_method"].iloc[0] == "unmatched" and out["owner"].iloc[0] == "secops"
    assert out["due_date"].iloc[0] == pd.Timestamp("2024-01-15")      # P2, 14 days


def test_rule_errors_are_whole_lines_naming_the_key_and_the_docs():
    import pytest

    from vulnpipe.ingest.assets.priority import Rule, rule_from_mapping
    from vulnpipe.ingest.errors import InputError

    docs = " (see docs/config.md, section [priority])"
    where = "[[priority.rules]] #1"
    for data, message in [
        ({"priority": "P1", "sla_days": 1, "criticality": []},
         ".criticality: must be a list of critical, high, low, medium, unknown"),
        ({"priority": "P1", "sla_days": 1, "criticality": ["high", 2]},
         ".criticality: must be a list of critical, high, low, medium, unknown"),
        ({"priority": "P1", "sla_days": 1, "criticality": ["bogus", "zany", "high"]},
         ".criticality: unknown value(s) bogus, zany (use critical, high, low, medium, unknown)"),
        ({"priority": "P1", "sla_days": 1, "profile_role": ["x", "primary"]},
         ".profile_role: unknown value(s) x (use none, primary, related)"),
        ("x", ": must be a table"),
        ({"priority": "P9", "sla_days": 1}, ".priority: must be one of P1, P2, P3, P4, not 'P9'"),
    ]:
        with pytest.raises(InputError) as err:
            rule_from_mapping(data, where)
        assert str(err.value) == where + message + docs, data
    assert rule_from_mapping({"priority": "p1", "sla_days": 0, "criticality": " High ", "name": "n",
                              "profile_role": ["Primary"], "internet_facing": " Unknown ",
                              "min_severity": 0}, where) == Rule(
        priority="P1", sla_days=0, name="n", criticality=frozenset({"high"}), internet_facing="unknown",
        profile_role=frozenset({"primary"}), min_severity=0)


# -- what the mutation run (tests/MUTATION.md) found unpinned ---------------------------

def test_a_frame_without_inventory_columns_is_unknown_criticality_unknown_exposure_role_none():
    # findings joined to nothing (no criticality, internet_facing, profile_role or severity
    # columns): a rule on severity never fires, rules on "unknown"/"none" do
    rules = rules_from_config([
        {"min_severity": 0, "priority": "P1", "sla_days": 1},
        {"internet_facing": True, "priority": "P1", "sla_days": 2},
        {"internet_facing": False, "priority": "P1", "sla_days": 3},
        {"criticality": ["unknown"], "internet_facing": "unknown", "profile_role": ["none"],
         "priority": "P2", "sla_days": 5}])
    frame = pd.DataFrame({"host": ["a", "b"]}, index=[7, 3])
    p, s = assign_priority(frame, rules)
    assert list(p.items()) == [(7, "P2"), (3, "P2")] and list(s.items()) == [(7, 5), (3, 5)]
    assert (str(p.dtype), str(s.dtype)) == ("string", "Int64")
    # no rule at all: the fallback, on the same rows
    p, s = assign_priority(frame, rules[:3], ("P3", 60))
    assert list(p.items()) == [(7, "P3"), (3, "P3")] and list(s.items()) == [(7, 60), (3, 60)]


def test_exposure_true_false_and_unknown_each_match_their_own_rule():
    rules = rules_from_config([
        {"internet_facing": False, "priority": "P3", "sla_days": 30},
        {"internet_facing": True, "priority": "P1", "sla_days": 7},
        {"internet_facing": "unknown", "priority": "P2", "sla_days": 14}])
    frame = rows({"internet_facing": True}, {"internet_facing": False}, {})
    frame.index = [10, 20, 30]
    p, s = assign_priority(frame, rules)
    assert list(p.items()) == [(10, "P1"), (20, "P3"), (30, "P2")]
    assert list(s.items()) == [(10, 7), (20, 30), (30, 14)]
    assert (str(p.dtype), str(s.dtype)) == ("string", "Int64")


def test_an_empty_criticality_is_unknown_and_criticality_is_read_case_blind():
    p, _ = assign_priority(rows({"criticality": "", "profile_role": "primary"},
                                {"criticality": "CRITICAL", "internet_facing": True,
                                 "profile_role": "Primary"}), DEFAULT_RULES)
    assert list(p) == ["P2", "P1"]


def test_due_date_of_a_naive_first_seen_is_read_as_utc():
    seen = pd.Series([datetime(2024, 2, 28, 23, 30), datetime(2024, 12, 31, 0, 0)])
    due = due_dates(seen, pd.Series([1, 0], dtype="Int64"))
    assert list(due) == [pd.Timestamp("2024-02-29"), pd.Timestamp("2024-12-31")]


@pytest.mark.parametrize("rule, message", [
    ({"priority": "P1", "sla_days": 3651},
     "#1.sla_days: must be a whole number of days from 0 to 3650, not 3651"),
    ({"priority": "P1", "sla_days": 7, "min_severity": 5}, "#1.min_severity: must be 0-4, not 5"),
    ({"priority": "P1", "sla_days": 7, "min_severity": True},
     "#1.min_severity: must be 0-4, not True"),
    ({"priority": "P1", "sla_days": 7, "name": 3}, "#1.name: must be text"),
    ({"priority": "P1", "sla_days": 7, "internet_facing": "maybe"},
     "#1.internet_facing: must be true, false or \"unknown\", not 'maybe'"),
    ({"priority": "P1", "sla_days": 7, "owner": "x"},
     "#1: unknown key 'owner' (keys: name, priority, sla_days, criticality, internet_facing, "
     "profile_role, min_severity)"),
])
def test_rule_errors_word_for_word(rule, message):
    with pytest.raises(VulnpipeError) as info:
        rules_from_config([rule])
    assert str(info.value) == "[[priority.rules]] " + message + \
        " (see docs/config.md, section [priority])"


def test_rules_must_be_an_array_and_the_limits_themselves_are_accepted():
    with pytest.raises(VulnpipeError) as info:
        rules_from_config({"priority": "P1"})
    assert str(info.value) == ("[[priority.rules]]: must be an array of tables ([[priority.rules]]) "
                               "(see docs/config.md, section [priority])")
    rules = rules_from_config([{"priority": "P4", "sla_days": 3650, "min_severity": 4}])
    assert (rules[0].sla_days, rules[0].min_severity) == (3650, 4)


def test_a_finding_of_unknown_severity_meets_no_severity_rule():
    rules = rules_from_config([{"min_severity": 1, "priority": "P1", "sla_days": 1}])
    p, _ = assign_priority(rows({"severity": None}, {"severity": 1}), rules)
    assert list(p) == ["P4", "P1"]
