"""Normalising host identities: IP addresses, host names and MAC addresses."""
from __future__ import annotations

import ipaddress
import re

_MAC_HEX = re.compile(r"[0-9a-fA-F]")
_MAC_SPLIT = re.compile(r"[\s,;]+")
_MAC_SEPARATORS = re.compile(r"[\s:.\-]")
# the usual spellings, answered without the general rules below (same results: tested)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_PLAIN_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")


def normalize_ip(text: str | None) -> str | None:
    """Canonical text of an IPv4/IPv6 address (IPv6 compressed, lower case), else None.

    >>> normalize_ip("2001:DB8:0:0::1")
    '2001:db8::1'
    >>> normalize_ip("host.example") is None
    True
    """
    if not text:
        return None
    if _PLAIN_IPV4.fullmatch(text):
        return text
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    s = s.split("%", 1)[0]  # drop an IPv6 zone id
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return str(addr)


def normalize_hostname(text: str | None) -> str | None:
    """Lower-case host name without surrounding space or trailing dot; None when empty."""
    if not text:
        return None
    s = text.strip().rstrip(".").lower()
    return s or None


def short_name(hostname: str | None) -> str | None:
    """First label of a host name (``web01`` for ``web01.corp.example``); None for IPs."""
    name = normalize_hostname(hostname)
    if not name or normalize_ip(name):
        return None
    return name.split(".", 1)[0]


def normalize_mac(text: str | None) -> str | None:
    """One MAC address as ``aa:bb:cc:dd:ee:ff``; None when it is not 12 hex digits."""
    if not text:
        return None
    if _PLAIN_MAC.fullmatch(text):
        return text.lower()
    digits = "".join(_MAC_HEX.findall(text))
    stripped = _MAC_SEPARATORS.sub("", text)
    if len(digits) != 12 or len(stripped) != 12:
        return None
    d = digits.lower()
    return ":".join(d[i:i + 2] for i in range(0, 12, 2))


def normalize_macs(text: str | None) -> tuple[str, ...]:
    """Every MAC address in a cell or tag that may hold several, normalised, in order, unique."""
    if not text:
        return ()
    seen: dict[str, None] = {}
    for part in _MAC_SPLIT.split(text):
        mac = normalize_mac(part)
        if mac:
            seen.setdefault(mac, None)
    return tuple(seen)
