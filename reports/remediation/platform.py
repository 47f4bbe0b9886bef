"""Which remediation platform a scanned host is, from Nessus's ``operating-system`` text.

The platform key picks the section of the remediation knowledge base
(``templates/remediation/*.toml``) whose steps fit the host. Keys are stable; users write
them in their own knowledge files, so they are part of vulnpipe's interface:

==================  ==========================================================
key                 chosen when the first OS line mentions
==================  ==========================================================
``opnsense``        OPNsense
``pfsense``         pfSense (including "FreeBSD ... (pfSense)")
``mikrotik``        MikroTik / RouterOS
``cisco_asa``       Cisco Adaptive Security Appliance / ASA, Cisco PIX
``cisco_ios``       Cisco IOS or IOS XE (not IOS XR, NX-OS or Apple iOS)
``windows_server``  Microsoft Windows with "Server" in the name
``windows_client``  any other Microsoft Windows
``linux``           Linux, or a Linux distribution named without the word
``freebsd``         FreeBSD (when no pfSense/OPNsense marker is present)
``generic``         anything else, or no OS at all
==================  ==========================================================

Nessus often reports several candidate OS names, one per line, best guess first: only the
first non-blank line is used, so the answer follows Nessus's own best guess.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping

GENERIC = "generic"

#: Every platform key, with the label shown to owners (ordered as documented above).
PLATFORMS: Mapping[str, str] = MappingProxyType({
    "windows_server": "Windows Server (Routing and Remote Access)",
    "windows_client": "Windows desktop",
    "linux": "Linux",
    "freebsd": "FreeBSD",
    "mikrotik": "MikroTik RouterOS",
    "cisco_ios": "Cisco IOS / IOS XE",
    "cisco_asa": "Cisco ASA",
    "pfsense": "pfSense",
    "opnsense": "OPNsense",
    GENERIC: "Any device (generic)",
})

# Distributions Nessus sometimes names without the word "Linux".
_LINUX_DISTROS = re.compile(
    r"\b(ubuntu|debian|centos|red ?hat|rhel|fedora|suse|sles|rocky|alma|oracle linux|"
    r"amazon linux|gentoo|arch linux|slackware|raspbian|kali)\b")
# Cisco operating systems that are not IOS / IOS XE even though the text says "IOS".
_CISCO_NOT_IOS = re.compile(r"\b(ios[ -]?xr|nx-?os)\b")


def first_os_line(os_text: str | None) -> str:
    """The first non-blank line of a Nessus ``operating-system`` value ('' when none)."""
    for line in (os_text or "").splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def platform_for(os_text: str | None) -> str:
    """The platform key (one of :data:`PLATFORMS`) for a Nessus ``operating-system`` value.

    Never fails: unknown, empty or missing text gives ``'generic'``.
    """
    text = first_os_line(os_text).lower()
    if not text:
        return GENERIC
    # Firewall distributions built on FreeBSD first, so "FreeBSD ... (pfSense)" is pfSense.
    if "opnsense" in text:
        return "opnsense"
    if "pfsense" in text:
        return "pfsense"
    if "mikrotik" in text or "routeros" in text:
        return "mikrotik"
    if "cisco" in text:
        if "adaptive security appliance" in text or re.search(r"\basa\b", text) \
                or re.search(r"\bpix\b", text):
            return "cisco_asa"
        if _CISCO_NOT_IOS.search(text):
            return GENERIC
        if re.search(r"\bios\b", text) or "ios-xe" in text or "ios xe" in text:
            return "cisco_ios"
        return GENERIC
    if "windows" in text:
        return "windows_server" if "server" in text else "windows_client"
    if "linux" in text or _LINUX_DISTROS.search(text):
        return "linux"
    if "freebsd" in text:
        return "freebsd"
    return GENERIC


def platform_label(key: str) -> str:
    """The owner-facing label of a platform key (the key itself when unknown)."""
    return PLATFORMS.get(key, key)
