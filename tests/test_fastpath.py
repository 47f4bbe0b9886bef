"""The fast path reads exactly what the full streaming parser reads: same hosts, findings,
reports, policy and statistics, and the same one-line errors for broken files."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from tests import nessus_builder as nb
from tests.conftest import SHARED, run_cli
from vulnpipe.ingest import NessusReader, ParseError, resolve_profile
from vulnpipe.ingest.nessus import fastpath
from vulnpipe.ingest.nessus.sources import expand_inputs

ENTRIES = json.loads((SHARED / "corpus" / "INDEX.json").read_text()) if SHARED else []


def read_both(path, profile="all", strict=False, full=None):
    """``(full, fast)`` outcomes: each ``(reader, hosts, findings)`` or the ParseError text
    (``full``: the full parser's, already read)."""
    out = [] if full is None else [full]
    for fast in (False, True)[len(out):]:
        source = next(expand_inputs([path]))
        reader = NessusReader(source, resolve_profile(profile), fast=fast, strict=strict)
        try:
            hosts, findings = reader.read_all()
        except ParseError as exc:
            out.append(("error", str(exc), exc.line))
        else:
            out.append((reader, hosts, findings))
    return out


def assert_same(path, profile="all", strict=False, refused=False, full=None):
    """Both paths read ``path`` to the same records (the full parser's reader), or, with
    ``refused``, both refuse it with the same error (None). ``full``: the full parser's
    ``(reader, hosts, findings)``, already read."""
    full, fast = read_both(path, profile, strict, full)
    if refused:
        assert full[0] == "error", "the full parser read a file expected to be refused"
        assert fast == full
        return None
    assert full[0] != "error", full
    assert fast[0] != "error", fast
    rf, rq = full[0], fast[0]
    assert rq.stats == rf.stats
    assert rq.policy == rf.policy
    assert rq.reports == rf.reports
    assert fast[1] == full[1]
    assert fast[2] == full[2]
    return rq


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["path"] for e in ENTRIES])
@pytest.mark.parametrize("profile", ["all", "l2tp"])
def test_fast_path_matches_full_parser_on_corpus_file(entry, profile):
    # refused: files that are not XML, and XML that is not a Nessus v2 export (v1, fragments)
    refused = not entry["well_formed"] or entry["root_tag"] != "NessusClientData_v2"
    reader = assert_same(SHARED / "corpus" / entry["path"], profile, refused=refused)
    if reader is not None:
        assert (reader.stats.hosts, reader.stats.items) == (entry["reporthost_count"], entry["reportitem_count"])
    if reader is not None and entry["size_bytes"] > 10_000:
        # real exports are plain UTF-8 Nessus files: the fast path must really read them
        assert reader.path_used == "fast"


@pytest.fixture(scope="module")
def ordinary(generated):
    """``ordinary(profile)``: the full parser's reading of the generated export in this
    process (the ordinary reader every other way is compared with) as ``(reader, hosts,
    findings)``; ``ordinary(profile, fmt)``: what ``parse --format fmt`` writes for it and how
    many records. Read once per profile."""
    from vulnpipe.ingest.nessus.parallel import encode_in_batches
    from vulnpipe.reports.writers.findings import make_writer

    path, _truth = generated
    read: dict[str, tuple] = {}
    encoded: dict[tuple[str, str], tuple[bytes, int]] = {}

    def of(profile: str, fmt: str | None = None):
        if profile not in read:
            reader = NessusReader(next(expand_inputs([path])), resolve_profile(profile),
                                  fast=False)
            pairs = list(reader.hosts())
            read[profile] = (reader, pairs)
        reader, pairs = read[profile]
        if fmt is None:
            return reader, [h for h, _f in pairs], [f for _h, fs in pairs for f in fs]
        if (profile, fmt) not in encoded:
            encode = make_writer(fmt, os.devnull).encoder()
            pieces = list(encode_in_batches(iter(pairs), encode))  # (as iter_encoded does)
            encoded[profile, fmt] = (b"".join(p[0] for p in pieces), sum(p[1] for p in pieces))
        return encoded[profile, fmt]

    return of


@pytest.mark.parametrize("profile", ["all", "l2tp"])
def test_fast_path_matches_full_parser_on_generated_export(generated, ordinary, profile):
    path, truth = generated
    reader = assert_same(path, profile, full=ordinary(profile))
    assert reader.path_used == "fast"
    assert reader.stats.items == truth["report_items"]


