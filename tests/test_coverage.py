"""Coverage: could a scan have seen a finding? Every rule, and the corpus's real policies."""
from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED, run_cli
from vulnpipe.ingest import resolve_profile
from vulnpipe.ingest.coverage import (
    COVERED,
    NOT_COVERED,
    REASON_HOST_ABSENT,
    REASON_NO_CREDENTIALS,
    REASON_NO_POLICY,
    REASON_PLUGIN_DISABLED,
    REASON_PORT_EXCLUDED,
    UNKNOWN,
    coverage,
    port_in_range,
)
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.records import Host, Policy

HOST = Host(scan_file="s", report_name="r", name="10.0.0.1", host_ip="10.0.0.1", host_fqdn=None,
            hostname=None, netbios_name=None, mac_addresses=(), os=None, credentialed=False,
            host_start=None, host_end=None)
CRED_HOST = Host(**{**{f: getattr(HOST, f) for f in HOST.__slots__}, "credentialed": True})
L2TP = dict(plugin_id=11387, family="Firewalls", port=1701, protocol="udp", plugin_type="remote")


def policy(**kw) -> Policy:
    base = dict(name="p", plugin_set=None, port_range="default", targets=None, scanner_kind="nessus")
    return Policy(**{**base, **kw})


def test_plugin_in_plugin_set_is_covered():
    assert coverage(policy(plugin_set=frozenset({11387})), HOST, **L2TP).status == COVERED


def test_plugin_missing_from_plugin_set_is_not_covered():
    cov = coverage(policy(plugin_set=frozenset({19506})), HOST, **L2TP)
    assert (cov.status, cov.reason) == (NOT_COVERED, REASON_PLUGIN_DISABLED)


def test_enabled_family_covers_without_plugin_set():
    assert coverage(policy(families=(("Firewalls", "enabled"),)), HOST, **L2TP).covered


def test_disabled_family_does_not_cover():
    cov = coverage(policy(families=(("Firewalls", "disabled"),)), HOST, **L2TP)
    assert cov.reason == REASON_PLUGIN_DISABLED


def test_mixed_family_defers_to_individual_selection():
    on = policy(families=(("Firewalls", "mixed"),), plugins=((11387, "Firewalls", "enabled"),))
    off = policy(families=(("Firewalls", "mixed"),), plugins=((11387, "Firewalls", "disabled"),))
    absent = policy(families=(("Firewalls", "mixed"),), plugins=((10622, "Firewalls", "enabled"),))
    assert coverage(on, HOST, **L2TP).covered
    assert coverage(off, HOST, **L2TP).reason == REASON_PLUGIN_DISABLED
    assert coverage(absent, HOST, **L2TP).reason == REASON_PLUGIN_DISABLED


def test_no_policy_information_is_unknown():
    assert coverage(None, HOST, **L2TP) .status == UNKNOWN
    cov = coverage(policy(), HOST, **L2TP)
    assert (cov.status, cov.reason) == (UNKNOWN, REASON_NO_POLICY)


def test_explicit_port_range_excluding_the_port_is_not_covered():
    cov = coverage(policy(plugin_set=frozenset({11387}), port_range="1-1024"), HOST, **L2TP)
    assert (cov.status, cov.reason) == (NOT_COVERED, REASON_PORT_EXCLUDED)


@pytest.mark.parametrize("spec,expected", [
    ("default", True), ("all", True), ("1-65535", True), ("22,80,1701", True),
    ("1-1024", False), ("T:1-65535", False), ("T:1-1024,U:1701", True), ("U:1-1000", False),
    ("1701", True), ("1700-1702", True), (" 443 , 8443 ", False),
])
def test_port_range_forms(spec, expected):
    assert port_in_range(spec, 1701, "udp") is expected


def test_port_zero_findings_are_never_excluded_by_port_range():
    assert port_in_range("1-1024", 0, "tcp") is True


def test_local_check_needs_credentials():
    elsa = dict(plugin_id=68453, family="Oracle Linux Local Security Checks", port=0,
                protocol="tcp", plugin_type="local")
    pol = policy(plugin_set=frozenset({68453}))
    assert coverage(pol, HOST, **elsa).reason == REASON_NO_CREDENTIALS
    assert coverage(pol, CRED_HOST, **elsa).covered


def test_host_absent_from_scan_is_not_covered():
    cov = coverage(policy(plugin_set=frozenset({11387})), None, **L2TP)
    assert (cov.status, cov.reason) == (NOT_COVERED, REASON_HOST_ABSENT)


ENTRIES = json.loads((SHARED / "corpus" / "INDEX.json").read_text()) if SHARED else []
POLICIES = [e for e in ENTRIES if e["well_formed"] and e["root_tag"] == "NessusClientData_v2"]


@pytest.mark.parametrize("entry", POLICIES, ids=[e["path"] for e in POLICIES])
def test_corpus_policies_answer_as_their_plugin_set_says(entry):
    reader = open_reader(next(expand_inputs([SHARED / "corpus" / entry["path"]])),
                          resolve_profile("l2tp"))
    hosts, _ = reader.read_all()
    host = hosts[0] if hosts else HOST
    cov = coverage(reader.policy, host, **L2TP)
    if entry["plugin_set_exists"]:
        assert cov.status == (COVERED if entry["plugin_set_has_11387"] else NOT_COVERED)
    else:
        # web-app scans and policy-only files: no plugin_set and no family facts
        assert cov.status in (UNKNOWN, NOT_COVERED)


def test_inspect_says_whether_the_policy_can_see_l2tp(shared):
    yes = run_cli("inspect", shared / "corpus" / "pytenable" / "io_scan_export_175.nessus")
    no = run_cli("inspect", shared / "corpus" / "pytenable" / "example.nessus")
    assert "plugin 11387   yes" in yes.stdout.decode()
    assert "cannot report L2TP" in no.stdout.decode()
