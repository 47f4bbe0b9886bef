"""Property tests: random Nessus documents (built with lxml) read back the values put in,
and the fast path and the full parser agree on every one of them."""
from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from vulnpipe.ingest import NessusReader, ParseError, resolve_profile
from vulnpipe.ingest.nessus.sources import expand_inputs

CM = "http://www.nessus.org/cm"
# XML 1.0 characters only (no controls but tab/newline/CR, no surrogates, not U+FFFE/U+FFFF),
# plus specials
_XML_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff",
                           max_codepoint=0x2FFFF)
_chars = _XML_CHARS | st.sampled_from(list("<>&\"'\t\n\r ;#"))
_pieces = st.text(_chars, max_size=6) | st.sampled_from(
    ["&amp;", "]]>", "--", "\r\n", "</ReportItem>", "<ReportHost name='x'>", "&#x41;", "caf\u00e9"])
texts = st.lists(_pieces, max_size=6).map("".join)
names = texts.filter(bool)
plugin_ids = st.sampled_from([11387, 68453, 10622, 11935, 19506, 1, 99999])
ports = st.sampled_from([0, 22, 500, 1701, 1723, 65535])
protocols = st.sampled_from(["tcp", "udp", "icmp"])
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: a.exploded.upper())
host_names = ipv4 | ipv6 | st.from_regex(r"[a-z][a-z0-9-]{0,10}\.example\.com", fullmatch=True)


@st.composite
def items(draw):
    return {
        "pluginID": draw(plugin_ids),
        "pluginName": draw(st.sampled_from(["L2TP Network Server Detection", "Other"]) | names),
        "pluginFamily": draw(st.sampled_from(["Firewalls", "General"]) | names),
        "port": draw(ports),
        "protocol": draw(protocols),
        "severity": draw(st.sampled_from(["0", "1", "2", "3", "4", "9"])),
        "svc_name": draw(st.none() | names),
        "output": draw(st.none() | texts),
        "cdata_output": draw(st.booleans()),
        "comment": draw(st.none() | st.text(_XML_CHARS,
                                             max_size=10).filter(lambda s: "--" not in s
                                                                 and not s.endswith("-"))),
        "synopsis": draw(texts),
        "cves": draw(st.lists(st.from_regex(r"CVE-20[0-9]{2}-[0-9]{4,5}", fullmatch=True),
                              max_size=3)),
        "cvss3": draw(st.none() | st.floats(0, 10, allow_nan=False).map(lambda f: round(f, 1))),
        "compliance": draw(st.none() | texts),
        "drop": draw(st.sets(st.sampled_from(["pluginName", "port", "severity", "protocol"]),
                             max_size=1)),
    }


@st.composite
def hosts(draw):
    name = draw(host_names)
    return {
        "name": name,
        "ip": draw(st.none() | st.just(name) | ipv4),
        "fqdn": draw(st.none() | names),
        "os": draw(st.none() | texts),
        "credentialed": draw(st.none() | st.booleans()),
        "start": draw(st.none() | st.integers(1, 2_000_000_000)),
        "items": draw(st.lists(items(), max_size=5)),
    }


documents = st.lists(st.lists(hosts(), max_size=4), min_size=1, max_size=3)