def test_fast_path_with_check_in_a_second_process_matches(generated, monkeypatch):
    path, truth = generated
    monkeypatch.setattr(fastpath, "ASYNC_CHECK_BYTES", 0)
    monkeypatch.setattr(fastpath, "CHECK_CHUNK", 64 << 10)
    reader = assert_same(path, "l2tp", strict=True)
    assert reader.path_used == "fast"
    assert reader.stats.sha256 and reader.stats.hosts == truth["hosts"]


def _hosts(n=30, **kw):
    return [nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}",
                        items=[nb.l2tp(), nb.item(plugin_id=19506, name="Nessus Scan Information",
                                                  output="Credentialed checks : yes\n"),
                               nb.item(**nb.ELSA), nb.item(**nb.PPTP, output="pptp & <more>")],
                        **kw) for i in range(1, n)]


GOOD = nb.document(_hosts())
ODD = {
    "comment": GOOD.replace(b"<HostProperties>", b"<!-- </ReportHost> --><HostProperties>", 3),
    "cdata": GOOD.replace(b"pptp &amp; &lt;more&gt;", b"<![CDATA[pptp & <more>]]>"),
    "pi": GOOD.replace(b"</ReportHost>", b"<?skip me?></ReportHost>", 2),
    "doctype": GOOD.replace(b"<NessusClientData_v2>",
                            b"<!DOCTYPE NessusClientData_v2><NessusClientData_v2>", 1),
    "utf8 bom": b"\xef\xbb\xbf" + GOOD,
    "crlf": GOOD.replace(b"\n", b"\r\n"),
    "latin-1": GOOD.replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'")
                   .replace(b"pptp &amp;", "pptp \u00e9 &amp;".encode("latin-1")),
    "entity in attributes": GOOD.replace(b'pluginName="PPTP Detection"',
                                         b'pluginName="PPTP &amp; &#x4C;2TP &lt;x&gt;"'),
    "char refs in port": GOOD.replace(b'port="1723"', b'port="&#49;701"'),
    "single quotes": GOOD.replace(b'pluginID="11387"', b"pluginID='11387'"),
    "spaces around =": GOOD.replace(b'pluginID="10622"', b'pluginID =\n "10622"'),
    "tab in name": GOOD.replace(b'pluginName="L2TP', b'pluginName="\tL2TP'),
    "item in unknown wrapper": GOOD.replace(b"<ReportItem port=\"1723\"",
                                            b"<Wrap/><ReportItem port=\"1723\"", 1),
    "item nested in item": GOOD.replace(b"<plugin_output>pptp",
                                        b"<ReportItem pluginID='11387'/><plugin_output>pptp", 1),
    "default namespace": GOOD.replace(b"<Report name=", b"<Report xmlns='urn:x' name=", 1),
    "self-closing host": GOOD.replace(b"</Report>", b"<ReportHost name='10.9.9.9'/></Report>"),
    "several reports": GOOD.replace(b"</Report>", b"</Report><Report name='second'>"
                                    + GOOD.split(b"<Report ", 1)[1].split(b">", 1)[1]
                                    .rsplit(b"</NessusClientData_v2>", 1)[0], 1),
    "compliance": GOOD.replace(b"<solution>n/a</solution>",
                               b"<solution>n/a</solution><cm:compliance-result>FAILED"
                               b"</cm:compliance-result><cm:compliance-check-name>x &lt; y"
                               b"</cm:compliance-check-name>"),
    "nested child text": GOOD.replace(b"<plugin_output>pptp",
                                      b"<plugin_output><b>bold</b> tail pptp", 1),
    "no host properties": GOOD.replace(b"<HostProperties>", b"<HostProperties/><Gone>", 1)
                              .replace(b"</HostProperties>", b"</Gone>", 1),
    "ipv6 host": GOOD.replace(b'name="10.0.0.1"', b'name="2001:DB8:0:0::1"', 1),
    "host inside a processing instruction": GOOD.replace(
        b"</ReportHost>", b"</ReportHost><?x <ReportHost name='10.6.6.6'/> ?>", 1),
    "item inside a processing instruction": GOOD.replace(
        b"<ReportItem port=\"1723\"", b"<?x <ReportItem pluginID='11387'/> ?><ReportItem port=\"1723\"", 1),
    "report without name": GOOD.replace(b'<Report name="Test scan"', b"<Report", 1),
}


