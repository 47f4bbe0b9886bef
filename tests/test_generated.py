"""Generated exports (../shared/bench/gen_nessus.py) are read exactly as their ground truth says."""
from __future__ import annotations

import json
from collections import Counter

from tests.conftest import run_cli
from vulnpipe.ingest import resolve_profile
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs


def _read(path, profile):
    reader = open_reader(next(expand_inputs([path])), resolve_profile(profile))
    hosts, findings = reader.read_all()
    return reader, hosts, findings


def test_all_profile_matches_truth_counts(generated):
    path, truth = generated
    reader, hosts, findings = _read(path, "all")
    assert len(hosts) == truth["hosts"]
    assert len(findings) == truth["report_items"]
    assert dict(Counter(str(f.plugin_id) for f in findings)) == truth["plugin_counts"]
    assert {k: reader.stats.severity.get(k, 0) for k in truth["severity_counts"]} == truth["severity_counts"]


def test_l2tp_profile_finds_every_l2tp_and_related_finding_and_nothing_else(generated):
    path, truth = generated
    _reader, _hosts, findings = _read(path, "l2tp")
    primary = sorted((f.host.name, f.host.host_ip, f.port, f.protocol)
                     for f in findings if f.profile_role == "primary")
    related = sorted((f.host.name, f.host.host_ip, f.plugin_id, f.port, f.protocol)
                     for f in findings if f.profile_role == "related")
    assert primary == sorted((t["host"], t["host_ip"], t["port"], t["protocol"]) for t in truth["l2tp"])
    assert related == sorted((t["host"], t["host_ip"], t["plugin_id"], t["port"], t["protocol"])
                             for t in truth["related"])
    assert truth["l2tp"] and truth["elsa_68453"], "the generated file must exercise both"


def test_l2tp_profile_ignores_oracle_linux_68453(generated):
    path, truth = generated
    _r, _h, findings = _read(path, "l2tp")
    assert not [f for f in findings if f.plugin_id == 68453]
    assert not [f for f in findings if "ELSA" in (f.plugin_name or "")]


def test_cli_says_once_that_68453_is_not_l2tp(generated, tmp_path):
    path, truth = generated
    result = run_cli("parse", path, path, "--out", tmp_path / "o.jsonl")
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert err.count("note:") == 1 and "plugin 68453" in err
    assert "11387" in err
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(records) == 2 * (len(truth["l2tp"]) + len(truth["related"]))
    assert {r["plugin_id"] for r in records if r["profile_role"] == "primary"} == {11387}


def test_hosts_named_by_fqdn_or_ipv6_keep_a_normalised_address(generated):
    path, truth = generated
    _r, hosts, _f = _read(path, "l2tp")
    by_name = [h for h in hosts if h.name != h.host_ip]
    assert by_name, "generator names some hosts by FQDN"
    assert all(h.host_ip and h.host_fqdn == h.name for h in by_name)
    v6 = [h for h in hosts if ":" in (h.host_ip or "")]
    assert v6 and all(h.host_ip == h.name for h in v6)
