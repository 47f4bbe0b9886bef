"""Platform detection from Nessus ``operating-system`` text: the corpus, the generator, edge cases."""
from __future__ import annotations

import importlib.util

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from vulnpipe.reports.remediation.platform import (
    GENERIC,
    PLATFORMS,
    first_os_line,
    platform_for,
    platform_label,
)

# Every operating-system value seen in the shared corpus, with the platform an owner expects.
CORPUS_EXPECTED = {
    "Microsoft Windows Server 2008 R2 Standard Service Pack 1": "windows_server",
    "Microsoft Windows 10 Pro": "windows_client",
    "Linux Kernel 2.6 on Ubuntu 10.10 (maverick)": "linux",
    "Linux Kernel 2.6.32-279.el6.x86_64 on CentOS release 6.3 (Final)": "linux",
    "Linux Kernel 2.6": "linux",
    "CISCO PIX 7.0": "cisco_asa",
    "AIX 5.3": GENERIC,
    "Mac OS X 10.8.4": GENERIC,
    "Mac OS X 10.8.5 (intel)": GENERIC,
}

GENERATOR_EXPECTED = {
    "Microsoft Windows Server 2019 Standard": "windows_server",
    "Microsoft Windows Server 2016 Datacenter": "windows_server",
    "Linux Kernel 5.15 on Ubuntu 22.04": "linux",
    "Linux Kernel 4.18 on Red Hat Enterprise Linux 8": "linux",
    "Oracle Linux 6": "linux",
    "MikroTik RouterOS 6.49": "mikrotik",
    "Cisco IOS 15.2": "cisco_ios",
    "FreeBSD 13.2 (pfSense)": "pfsense",
}


def _corpus_os_values(shared) -> set[str]:
    values: set[str] = set()
    for path in sorted((shared / "corpus").rglob("*")):
        if not path.is_file() or path.name in ("INDEX.json", "README.md"):
            continue
        try:
            for _, el in etree.iterparse(str(path), tag="tag", recover=True, huge_tree=True):
                if el.get("name") == "operating-system" and el.text:
                    values.add(el.text)
                el.clear()
        except etree.XMLSyntaxError:
            continue   # files that are not XML at all hold no OS strings
    return values


def test_every_corpus_os_string_maps_to_the_expected_platform(shared):
    values = _corpus_os_values(shared)
    assert set(CORPUS_EXPECTED) <= values, "corpus OS strings changed; update CORPUS_EXPECTED"
    for text in values:
        key = platform_for(text)
        assert key in PLATFORMS
        if text in CORPUS_EXPECTED:
            assert key == CORPUS_EXPECTED[text], text


def test_every_generator_os_string_maps_to_the_expected_platform(shared):
    spec = importlib.util.spec_from_file_location("gen_nessus", shared / "bench" / "gen_nessus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.OSES) == set(GENERATOR_EXPECTED)
    for text in module.OSES:
        assert platform_for(text) == GENERATOR_EXPECTED[text], text


@pytest.mark.parametrize("text, expected", [
    ("Microsoft Windows Server 2022 Datacenter", "windows_server"),
    ("Microsoft Windows Server 2003 Service Pack 2", "windows_server"),
    ("Microsoft Windows 11 Enterprise", "windows_client"),
    ("Red Hat Enterprise Linux 9", "linux"),
    ("Debian 12", "linux"),
    ("Ubuntu 22.04", "linux"),
    ("CentOS Stream 9", "linux"),
    ("Oracle Linux 8", "linux"),
    ("MikroTik RouterOS 7.12", "mikrotik"),
    ("RouterOS 7", "mikrotik"),
    ("Cisco IOS XE 17.3", "cisco_ios"),
    ("CISCO IOS 12.4(24)T", "cisco_ios"),
    ("Cisco Adaptive Security Appliance (ASA) 9.16", "cisco_asa"),
    ("Cisco ASA 5505", "cisco_asa"),
    ("Cisco IOS XR 7.3", GENERIC),
    ("Cisco NX-OS 9.3", GENERIC),
    ("Apple iOS 17", GENERIC),
    ("pfSense 2.7.2", "pfsense"),
    ("OPNsense 24.1", "opnsense"),
    ("FreeBSD 13.2 (OPNsense)", "opnsense"),
    ("FreeBSD 14.0", "freebsd"),
    ("VMware ESXi 8.0", GENERIC),
    ("", GENERIC),
    ("   \n  ", GENERIC),
    (None, GENERIC),
])
def test_platform_for_known_os_families(text, expected):
    assert platform_for(text) == expected


def test_multiline_os_uses_nessus_first_guess():
    text = "\nMikroTik RouterOS 6.49\nLinux Kernel 3.3.5\nCisco IOS 15.2"
    assert first_os_line(text) == "MikroTik RouterOS 6.49"
    assert platform_for(text) == "mikrotik"
    assert platform_for("Linux Kernel 3.10\nMicrosoft Windows Server 2019") == "linux"


def test_every_platform_has_an_owner_facing_label():
    for key, label in PLATFORMS.items():
        assert platform_label(key) == label and label.strip()
    assert platform_label("unheard_of") == "unheard_of"


@given(st.one_of(st.none(), st.text(max_size=200)))
def test_platform_for_never_fails_and_always_returns_a_known_key(text):
    assert platform_for(text) in PLATFORMS