@pytest.mark.parametrize("name", ODD)
@pytest.mark.parametrize("profile", ["all", "l2tp"])
def test_unusual_markup_reads_the_same_on_both_paths(tmp_path, name, profile):
    path = tmp_path / "scan.nessus"
    path.write_bytes(ODD[name])
    assert_same(path, profile)


@pytest.mark.parametrize("name", ["comment", "cdata", "pi", "doctype", "utf8 bom", "latin-1"])
def test_fast_path_gives_way_on_constructs_it_does_not_handle(tmp_path, name):
    path = tmp_path / "scan.nessus"
    path.write_bytes(ODD[name])
    reader = NessusReader(next(expand_inputs([path])), resolve_profile("l2tp"), fast=True)
    reader.read_all()
    assert reader.path_used in ("full", "fast+full")


BROKEN = {
    "empty": b"",
    "html": b"<!DOCTYPE html><html><body>login</body></html>",
    "v1": b"<?xml version='1.0'?><NessusClientData><Report/></NessusClientData>",
    "truncated": GOOD[: len(GOOD) * 2 // 3],
    "truncated in a tag": GOOD[: GOOD.index(b"<ReportItem", len(GOOD) // 2) + 20],
    "trailing garbage": GOOD + b"<extra/>",
    "unquoted attribute": GOOD.replace(b"<ReportItem port=\"1723\"", b"<ReportItem port=1723", 1),
    "undeclared entity in an attribute": GOOD.replace(b'pluginName="PPTP', b'pluginName="&bad; PPTP', 1),
    "control character in a host property": GOOD.replace(b"</tag>", b"\x01</tag>", 1),
    "undeclared entity in a kept item": GOOD.replace(b"Synopsis of L2TP", b"&bad; L2TP", 1),
    "host end tag missing": GOOD.replace(b"</ReportHost>", b"", 1),
    "form feed in an item tag": GOOD.replace(b'<ReportItem port="1723"', b'<ReportItem\x0cport="1723"', 1),
    "duplicate attribute in the declaration": GOOD.replace(b"<?xml version='1.0'",
                                                           b"<?xml version='1.0' version='1.0'", 1),
    "invalid utf-8 in a kept item": GOOD.replace(b"Synopsis of L2TP", b"\xff\xfe L2TP", 1),
    "duplicate attribute": GOOD.replace(b'protocol="tcp"', b'protocol="tcp" protocol="udp"', 1),
    "host outside report": GOOD.replace(b"<Report name=\"Test scan\"", b"<Other", 1)
                               .replace(b"</Report>", b"</Other>", 1),
}


# Defects inside items a filtering profile drops: the fast path does not read those items'
# content, so by default it reads the file as if they were not there; --strict (libxml2
# checks every byte) refuses it as the streaming parser does.
DROPPED_DEFECTS = {
    # the ELSA-2012-0105 item (68453), which the l2tp profile drops
    "mismatched in a dropped item": GOOD.replace(b"Synopsis of Oracle",
                                                 b"Synopsis of Oracle</synopsi><synopsis>"),
    "undeclared entity in a dropped item": GOOD.replace(b"Synopsis of Oracle", b"&bad; Oracle", 1),
    "invalid utf-8 in a dropped item": GOOD.replace(b"Synopsis of Oracle", b"\xff\xfe Oracle", 1),
}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("name", BROKEN)
def test_broken_file_gives_the_same_error_on_both_paths(tmp_path, name, strict):
    path = tmp_path / "scan.nessus"
    path.write_bytes(BROKEN[name])
    full, fast = read_both(path, "l2tp", strict)
    assert full[0] == "error"
    assert fast == full


@pytest.mark.parametrize("name", DROPPED_DEFECTS)
def test_defect_inside_a_dropped_item_is_refused_in_strict_mode(tmp_path, name):
    path = tmp_path / "scan.nessus"
    path.write_bytes(DROPPED_DEFECTS[name])
    full, fast = read_both(path, "l2tp", strict=True)
    assert full[0] == "error"
    assert fast == full


@pytest.mark.parametrize("name", DROPPED_DEFECTS)
def test_defect_inside_a_dropped_item_does_not_change_what_the_fast_path_reads(tmp_path, name):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    damaged, intact = tmp_path / "a" / "scan.nessus", tmp_path / "b" / "scan.nessus"
    damaged.write_bytes(DROPPED_DEFECTS[name])
    intact.write_bytes(GOOD)
    reader = NessusReader(next(expand_inputs([damaged])), resolve_profile("l2tp"), fast=True)
    hosts, findings = reader.read_all()
    assert reader.path_used == "fast"
    expected = NessusReader(next(expand_inputs([intact])), resolve_profile("l2tp"), fast=False)
    assert (hosts, findings) == expected.read_all() and findings
    reader.stats.sha256 = expected.stats.sha256 = None        # the files differ, of course
    reader.stats.size = expected.stats.size = 0
    assert reader.stats == expected.stats


def test_broken_big_file_checked_in_a_second_process_gives_the_same_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fastpath, "ASYNC_CHECK_BYTES", 0)
    monkeypatch.setattr(fastpath, "CHECK_CHUNK", 4096)
    data = nb.document(_hosts(200))
    path = tmp_path / "scan.nessus"
    at = data.index(b"</solution>", len(data) * 4 // 5)
    path.write_bytes(data[:at] + b"</solutio>" + data[at + len(b"</solution>"):])
    full, fast = read_both(path, "l2tp", strict=True)
    assert full[0] == "error" and fast == full


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_comment_late_in_a_big_file_switches_to_the_full_parser_mid_way(tmp_path, monkeypatch,
                                                                        strict):
    monkeypatch.setattr(fastpath, "ASYNC_CHECK_BYTES", 0)
    monkeypatch.setattr(fastpath, "CHECK_CHUNK", 4096)
    data = nb.document(_hosts(200))
    cut = data.index(b"<ReportHost", len(data) * 3 // 4)
    path = tmp_path / "scan.nessus"
    path.write_bytes(data[:cut] + b"<!-- </ReportHost><ReportHost name='x'> -->" + data[cut:])
    reader = assert_same(path, "l2tp", strict)
    assert reader.path_used == "fast+full"


def test_cli_strict_emits_nothing_from_a_file_broken_in_a_dropped_item(tmp_path):
    path = tmp_path / "scan.nessus"
    path.write_bytes(DROPPED_DEFECTS["mismatched in a dropped item"])
    out = tmp_path / "out.jsonl"
    result = run_cli("parse", path, "--profile", "l2tp", "--strict", "--out", out)
    assert result.returncode == 1
    assert not out.exists()                  # its only input refused: no output made
    assert result.stderr.decode().startswith("error: scan.nessus")
    assert "not well-formed" in result.stderr.decode()
    lenient = run_cli("parse", path, "--profile", "l2tp", "--out", out)
    assert lenient.returncode == 0 and out.read_text().count("\n") == 2 * 29   # L2TP + PPTP


def test_cli_emits_nothing_from_a_file_broken_in_a_kept_item(tmp_path):
    path = tmp_path / "scan.nessus"
    path.write_bytes(BROKEN["undeclared entity in a kept item"])
    out = tmp_path / "out.jsonl"
    result = run_cli("parse", path, "--profile", "l2tp", "--out", out)
    assert result.returncode == 1
    assert not out.exists()                  # its only input refused: no output made
    assert result.stderr.decode().startswith("error: scan.nessus")


def test_gzip_and_zip_inputs_use_the_full_parser(tmp_path):
    import gzip

    path = tmp_path / "scan.nessus.gz"
    path.write_bytes(gzip.compress(GOOD))
    reader = NessusReader(next(expand_inputs([path])), resolve_profile("l2tp"), fast=True)
    hosts, findings = reader.read_all()
    assert reader.path_used == "full" and len(hosts) == 29 and findings


def test_forcing_the_full_parser(tmp_path):
    path = tmp_path / "scan.nessus"
    path.write_bytes(GOOD)
    reader = NessusReader(next(expand_inputs([path])), resolve_profile("l2tp"), fast=False)
    reader.read_all()
    assert reader.path_used == "full"


def test_credentials_from_scan_information_plugin_on_both_paths(tmp_path):
    path = tmp_path / "scan.nessus"
    path.write_bytes(GOOD)
    reader = assert_same(path, "l2tp")
    assert reader.path_used == "fast"
    _r, hosts, _f = read_both(path, "l2tp")[1]
    assert all(h.credentialed is True for h in hosts)


def test_parallel_reader_splits_one_file_and_matches_the_ordinary_reader(generated, monkeypatch):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES", (256 << 10, 256 << 10))
    path, truth = generated
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("l2tp"), workers=2)
    hosts, findings = reader.read_all()
    assert reader.path_used == "parallel"
    full = NessusReader(source, resolve_profile("l2tp"), fast=False)
    assert (hosts, findings) == full.read_all()
    assert reader.stats == full.stats and reader.reports == full.reports
    assert reader.policy == full.policy


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("damage", [(b"Synopsis of L2TP", b"&bad; L2TP"),       # a kept item
                                    (b"</ReportHost>", b"</ReportHos>")])       # structure
def test_parallel_reader_gives_the_ordinary_error_for_a_broken_file(tmp_path, monkeypatch,
                                                                     strict, damage):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES", (8 << 10, 8 << 10))
    data = nb.document(_hosts(120))
    at = data.index(damage[0], len(data) // 2)
    path = tmp_path / "scan.nessus"
    path.write_bytes(data[:at] + damage[1] + data[at + len(damage[0]):])
    source = next(expand_inputs([path]))
    with pytest.raises(ParseError) as par:
        parallel.ParallelReader(source, resolve_profile("l2tp"), workers=2,
                                strict=strict).read_all()
    with pytest.raises(ParseError) as full:
        NessusReader(source, resolve_profile("l2tp"), fast=False).read_all()
    assert str(par.value) == str(full.value)


@pytest.mark.parametrize("name", ["several reports", "comment", "pi", "compliance",
                                  "self-closing host"])
def test_parallel_reader_reads_unusual_files_like_the_ordinary_reader(tmp_path, monkeypatch, name):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES", (4 << 10, 4 << 10))
    path = tmp_path / "scan.nessus"
    path.write_bytes(ODD[name])
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("l2tp"), workers=2, keep_raw=True)
    hosts, findings = reader.read_all()
    full = NessusReader(source, resolve_profile("l2tp"), fast=False, keep_raw=True)
    expected = full.read_all()
    assert hosts == expected[0]
    # kept XML: the fast path keeps the item's bytes verbatim, lxml re-serialises them
    assert [replace(f, raw_xml=None) for f in findings] == \
        [replace(f, raw_xml=None) for f in expected[1]]
    assert reader.stats == full.stats and reader.reports == full.reports


def test_big_files_are_read_on_every_core_with_a_filtering_profile(generated, monkeypatch):
    from vulnpipe.ingest.nessus import parallel, readers

    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    path, _truth = generated
    source = next(expand_inputs([path]))
    l2tp = resolve_profile("l2tp")
    assert isinstance(readers.open_reader(source, l2tp, workers=2), parallel.ParallelReader)
    # 'all' only when the caller takes encoded output (records would cost more to ship than
    # to make); not with --strict, not on one core
    everything = resolve_profile("all")
    assert isinstance(readers.open_reader(source, everything, workers=2, encoded=True),
                      parallel.ParallelReader)
    for reader in (readers.open_reader(source, everything, workers=2),
                   readers.open_reader(source, l2tp, workers=2, strict=True),
                   readers.open_reader(source, l2tp, workers=1)):
        assert isinstance(reader, NessusReader)


def _die(*_args):
    import os

    os._exit(3)                     # as a worker killed by the out-of-memory killer


def test_a_dying_worker_sends_the_file_to_the_ordinary_reader(generated, monkeypatch):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "_piece", _die)
    monkeypatch.setattr(parallel, "PIECE_BYTES", (256 << 10, 256 << 10))
    path, _truth = generated
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("l2tp"), workers=2)
    hosts, findings = reader.read_all()
    assert reader.path_used.startswith("parallel+")
    full = NessusReader(source, resolve_profile("l2tp"), fast=False)
    assert (hosts, findings) == full.read_all() and reader.stats == full.stats


def test_cli_goes_on_after_a_file_with_a_bad_xml_declaration(tmp_path):
    bad, good = tmp_path / "a.nessus", tmp_path / "b.nessus"
    bad.write_bytes(BROKEN["duplicate attribute in the declaration"])
    good.write_bytes(GOOD)
    out = tmp_path / "out.jsonl"
    result = run_cli("parse", bad, good, "--profile", "l2tp", "--out", out)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err and "internal error" not in err
    assert err.startswith("error: a.nessus") and out.read_text().count("\n") == 2 * 29


def _encoded(reader, fmt="jsonl"):
    """What ``parse --format fmt`` writes for ``reader``'s findings, and how many records."""
    from vulnpipe.ingest.nessus.readers import iter_encoded
    from vulnpipe.reports.writers.findings import make_writer

    encode = make_writer(fmt, os.devnull).encoder()
    pieces = list(iter_encoded(reader, encode))
    return b"".join(p[0] for p in pieces), sum(p[1] for p in pieces)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("profile", ["all", "l2tp"])
def test_parallel_encoded_output_equals_the_ordinary_reader(generated, ordinary, monkeypatch,
                                                           profile, fmt):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES", (256 << 10, 256 << 10))
    monkeypatch.setattr(parallel, "PIECE_BYTES_ALL", (128 << 10, 128 << 10))
    path, truth = generated
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile(profile), workers=2)
    data, count = _encoded(reader, fmt)
    assert reader.path_used == "parallel"
    full = ordinary(profile)[0]
    assert (data, count) == ordinary(profile, fmt)
    assert reader.stats == full.stats and reader.reports == full.reports
    assert reader.policy == full.policy
    if profile == "all":
        assert count == truth["report_items"] and data.count(b"\n") >= count


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_parallel_encoded_output_gives_the_ordinary_error_for_a_broken_file(tmp_path,
                                                                            monkeypatch, strict):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES_ALL", (8 << 10, 8 << 10))
    data = nb.document(_hosts(120))
    at = data.index(b"Credentialed checks", len(data) // 2)    # inside an item ('all' keeps it)
    path = tmp_path / "scan.nessus"
    path.write_bytes(data[:at] + b"&bad;" + data[at:])
    source = next(expand_inputs([path]))
    with pytest.raises(ParseError) as par:
        _encoded(parallel.ParallelReader(source, resolve_profile("all"), workers=2,
                                         strict=strict))
    with pytest.raises(ParseError) as full:
        NessusReader(source, resolve_profile("all"), fast=False).read_all()
    assert str(par.value) == str(full.value)


@pytest.mark.parametrize("name", ["several reports", "comment", "pi", "compliance",
                                  "self-closing host"])
def test_parallel_encoded_output_of_unusual_files_equals_the_ordinary_reader(tmp_path,
                                                                              monkeypatch, name):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "PIECE_BYTES_ALL", (4 << 10, 4 << 10))
    path = tmp_path / "scan.nessus"
    path.write_bytes(ODD[name])
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("all"), workers=2)
    full = NessusReader(source, resolve_profile("all"), fast=False)
    assert _encoded(reader) == _encoded(full)
    assert reader.stats == full.stats and reader.reports == full.reports


