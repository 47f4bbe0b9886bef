"""How a host is named for people, the same way in every output.

A host is shown by the name people know it by (its FQDN, else its NetBIOS name, else the
name the scan report gave it) with its address beside it, once: ``rras01.corp.example
(10.10.1.21)``. A host known only by its address is shown as the address alone.
"""
from __future__ import annotations


def _clean(text: object) -> str:
    """Stripped text; anything that is not text (None, a missing DataFrame cell) is empty."""
    return text.strip() if isinstance(text, str) else ""


def host_name(fqdn: str | None, netbios: str | None, name: str | None,
              address: str | None) -> str | None:
    """The host's name: FQDN, else NetBIOS name, else the report's host name; None when the
    only thing known is the address (a name equal to the address is no name)."""
    addr = _clean(address).casefold()
    for candidate in (fqdn, netbios, name):
        text = _clean(candidate)
        if text and text.casefold() != addr:
            return candidate              # as the scanner wrote it: every output escapes it
    return None


def host_label(fqdn: str | None, netbios: str | None, name: str | None,
               address: str | None) -> str:
    """``name (address)``, or the address alone when no name is known."""
    shown = host_name(fqdn, netbios, name, address)
    if shown is None:
        return address or _clean(name)
    return f"{shown} ({address})" if address else shown