def build(reports) -> bytes:
    root = etree.Element("NessusClientData_v2")
    for index, report_hosts in enumerate(reports):
        report = etree.SubElement(root, "Report", name=f"report {index}", nsmap={"cm": CM})
        for h in report_hosts:
            rh = etree.SubElement(report, "ReportHost", name=h["name"])
            props = etree.SubElement(rh, "HostProperties")
            tags = {"host-ip": h["ip"], "host-fqdn": h["fqdn"], "operating-system": h["os"],
                    "Credentialed_Scan": None if h["credentialed"] is None
                    else str(h["credentialed"]).lower(),
                    "HOST_START_TIMESTAMP": None if h["start"] is None else str(h["start"])}
            for key, value in tags.items():
                if value is not None:
                    etree.SubElement(props, "tag", name=key).text = value
            for it in h["items"]:
                attrs = {k: str(it[k]) for k in ("port", "svc_name", "protocol", "severity",
                                                 "pluginID", "pluginName", "pluginFamily")
                         if it[k] is not None and k not in it["drop"]}
                ri = etree.SubElement(rh, "ReportItem", **attrs)
                etree.SubElement(ri, "synopsis").text = it["synopsis"]
                for cve in it["cves"]:
                    etree.SubElement(ri, "cve").text = cve
                if it["cvss3"] is not None:
                    etree.SubElement(ri, "cvss3_base_score").text = str(it["cvss3"])
                if it["compliance"] is not None:
                    etree.SubElement(ri, f"{{{CM}}}compliance-result").text = it["compliance"]
                if it["comment"] is not None:
                    ri.append(etree.Comment(it["comment"]))
                if it["output"] is not None:
                    out = etree.SubElement(ri, "plugin_output")
                    out.text = etree.CDATA(it["output"]) if it["cdata_output"] and it["output"] and \
                        "]]>" not in it["output"] and "\r" not in it["output"] else it["output"]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read(data: bytes, profile: str, fast: bool | None, strict: bool = False):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "random.nessus"
        path.write_bytes(data)
        reader = NessusReader(next(expand_inputs([path])), resolve_profile(profile), fast=fast,
                              strict=strict)
        try:
            hosts, findings = reader.read_all()
        except ParseError as exc:
            return ("error", str(exc))
        return reader.stats, reader.reports, reader.policy, hosts, findings


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(documents, st.sampled_from(["all", "l2tp"]))
def test_fast_path_and_full_parser_agree_on_random_documents(reports, profile):
    data = build(reports)
    full = read(data, profile, False)
    assert read(data, profile, True) == full
    assert read(data, profile, True, strict=True) == full


@SETTINGS
@given(documents)
def test_random_documents_round_trip_through_the_parser(reports):
    data = build(reports)
    stats, got_reports, _policy, got_hosts, findings = read(data, "all", True)
    flat = [h for report in reports for h in report]
    assert [r.name for r in got_reports] == [f"report {i}" for i in range(len(reports))]
    assert [h.name for h in got_hosts] == [h["name"] for h in flat]
    for want, got in zip(flat, got_hosts):
        ip = want["ip"] or want["name"]
        try:
            addr = ipaddress.ip_address(ip)
            # an IPv4-mapped IPv6 address is the IPv4 host it maps (one host, one address)
            mapped = getattr(addr, "ipv4_mapped", None)
            expected_ip = str(mapped or addr)
        except ValueError:
            expected_ip = None
        assert got.host_ip == expected_ip
        assert got.os == (want["os"].strip() or None if want["os"] is not None else None)
        assert got.credentialed == want["credentialed"]
        assert (got.host_start is None) == (want["start"] is None)
        if want["start"] is not None:
            assert int(got.host_start.timestamp()) == want["start"]
    want_items = [it for h in flat for it in h["items"]]
    assert stats.items == len(findings) == len(want_items)
    for want, got in zip(want_items, findings):
        assert got.plugin_id == want["pluginID"]
        assert got.plugin_name == (None if "pluginName" in want["drop"] else want["pluginName"])
        assert got.port == (None if "port" in want["drop"] else want["port"])
        assert got.plugin_output == (want["output"] or None if want["output"] is not None
                                     else None)
        assert got.synopsis == (want["synopsis"] or None)
        assert got.cve == tuple(want["cves"])
        assert got.cvss3_base_score == want["cvss3"]
        assert (got.compliance.result if got.compliance else None) == \
            (want["compliance"] or None if want["compliance"] is not None else None)
    severities = [it["severity"] if "severity" not in it["drop"] and it["severity"] != "9"
                  else "other" for it in want_items]
    assert {k: v for k, v in stats.severity.items() if v} == \
        {s: severities.count(s) for s in set(severities)}
