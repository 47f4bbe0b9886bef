"""Normalising host identities: one host, one text, however the scanner wrote it."""
from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from vulnpipe.ingest.addresses import (
    normalize_hostname,
    normalize_ip,
    normalize_mac,
    normalize_macs,
    short_name,
)


@given(st.ip_addresses(v=6))
def test_every_written_form_of_an_ipv6_address_normalises_alike(addr):
    forms = {addr.exploded, addr.compressed, addr.exploded.upper(), f"[{addr.compressed}]"}
    got = {normalize_ip(f) for f in forms}
    assert len(got) == 1
    expected = str(addr.ipv4_mapped) if addr.ipv4_mapped else addr.compressed
    assert got == {expected}


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_and_its_ipv4_mapped_ipv6_form_are_one_host(addr):
    assert normalize_ip(str(addr)) == normalize_ip(f"::ffff:{addr}") == str(addr)


def test_names_and_non_addresses():
    assert normalize_ip("vpn1.corp.example") is None and normalize_ip("") is None
    assert normalize_ip("fe80::1%eth0") == "fe80::1"
    assert normalize_hostname(" VPN1.Corp.Example. ") == "vpn1.corp.example"
    assert short_name("VPN1.corp.example") == "vpn1" and short_name("10.0.0.1") is None


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ""]), st.booleans())
def test_mac_in_any_common_form_normalises_alike(raw, sep, upper):
    text = sep.join(f"{b:02x}" for b in raw)
    text = text.upper() if upper else text
    assert normalize_mac(text) == ":".join(f"{b:02x}" for b in raw)


def test_several_macs_in_one_tag_keep_order_without_duplicates():
    assert normalize_macs("00:50:56:AA:BB:CC\n00-50-56-aa-bb-cc, 0050.56aa.bbcd") == (
        "00:50:56:aa:bb:cc", "00:50:56:aa:bb:cd")


def _ip_by_the_rules(text):
    """What normalize_ip answers, from the rules alone (ipaddress), for comparison with its
    shortcut for plain dotted IPv4."""
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        addr = ipaddress.ip_address(s.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped) if mapped else str(addr)


_octets = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "-1", ""]))


@given(st.one_of(st.lists(_octets, min_size=3, max_size=5).map(".".join),
                 st.text(alphabet="0123456789.:abcdefABCDEF []%\n", max_size=24),
                 st.ip_addresses().map(str)))
def test_the_shortcut_for_plain_ipv4_answers_as_the_rules_do(text):
    if text:
        assert normalize_ip(text) == _ip_by_the_rules(text)


def _mac_by_the_rules(text):
    digits = "".join(c for c in text if c in "0123456789abcdefABCDEF")
    stripped = "".join(c for c in text if c not in " \t\n\r\f\v:.-")
    if len(digits) != 12 or len(stripped) != 12:
        return None
    return ":".join(digits.lower()[i:i + 2] for i in range(0, 12, 2))


@given(st.one_of(st.text(alphabet="0123456789abcdefABCDEFxyz:-. ", max_size=20),
                 st.lists(st.text(alphabet="0123456789abcdefABCDEFg", min_size=1, max_size=3),
                          min_size=5, max_size=7).map(":".join)))
def test_the_shortcut_for_plain_macs_answers_as_the_rules_do(text):
    assert normalize_mac(text) == _mac_by_the_rules(text)