def test_a_dying_worker_leaves_encoded_output_to_the_ordinary_reader(generated, ordinary,
                                                                    monkeypatch):
    from vulnpipe.ingest.nessus import parallel

    monkeypatch.setattr(parallel, "_piece", _die)
    path, _truth = generated
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("all"), workers=2)
    full = ordinary("all")[0]
    assert _encoded(reader) == ordinary("all", "jsonl")
    assert reader.path_used.startswith("parallel+") and reader.stats == full.stats


def test_the_full_parser_hashes_only_when_asked(generated):
    import hashlib

    path, _truth = generated
    source = next(expand_inputs([path]))
    hashed = NessusReader(source, resolve_profile("all"), fast=False)
    hashed.read_all()
    assert hashed.stats.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    plain = NessusReader(source, resolve_profile("all"), fast=False, digest=False)
    plain.read_all()
    assert plain.stats.sha256 is None and plain.stats.size == hashed.stats.size


def test_cli_parse_all_on_every_core_writes_what_one_process_writes(generated, tmp_path):
    """``parse --profile all`` of a big file splits it (VULNPIPE_PARALLEL_MIN_BYTES lowers
    the threshold for the test); the bytes written are the same either way."""
    path, _truth = generated
    outs = {}
    for label, env in (("split", {"VULNPIPE_PARALLEL_MIN_BYTES": "0"}),
                       ("single", {"VULNPIPE_PARALLEL_MIN_BYTES": str(1 << 40)})):
        for fmt in ("jsonl", "csv"):
            out = tmp_path / f"{label}.{fmt}"
            result = run_cli("-v", "parse", path, "--profile", "all", "--format", fmt,
                             "--out", out, env=env)
            assert result.returncode == 0, result.stderr
            reader = "parallel" if label == "split" else "full"
            assert f"read by the {reader} reader" in result.stderr.decode()
            outs[label, fmt] = out.read_bytes()
    assert outs["split", "jsonl"] == outs["single", "jsonl"]
    assert outs["split", "csv"] == outs["single", "csv"]


