"""Every public export in ../shared/corpus is read with exactly the counts in INDEX.json."""
from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED, run_cli
from vulnpipe.ingest import ParseError, resolve_profile
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs

ENTRIES = json.loads((SHARED / "corpus" / "INDEX.json").read_text()) if SHARED else []
VALID = [e for e in ENTRIES if e["well_formed"] and e["root_tag"] == "NessusClientData_v2"]
REFUSED = [e for e in ENTRIES if e not in VALID]


def _read(entry, profile="all"):
    source = next(expand_inputs([SHARED / "corpus" / entry["path"]]))
    reader = open_reader(source, resolve_profile(profile))
    hosts, findings = reader.read_all()
    return reader, hosts, findings


@pytest.mark.parametrize("entry", VALID, ids=[e["path"] for e in VALID])
def test_corpus_counts_match_index(entry):
    reader, hosts, findings = _read(entry)
    st = reader.stats
    assert st.reports == entry["report_count"]
    assert len(hosts) == entry["reporthost_count"]
    assert st.items == len(findings) == entry["reportitem_count"]
    sev = {k: st.severity.get(k, 0) for k in ("0", "1", "2", "3", "4", "other")}
    assert sev == entry["severity_counts"]
    assert st.plugin_counts.get(11387, 0) == entry["items_plugin_11387"]
    assert st.plugin_counts.get(68453, 0) == entry["items_plugin_68453"]
    assert st.port_1701 == entry["items_port_1701"]
    assert st.compliance_items == entry["compliance_items"]
    assert st.sha256 == entry["sha256"] and st.size == entry["size_bytes"]
    assert (reader.policy is not None) == entry["policy_exists"]
    if entry["policy_exists"]:
        assert (reader.policy.plugin_set is not None) == entry["plugin_set_exists"]
        if entry["plugin_set_exists"]:
            assert (11387 in reader.policy.plugin_set) == entry["plugin_set_has_11387"]
            assert (68453 in reader.policy.plugin_set) == entry["plugin_set_has_68453"]


@pytest.mark.parametrize("entry", VALID, ids=[e["path"] for e in VALID])
def test_corpus_l2tp_profile_selects_nothing_where_index_has_no_l2tp(entry):
    _reader, _hosts, findings = _read(entry, "l2tp")
    assert entry["items_plugin_11387"] == 0 and entry["items_port_1701"] == 0
    # the corpus holds no L2TP/VPN detections; whatever is selected must be a related plugin
    assert all(f.plugin_id in {10622, 11935, 62695, 62694, 56022, 107073, 11494} for f in findings)


@pytest.mark.parametrize("entry", REFUSED, ids=[e["path"] for e in REFUSED])
def test_corpus_non_v2_files_are_refused_with_one_line(entry):
    with pytest.raises(ParseError) as info:
        _read(entry)
    message = str(info.value)
    assert "\n" not in message
    assert entry["path"].rsplit("/", 1)[-1] in message


@pytest.mark.parametrize("entry", REFUSED, ids=[e["path"] for e in REFUSED])
def test_cli_refuses_corpus_non_v2_files_without_traceback(entry):
    result = run_cli("parse", SHARED / "corpus" / entry["path"])
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "Traceback" not in err
    assert err.startswith("error: ")


def test_policy_only_export_is_valid_and_has_no_hosts():
    entry = next(e for e in ENTRIES if e["path"] == "pytenable/sc_policy.xml")
    reader, hosts, _ = _read(entry)
    assert hosts == [] and reader.policy is not None
    assert reader.policy.scanner_kind == "tenable.sc"


def test_scanner_kind_from_server_preferences():
    entry = next(e for e in ENTRIES if e["path"] == "pytenable/io_scan_export_175.nessus")
    reader, hosts, _ = _read(entry)
    assert reader.policy.scanner_kind == "tenable.vm"
    entry = next(e for e in ENTRIES if e["path"] == "defectdojo/nessus_v_unknown.xml")
    assert _read(entry)[0].policy.scanner_kind == "nessus"
