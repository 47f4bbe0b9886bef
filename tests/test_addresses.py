"""Normalising host identities: one host, one text, however the scanner wrote it."""
from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from ingest.addresses import normalize_hostname, normalize_ip, normalize_mac, normalize_macs, short_name


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