def _many_files(tmp_path, generated):
    """Small inputs of every kind: generated, hand-built, broken, zipped, gzipped."""
    import gzip
    import zipfile

    gen, _truth = generated
    files = [gen]
    for i in range(5):
        path = tmp_path / f"s{i}.nessus"
        path.write_bytes(nb.document(_hosts(10 + i)))
        files.append(path)
    broken = tmp_path / "broken.nessus"
    broken.write_bytes(nb.document(_hosts(12))[:-200])
    files.insert(3, broken)
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("in-zip.nessus", nb.document(_hosts(7)))
    (tmp_path / "g.nessus.gz").write_bytes(gzip.compress(nb.document(_hosts(9))))
    return files + [tmp_path / "z.zip", tmp_path / "g.nessus.gz"]


def _outcomes(sources, profile, workers):
    from vulnpipe.ingest.nessus.files import iter_files_encoded
    from vulnpipe.reports.writers.findings import make_writer

    encode = make_writer("jsonl", os.devnull).encoder()
    out = []
    for source, outcome in iter_files_encoded(sources, resolve_profile(profile), encode,
                                              workers=workers):
        try:
            data = b"".join(chunk for chunk, _n in outcome.chunks())
        except ParseError as exc:
            out.append((source.name, "error", str(exc)))
        else:
            out.append((source.name, data, outcome.stats))
    return out


