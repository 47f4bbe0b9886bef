"""Bad and hostile .nessus input: one clear line, non-zero exit, no traceback, nothing executed."""
from __future__ import annotations

import json

import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.ingest import ParseError, resolve_profile
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs

GOOD = nb.document([nb.HostSpec("10.0.0.1", ip="10.0.0.1", items=[nb.l2tp()])])


def _read(path):
    return open_reader(next(expand_inputs([path])), resolve_profile("all")).read_all()


CASES = {
    "empty": (b"", "empty"),
    "whitespace": (b"  \n\n", "empty"),
    "garbage": (bytes(range(256)) * 4, "not XML"),
    "html": (b"<!DOCTYPE html><html><head><title>Login</title></head><body><br></body></html>",
             "HTML page"),
    "v1": (b"<?xml version='1.0'?><NessusClientData><Report><ReportHost><HostName>a</HostName>"
           b"</ReportHost></Report></NessusClientData>", "Nessus v1"),
    "wrong root": (b"<?xml version='1.0'?><catalog><book/></catalog>", "root element is <catalog>"),
    "fragment": (b"<ReportItem pluginID='1'/>", "root element is <ReportItem>"),
    "truncated": (GOOD[: len(GOOD) // 2], "truncated"),
    "truncated early": (GOOD[:60], "not well-formed"),
    "mismatched": (GOOD.replace(b"</HostProperties>", b"</HostProps>"), "not well-formed"),
    "invalid utf-8": (GOOD.replace(b"Synopsis of", b"Synopsis \xff\xfe of"), "UTF-8"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_file_is_refused_with_one_clear_line(tmp_path, name):
    data, expected = CASES[name]
    path = tmp_path / "scan.nessus"
    path.write_bytes(data)
    with pytest.raises(ParseError) as info:
        _read(path)
    message = str(info.value)
    assert message.startswith("scan.nessus")
    assert expected.lower() in message.lower()
    assert "\n" not in message


@pytest.mark.parametrize("name", ["empty", "html", "truncated", "mismatched"])
def test_cli_bad_file_exits_1_without_traceback(tmp_path, name):
    path = tmp_path / "scan.nessus"
    path.write_bytes(CASES[name][0])
    result = run_cli("parse", path)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in err
    assert err.splitlines()[0].startswith("error: scan.nessus")


def test_truncated_file_reports_the_line(tmp_path):
    path = tmp_path / "scan.nessus"
    path.write_bytes(CASES["mismatched"][0])
    with pytest.raises(ParseError) as info:
        _read(path)
    assert info.value.line and info.value.line > 1


def test_one_bad_file_does_not_lose_the_good_ones(tmp_path):
    good = tmp_path / "good.nessus"
    good.write_bytes(GOOD)
    bad = tmp_path / "bad.nessus"
    bad.write_bytes(GOOD[:-40])
    out = tmp_path / "out.jsonl"
    result = run_cli("parse", bad, good, "--out", out)
    assert result.returncode == 1
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["scan_file"] for r in records] == ["good.nessus"]
    assert "bad.nessus" in result.stderr.decode()


def test_truncated_file_contributes_no_partial_records(tmp_path):
    hosts = [nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}", items=[nb.l2tp()]) for i in range(1, 50)]
    data = nb.document(hosts)
    path = tmp_path / "cut.nessus"
    path.write_bytes(data[: int(len(data) * 0.9)])
    out = tmp_path / "out.jsonl"
    result = run_cli("parse", path, "--out", out)
    assert result.returncode == 1
    assert not out.exists()             # its only input refused: no output made


def test_internal_entities_are_never_expanded(tmp_path):
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE NessusClientData_v2 [\n <!ENTITY lol "lol">\n'
           + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']>\n<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1"><HostProperties/>'
           b'<ReportItem port="1701" svc_name="l2tp" protocol="udp" severity="0" pluginID="11387" '
           b'pluginName="L2TP Network Server Detection" pluginFamily="Firewalls">'
           b'<plugin_output>&lol9;</plugin_output></ReportItem></ReportHost></Report></NessusClientData_v2>')
    path = tmp_path / "laughs.nessus"
    path.write_bytes(lol)
    with pytest.raises(ParseError, match="declares XML entities"):
        _read(path)
    result = run_cli("parse", path)
    assert result.returncode == 1 and b"lollol" not in result.stdout + result.stderr


def test_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE NessusClientData_v2 [\n'
           f' <!ENTITY xxe SYSTEM "file://{secret}">\n'
           f' <!ENTITY web SYSTEM "http://127.0.0.1:9/x">\n]>\n'
           '<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1"><HostProperties/>'
           '<ReportItem port="1701" svc_name="l2tp" protocol="udp" severity="0" pluginID="11387" '
           'pluginName="L2TP Network Server Detection" pluginFamily="Firewalls">'
           '<plugin_output>&xxe;&web;</plugin_output></ReportItem></ReportHost></Report>'
           '</NessusClientData_v2>').encode()
    path = tmp_path / "xxe.nessus"
    path.write_bytes(doc)
    with pytest.raises(ParseError, match="declares XML entities"):
        _read(path)
    result = run_cli("parse", path)
    assert result.returncode == 1 and b"TOP-SECRET" not in result.stdout + result.stderr


def test_entity_references_without_declarations_are_not_expanded(tmp_path):
    # no DOCTYPE: an undeclared entity is a well-formedness error, never a lookup
    doc = GOOD.replace(b"Synopsis of", b"&xxe; Synopsis of")
    path = tmp_path / "undeclared.nessus"
    path.write_bytes(doc)
    with pytest.raises(ParseError, match="not well-formed"):
        _read(path)


def test_utf16_with_bom_parses(tmp_path):
    text = GOOD.decode("utf-8").replace('encoding=\'UTF-8\'', 'encoding="UTF-16"')
    path = tmp_path / "u16.nessus"
    path.write_bytes(text.encode("utf-16"))
    hosts, findings = _read(path)
    assert len(hosts) == 1 and findings[0].plugin_id == 11387


def test_utf8_bom_and_crlf_parse(tmp_path):
    path = tmp_path / "bom.nessus"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n"))
    hosts, findings = _read(path)
    assert len(hosts) == 1 and findings[0].port == 1701