@pytest.mark.parametrize("profile", ["all", "l2tp"])
def test_many_files_read_on_every_core_equal_one_after_the_other(tmp_path, generated, profile):
    sources = list(expand_inputs(_many_files(tmp_path, generated)))
    assert len(sources) == 9
    together = _outcomes(sources, profile, workers=2)
    assert together == _outcomes(sources, profile, workers=1)
    assert [o[1] for o in together].count("error") == 1


def _pid_file(index, *_args):
    from vulnpipe.ingest.nessus.build import ParseStats

    return (str(os.getpid()).encode(), 0), None, ParseStats(), "worker"


def test_many_small_files_go_to_worker_processes(tmp_path, generated, monkeypatch):
    from vulnpipe.ingest.nessus import files, parallel

    monkeypatch.setattr(files, "_whole_file", _pid_file)
    sources = list(expand_inputs(_many_files(tmp_path, generated)))
    read = {name: data for name, data, _stats in _outcomes(sources, "l2tp", workers=2)}
    # small plain files went to worker processes; the generated file (over
    # POOL_FILE_BYTES), the zip member and the .gz file were streamed here
    small = {s.name for s in sources if parallel.plain_size(s) is not None and
             parallel.plain_size(s) < files.POOL_FILE_BYTES}
    assert small == {f"s{i}.nessus" for i in range(5)} | {"broken.nessus"}
    pids = {read[name] for name in small}
    assert all(p.isdigit() for p in pids) and str(os.getpid()).encode() not in pids
    assert not any(read[s.name].isdigit() for s in sources if s.name not in small)


def test_cli_parse_of_many_files_writes_what_one_file_at_a_time_writes(tmp_path, generated):
    files = _many_files(tmp_path, generated)
    out = tmp_path / "all.jsonl"
    result = run_cli("parse", *files, "--profile", "all", "--out", out)
    assert result.returncode == 1                         # the broken file is refused...
    err = result.stderr.decode()
    assert err.count("error: ") == 1 and "broken.nessus" in err and "Traceback" not in err
    expected = b""
    for path in files:                                    # ...and the others are all written
        one = tmp_path / "one.jsonl"
        single = run_cli("parse", path, "--profile", "all", "--out", one)
        if path.name != "broken.nessus":
            assert single.returncode == 0, single.stderr
            expected += one.read_bytes()
    assert out.read_bytes() == expected and expected.count(b"\n") > 1000


def test_library_api_and_inspect_read_big_files_on_every_core_with_the_same_results(
        generated, monkeypatch):
    from vulnpipe.ingest.nessus import inspect, parallel, readers
    from vulnpipe.ingest.nessus import read as api
    from vulnpipe.ingest.nessus.inspect import summarize
    from vulnpipe.ingest.nessus.read import iter_scan

    if parallel.cores() < 2:
        pytest.skip("one core: files are never split")
    used = []

    def recording_open_reader(*args, **kwargs):
        used.append(readers.open_reader(*args, **kwargs))
        return used[-1]

    monkeypatch.setattr(api, "open_reader", recording_open_reader)
    monkeypatch.setattr(inspect, "open_reader", recording_open_reader)
    path, truth = generated
    source = next(expand_inputs([path]))
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 1 << 40)
    whole = (list(iter_scan(path, "l2tp")), summarize(source))
    assert [type(r) for r in used] == [NessusReader, NessusReader]
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel, "PIECE_BYTES", (256 << 10, 256 << 10))
    split = (list(iter_scan(path, "l2tp")), summarize(source))
    assert [r.path_used for r in used[2:]] == ["parallel", "parallel"]
    assert split == whole and whole[1].hosts == truth["hosts"] and whole[1].sha256


def test_a_worker_dying_between_two_submissions_leaves_the_rest_to_this_process(
        tmp_path, generated, ordinary, monkeypatch):
    """The pool may break after a result came back and before the next submission."""
    from concurrent.futures.process import BrokenProcessPool

    from vulnpipe.ingest.nessus import parallel

    real = parallel.new_pool

    def pool_that_breaks(workers):
        pool = real(workers)
        submit, calls = pool.submit, []

        def breaking_submit(*args, **kwargs):
            calls.append(1)
            if len(calls) == 4:
                raise BrokenProcessPool("a worker was killed")
            return submit(*args, **kwargs)
        pool.submit = breaking_submit
        return pool

    monkeypatch.setattr(parallel, "new_pool", pool_that_breaks)
    sources = list(expand_inputs(_many_files(tmp_path, generated)))
    assert _outcomes(sources, "all", workers=2) == _outcomes(sources, "all", workers=1)
    monkeypatch.setattr(parallel, "PIECE_BYTES_ALL", (128 << 10, 128 << 10))
    path, _truth = generated
    source = next(expand_inputs([path]))
    reader = parallel.ParallelReader(source, resolve_profile("all"), workers=2)
    assert _encoded(reader) == ordinary("all", "jsonl")
    assert reader.path_used == "parallel+full"


def test_many_files_are_scheduled_in_linear_time_and_compressed_ones_streamed(tmp_path,
                                                                              monkeypatch):
    from vulnpipe.ingest.nessus import parallel

    doc = nb.document(_hosts(2))
    for i in range(300):
        (tmp_path / f"t{i:03}.nessus").write_bytes(doc)
    import gzip
    (tmp_path / "z.nessus.gz").write_bytes(gzip.compress(doc))
    sources = list(expand_inputs([tmp_path]))
    calls, submitted = [], []
    real_size = parallel.plain_size
    monkeypatch.setattr(parallel, "plain_size", lambda s: calls.append(1) or real_size(s))
    real_pool = parallel.new_pool

    def recording_pool(workers):
        pool = real_pool(workers)
        submit = pool.submit

        def recording_submit(fn, index, *args):
            submitted.append(sources[index].name)
            return submit(fn, index, *args)
        pool.submit = recording_submit
        return pool

    monkeypatch.setattr(parallel, "new_pool", recording_pool)
    read = _outcomes(sources, "l2tp", workers=2)
    assert len(read) == 301 and len(calls) <= 2 * 301      # (quadratic before: 45,000)
    assert sorted(submitted) == sorted(s.name for s in sources if s.name.endswith(".nessus"))
    assert len(read) == 301
    assert "z.nessus.gz" not in submitted     # size unknown: streamed here, never held whole


@pytest.mark.parametrize("hosts,at", [(30, 0.5), (300, 0.95), (3000, 0.5), (3000, 0.02)])
def test_an_undeclared_entity_is_reported_where_it_is(tmp_path, hosts, at):
    """After an undeclared entity libxml2 raises a later, misleading error ("Start tag
    expected" at line 1, "Extra content at the end", "no element found"): the one line
    names the entity and its line instead, on every path."""
    data = nb.document(_hosts(hosts))
    where = data.index(b"Credentialed checks", int(len(data) * at))
    data = data[:where] + b"&bad;" + data[where:]
    path = tmp_path / "scan.nessus"
    path.write_bytes(data)
    line = data[:where].count(b"\n") + 1
    for fast in (False, True):
        with pytest.raises(ParseError) as info:
            NessusReader(next(expand_inputs([path])), resolve_profile("l2tp"), fast=fast,
                         strict=True).read_all()
        assert "Entity 'bad' not defined" in str(info.value) and info.value.line == line
