#!/usr/bin/env python3
"""Regenerate vulnpipe's sample data: five weeks of Nessus scans of a fictional company.

Everything here is fictional: the company (Kestrel Freight), its people, its hosts. Only
reserved names and addresses are used (``corp.example``; 10/8, 172.16/12, 192.168/16,
2001:db8::/32; locally administered MAC addresses).

    .venv/bin/python sample_data/make_sample.py            # writes next to this file
    .venv/bin/python sample_data/make_sample.py --out DIR  # writes into DIR

The output is byte-for-byte reproducible: a fixed seed, fixed timestamps (no wall clock),
sorted hosts, items and rows. It writes ``scans/*.nessus``, ``inventory.csv``,
``inventory.xlsx`` and ``expected.json`` (the facts tests compare the parser, the weekly
story, reconciliation and inventory matching against, derived from this scenario, never
from parsing the files).
"""
from __future__ import annotations

import argparse
import csv
import io
import ipaddress
import json
import random
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from vulnpipe.reports.writers.cells import csv_text  # noqa: E402
from vulnpipe.reports.writers.output import normalize_zip  # noqa: E402
from vulnpipe.reports.writers.xlsx import FIXED_TIME, Sheet, write_xlsx  # noqa: E402

SEED = 20261127
COMPANY = "Kestrel Freight"
DOMAIN = "corp.example"
TODAY = "2026-11-27"

# Moments: 0..4 are the weekly scans of ISO weeks 2026-W44..W48, 5 is the rescan window
# (Wednesday/Thursday after the W48 weekly).
WEEKS = ("2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48")
RESCAN = 5
ALL_MOMENTS = frozenset(range(6))
WEEKLY_ONLY = frozenset(range(5))

L2TP = 11387
ELSA = 68453
RELATED_IDS = frozenset({10622, 11935, 62695, 62694, 56022, 107073, 11494})

REASON_NO_POLICY = "no policy information"
REASON_PLUGIN_DISABLED = "plugin not enabled"
REASON_PORT_EXCLUDED = "port outside the scan's port range"
REASON_NO_CREDENTIALS = "local check without credentials"


def utc(text: str) -> int:
    """Epoch seconds of ``YYYY-MM-DD HH:MM`` in UTC."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp())


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ctime(epoch: int) -> str:
    """``Mon Nov  2 01:00:00 2026`` as Nessus writes HOST_START (locale independent)."""
    d = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:2d} {d:%H:%M:%S} {d.year}"


# --------------------------------------------------------------------------------------
# Plugin catalogue (texts written for this sample; IDs and names as in Tenable's feed)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plugin:
    pid: int
    name: str
    family: str
    severity: int
    plugin_type: str
    synopsis: str
    description: str
    solution: str = "n/a"
    cvss3: float | None = None
    cves: tuple[str, ...] = ()
    see_also: str = ""
    fname: str = ""

    @property
    def risk(self) -> str:
        return ("None", "Low", "Medium", "High", "Critical")[self.severity]


def _p(*args, **kw) -> Plugin:
    return Plugin(*args, **kw)


PLUGINS: dict[int, Plugin] = {p.pid: p for p in (
    # -- the campaign: L2TP and related VPN exposure --------------------------------------
    _p(11387, "L2TP Network Server Detection", "Firewalls", 0, "remote",
       "A VPN endpoint answers on UDP port 1701.",
       "The host answered an L2TP tunnel set-up request, so it acts as an L2TP Network Server "
       "(a VPN endpoint).",
       "Confirm the VPN service is approved; otherwise disable it or filter UDP port 1701.",
       fname="l2tp_detection.nasl"),
    _p(10622, "PPTP Detection", "Service detection", 0, "remote",
       "A PPTP VPN server is listening.",
       "The host speaks the Point-to-Point Tunneling Protocol on TCP port 1723.",
       "Disable PPTP if it is not needed; it relies on weak MS-CHAPv2 authentication.",
       fname="pptp_detect.nasl"),
    _p(11935, "IPSEC Internet Key Exchange (IKE) Version 1 Detection", "Service detection", 0,
       "remote", "An IKEv1 service is listening.",
       "The host answered an IKE version 1 proposal on UDP port 500.",
       "Limit IKE to the peers that need it; prefer IKEv2.",
       fname="ike_detect.nasl"),
    _p(62695, "IPSEC Internet Key Exchange (IKE) Version 2 Detection", "Service detection", 0,
       "remote", "An IKEv2 service is listening.",
       "The host answered an IKE version 2 SA_INIT request on UDP port 500.",
       "Limit IKE to the peers that need it.",
       fname="ike2_detect.nasl"),
    _p(62694, "Internet Key Exchange (IKE) Aggressive Mode with Pre-Shared Key", "Misc.", 2,
       "remote", "The IKE service accepts Aggressive Mode with a pre-shared key.",
       "In Aggressive Mode the responder sends a hash of the pre-shared key that can be "
       "cracked offline.",
       "Disable Aggressive Mode, or use certificates instead of pre-shared keys.",
       cvss3=5.3, cves=("CVE-2002-1623",),
       fname="ike_aggressive_mode_psk.nasl"),
    _p(56022, "OpenVPN Server Detection", "Service detection", 0, "remote",
       "An OpenVPN server is listening.",
       "The host answered an OpenVPN reset packet on UDP port 1194.",
       "Make sure the VPN service is approved.",
       fname="openvpn_detect.nasl"),
    _p(107073, "Unauthenticated OpenVPN Server Detection", "Service detection", 0, "remote",
       "An OpenVPN server answers without TLS authentication.",
       "The OpenVPN server answered a reset packet that carried no tls-auth HMAC.",
       "Enable tls-auth or tls-crypt on the OpenVPN server.",
       fname="openvpn_unauth_detect.nasl"),
    _p(11494, "l2tpd Malformed Data DoS", "Denial of Service", 2, "remote",
       "The L2TP daemon can be crashed remotely.",
       "The l2tpd/xl2tpd daemon on the host is an old release that fails on malformed "
       "L2TP control messages.",
       "Upgrade xl2tpd to a current release, or filter UDP port 1701.", cvss3=5.3,
       fname="l2tpd_dos.nasl"),
    # -- the trap: an unrelated Oracle Linux advisory --------------------------------------
    _p(68453, "Oracle Linux 6 : mysql (ELSA-2012-0105)", "Oracle Linux Local Security Checks",
       2, "local", "The remote Oracle Linux host is missing a mysql security update.",
       "The host has mysql packages older than those fixed by ELSA-2012-0105.",
       "Update the affected mysql packages.", cvss3=6.5,
       cves=("CVE-2012-0075", "CVE-2012-0087", "CVE-2012-0101"),
       see_also="https://linux.oracle.com/errata/ELSA-2012-0105.html",
       fname="oraclelinux_ELSA-2012-0105.nasl"),
    # -- background ------------------------------------------------------------------------
    _p(19506, "Nessus Scan Information", "Settings", 0, "summary",
       "This plugin displays information about the Nessus scan.",
       "Settings the scan of this host ran with.",
       fname="scan_info.nasl"),
    _p(11936, "OS Identification", "General", 0, "combined",
       "It is possible to guess the remote operating system.",
       "Nessus combined several probes to identify the operating system.",
       fname="os_fingerprint.nasl"),
    _p(54615, "Device Type", "General", 0, "combined",
       "It is possible to guess the remote device type.",
       "The device type was derived from the operating system guess.", fname="device_type.nasl"),
    _p(141118, "Target Credential Status by Authentication Protocol - Valid Credentials Provided",
       "Settings", 0, "summary", "Valid credentials were provided for the remote host.",
       "Nessus logged in to the host with the credentials of the scan.",
       fname="target_credential_status.nasl"),
    _p(110723, "Target Credential Status by Authentication Protocol - No Credentials Provided",
       "Settings", 0, "summary", "No credentials were provided for the remote host.",
       "Nessus ran no local checks on this host: the scan carried no usable credentials.",
       "Add credentials for the host to the scan policy.",
       fname="no_credentials.nasl"),
    _p(20811, "Microsoft Windows Installed Software Enumeration (credentialed check)", "Windows",
       0, "local", "It is possible to list the software installed on the host.",
       "The list was read from the registry with the scan's credentials.",
       fname="smb_enum_installed_sw.nasl"),
    _p(22869, "Software Enumeration (SSH)", "General", 0, "local",
       "It is possible to list the packages installed on the host.",
       "The package list was read over SSH with the scan's credentials.",
       fname="ssh_get_info.nasl"),
    _p(11219, "Nessus SYN scanner", "Port scanners", 0, "remote", "The port is open.",
       "The SYN scanner found this TCP port open.", "Filter ports that need not be reachable.",
       fname="nessus_syn_scanner.nbin"),
    _p(22964, "Service Detection", "Service detection", 0, "remote",
       "The service could be identified.", "Nessus identified the service on this port.",
       fname="find_service.nasl"),
    _p(10267, "SSH Server Type and Version Information", "Service detection", 0, "remote",
       "An SSH server is listening.", "The SSH server banner reveals its software and version.",
       fname="ssh_detect.nasl"),
    _p(90317, "SSH Weak Algorithms Supported", "Misc.", 2, "remote",
       "The SSH server allows weak ciphers.", "The server offers Arcfour stream ciphers.",
       "Remove weak ciphers from the SSH server configuration.", cvss3=4.3,
       fname="ssh_weak_algorithms.nasl"),
    _p(187315, "SSH Terrapin Prefix Truncation Weakness (CVE-2023-48795)", "Misc.", 2, "remote",
       "The SSH server is vulnerable to a prefix truncation attack.",
       "The server supports ChaCha20-Poly1305 or CBC-EtM without strict key exchange.",
       "Upgrade the SSH server to a release with strict key exchange.", cvss3=5.9,
       cves=("CVE-2023-48795",), fname="ssh_terrapin.nbin"),
    _p(11011, "Microsoft Windows SMB Service Detection", "Windows", 0, "remote",
       "A file / print sharing service is listening.", "The host runs an SMB server.",
       fname="smb_detect.nasl"),
    _p(57608, "SMB Signing not required", "Misc.", 2, "remote",
       "Signing is not required on the SMB server.",
       "Without required signing, an attacker in the middle can tamper with SMB traffic.",
       "Require message signing in the host's policy.", cvss3=5.3,
       fname="smb_signing_disabled.nasl"),
    _p(58453, "Terminal Services Doesn't Use Network Level Authentication (NLA) Only", "Misc.",
       2, "remote", "The RDP service does not require NLA.",
       "Without NLA the logon screen is shown before the user is authenticated.",
       "Require Network Level Authentication for Remote Desktop.", cvss3=4.0,
       fname="ts_nla_only.nasl"),
    _p(64814, "Terminal Services Use SSL/TLS", "Misc.", 0, "remote",
       "The RDP service encrypts traffic with SSL/TLS.", "Remote Desktop uses SSL/TLS.",
       fname="ts_ssl.nasl"),
    _p(10863, "SSL Certificate Information", "General", 0, "remote",
       "This plugin displays the SSL certificate.", "The X.509 certificate of the service.",
       fname="ssl_certificate_info.nasl"),
    _p(56984, "SSL / TLS Versions Supported", "General", 0, "remote",
       "The service encrypts communications.", "The SSL/TLS versions the service accepts.",
       fname="ssl_supported_versions.nasl"),
    _p(104743, "TLS Version 1.0 Protocol Detection", "Service detection", 2, "remote",
       "The service accepts TLS 1.0.", "TLS 1.0 has known design weaknesses.",
       "Enable TLS 1.2 or 1.3 and disable TLS 1.0.", cvss3=6.5,
       fname="tls10_detect.nasl"),
    _p(42873, "SSL Medium Strength Cipher Suites Supported (SWEET32)", "General", 3, "remote",
       "The service supports medium strength ciphers.",
       "The service offers 64-bit block ciphers such as 3DES.",
       "Remove medium strength ciphers from the service configuration.", cvss3=7.5,
       cves=("CVE-2016-2183",), fname="ssl_medium_supported_ciphers.nasl"),
    _p(51192, "SSL Certificate Cannot Be Trusted", "General", 2, "remote",
       "The SSL certificate cannot be trusted.",
       "The certificate chain does not end in a known certificate authority.",
       "Install a certificate signed by a trusted authority.", cvss3=6.5,
       fname="ssl_certificate_chain.nasl"),
    _p(10107, "HTTP Server Type and Version", "Web Servers", 0, "remote",
       "A web server is running.", "The Server header reveals the web server software.",
       fname="http_version.nasl"),
    _p(41028, "SNMP Agent Default Community Name (public)", "SNMP", 3, "remote",
       "The SNMP community name can be guessed.",
       "The SNMP agent answers the default community name 'public'.",
       "Change the community name or disable SNMP.", cvss3=7.3, cves=("CVE-1999-0517",),
       fname="snmp_default_communities.nasl"),
    _p(10884, "Network Time Protocol (NTP) Server Detection", "Service detection", 0, "remote",
       "An NTP server is listening.", "The host answers NTP requests.", fname="ntp_open.nasl"),
    _p(10114, "ICMP Timestamp Request Remote Date Disclosure", "General", 0, "remote",
       "The remote host's date can be read.", "The host answers ICMP timestamp requests.",
       "Filter ICMP timestamp requests (13) and replies (14).", cves=("CVE-1999-0524",),
       fname="icmp_timestamp.nasl"),
    _p(97833, "MS17-010: Security Update for Microsoft Windows SMB Server (ETERNALBLUE) "
       "(ETERNALCHAMPION) (ETERNALROMANCE) (ETERNALSYNERGY) (WannaCry) (EternalRocks) (Petya)",
       "Windows", 4, "remote", "The SMB server is affected by remote code execution flaws.",
       "The host lacks the MS17-010 update for SMBv1.",
       "Apply MS17-010 and disable SMBv1.", cvss3=8.1,
       cves=("CVE-2017-0143", "CVE-2017-0144", "CVE-2017-0145"),
       fname="smb_nt_ms17-010.nasl"),
)}

ALL_PLUGIN_IDS = frozenset(PLUGINS)


@dataclass(frozen=True, order=True)
class Item:
    """One ReportItem a scan can report: a plugin on a port, with its short output."""

    port: int
    protocol: str
    pid: int
    svc: str = "general"
    output: str = ""


# --------------------------------------------------------------------------------------
# The estate
# --------------------------------------------------------------------------------------

@dataclass
class HostSpec:
    """One machine of the estate over the five weeks and the rescan window."""

    key: str
    ip: str
    kind: str                      # windows | linux | oracle6 | router | asa | firewall | ...
    os: str
    system_type: str
    hostname: str | None           # DNS host name (None: no reverse DNS)
    netbios: str | None
    macs: tuple[str, ...]
    team: str
    credentialed: bool
    present: frozenset[int] = ALL_MOMENTS             # moments the host is up
    ip_moves: tuple[tuple[int, str], ...] = ()        # (from moment, new ip)
    report_name: str | None = None                    # ReportHost@name when not the IP
    items: list[tuple[Item, frozenset[int]]] = field(default_factory=list)
    inventory: str = "ip"          # ip | fqdn | hostname | mac | two_ip | ipv6 | cidr | ambiguous | none
    criticality: str = "medium"
    environment: str = "production"
    internet_facing: bool = False
    location: str = "HQ data centre"

    def ip_at(self, moment: int) -> str:
        ip = self.ip
        for start, new_ip in self.ip_moves:
            if moment >= start:
                ip = new_ip
        return ip

    @property
    def fqdn(self) -> str | None:
        return f"{self.hostname}.{DOMAIN}" if self.hostname else None

    def add(self, item: Item, moments: frozenset[int] = ALL_MOMENTS) -> None:
        self.items.append((item, moments))

    def state(self, moment: int) -> list[Item]:
        return [item for item, when in self.items if moment in when]


def mac_for(key: str) -> str:
    """A stable, locally administered MAC address for ``key``."""
    r = random.Random(f"{SEED}:mac:{key}")
    octets = [0x02 | (r.randint(0, 63) << 2)] + [r.randint(0, 255) for _ in range(5)]
    return ":".join(f"{o:02x}" for o in octets)


def ip_key(address: str) -> tuple[int, int, str]:
    try:
        a = ipaddress.ip_address(address)
        return (a.version, int(a), "")
    except ValueError:
        return (9, 0, address)


SSH_OUT = "SSH version : SSH-2.0-OpenSSH_8.9p1\nSSH supported authentication : publickey,password\n"
TLS_OUT = "This port supports TLSv1.0/TLSv1.2.\n"
WIN_OS = {
    "2019": "Microsoft Windows Server 2019 Standard",
    "2016": "Microsoft Windows Server 2016 Datacenter",
    "2022": "Microsoft Windows Server 2022 Standard",
    "2012": "Microsoft Windows Server 2012 R2 Standard",
    "2008": "Microsoft Windows Server 2008 R2 Enterprise Service Pack 1",
}
LINUX_OS = {
    "u22": "Linux Kernel 5.15.0-122-generic on Ubuntu 22.04",
    "u20": "Linux Kernel 5.4.0-200-generic on Ubuntu 20.04",
    "rhel7": "Linux Kernel 3.10.0-1160.el7.x86_64 on Red Hat Enterprise Linux Server release 7.9 (Maipo)",
    "rhel8": "Linux Kernel 4.18.0-553.el8_10.x86_64 on Red Hat Enterprise Linux release 8.10 (Ootpa)",
    "rhel9": "Linux Kernel 5.14.0-427.el9.x86_64 on Red Hat Enterprise Linux release 9.4 (Plow)",
    "ol6": "Linux Kernel 2.6.32-754.el6.x86_64 on Oracle Linux Server release 6.10",
}
DEVICE_OS = {
    "mt6": "MikroTik RouterOS 6.49.10",
    "mt7": "MikroTik RouterOS 7.14.3",
    "ios": "Cisco IOS 15.7(3)M8",
    "iosxe": "Cisco IOS XE Software 17.9.4a",
    "asa": "Cisco Adaptive Security Appliance (ASA) 9.16(4)",
    "pfsense": "pfSense 2.7.2 (FreeBSD 14.0)",
    "opnsense": "OPNsense 24.7.9 (FreeBSD 14.1)",
    "ilo": "HP Integrated Lights-Out 5",
    "idrac": "Dell iDRAC 9",
    "switch": "Cisco IOS 15.2(7)E9",
}


def background(h: HostSpec, rng: random.Random) -> None:
    """Give ``h`` the ordinary findings of its kind (stable across the weeks)."""
    def port(p: int, svc: str, *pids: int, proto: str = "tcp", out: dict | None = None) -> None:
        if proto == "tcp":
            h.add(Item(p, "tcp", 11219, svc, f"Port {p}/tcp was found to be open\n"))
        for pid in pids:
            h.add(Item(p, proto, pid, svc, (out or {}).get(pid, "")))

    h.add(Item(0, "tcp", 11936, "general", f"Remote operating system : {h.os}\n"
                                            f"Confidence level : {rng.choice((70, 95, 99))}\n"))
    if h.system_type != "general-purpose":
        h.add(Item(0, "tcp", 54615, "general", f"Remote device type : {h.system_type}\n"))
    kind = h.kind
    if kind in ("windows", "workstation"):
        h.add(Item(0, "tcp", 20811, "general", "The following software is installed :\n  7-Zip 23.01\n"))
        port(445, "cifs", 11011, *((57608,) if rng.random() < 0.6 else ()))
        if kind == "windows" or rng.random() < 0.3:
            port(3389, "msrdp", *((58453,) if rng.random() < 0.35 else (64814,)))
        if kind == "windows" and rng.random() < 0.35:
            port(443, "www", 10107, 56984, *((104743,) if rng.random() < 0.5 else ()),
                 out={10107: "The remote web server type is :\n\nMicrosoft-IIS/10.0\n",
                      56984: TLS_OUT})
        if h.os == WIN_OS["2008"]:
            h.add(Item(445, "tcp", 97833, "cifs", ""))
    elif kind in ("linux", "oracle6"):
        h.add(Item(0, "tcp", 22869, "general", "Here is the list of packages installed :\n  openssl\n"))
        port(22, "ssh", 10267, *((187315,) if rng.random() < 0.5 else ()), out={10267: SSH_OUT})
        if rng.random() < 0.5:
            port(443, "www", 10107, 10863, *((51192,) if rng.random() < 0.4 else ()),
                 out={10107: "The remote web server type is :\n\nnginx/1.24.0\n",
                      10863: f"Common Name: {h.fqdn or h.ip}\n"})
        elif rng.random() < 0.4:
            port(8080, "www", 10107, out={10107: "The remote web server type is :\n\nApache Tomcat\n"})
    elif kind in ("router", "asa", "firewall", "switch"):
        h.add(Item(0, "icmp", 10114, "general", "The difference between the local and remote clocks is 1 second.\n"))
        port(22, "ssh", 10267, *((90317,) if rng.random() < 0.4 else ()), out={10267: SSH_OUT})
        if rng.random() < 0.5 or kind == "firewall":
            port(443, "www", 56984, *((51192,) if rng.random() < 0.6 else ()), out={56984: TLS_OUT})
        port(161, "snmp", 22964, *((41028,) if rng.random() < 0.3 else ()), proto="udp")
        if kind in ("router", "switch"):
            port(123, "ntp", 10884, proto="udp")
    elif kind == "bmc":
        port(443, "www", 10863, 51192, 42873, out={10863: f"Common Name: {h.hostname or h.ip}\n"})
        port(623, "asf-rmcp", 22964, proto="udp")


def vpn(h: HostSpec, pid: int, moments: frozenset[int] = ALL_MOMENTS) -> None:
    """Plant a campaign finding (L2TP or related) on ``h`` for ``moments``."""
    where = {11387: (1701, "udp", "l2tp"), 11494: (1701, "udp", "l2tp"),
             10622: (1723, "tcp", "pptp"), 11935: (500, "udp", "ikev1"),
             62695: (500, "udp", "ikev2"), 62694: (500, "udp", "ikev1"),
             56022: (1194, "udp", "openvpn"), 107073: (1194, "udp", "openvpn")}
    port, proto, svc = where[pid]
    output = {10622: "PPTP server version : 1.0\nVendor : Microsoft\n",
              11935: "IKE version : 1.0\nEncryption : AES-CBC-256\n",
              62695: "IKE version : 2.0\nEncryption : AES-GCM-256\n",
              62694: "The server accepted an Aggressive Mode proposal with a pre-shared key.\n",
              56022: "An OpenVPN server answered a P_CONTROL_HARD_RESET_CLIENT_V2 packet.\n",
              107073: "The server answered without a tls-auth HMAC.\n"}.get(pid, "")
    h.add(Item(port, proto, pid, svc, output), moments)


TEAMS = {
    # team: (business unit, owner, email)
    "Server Platform": ("Corporate IT", "Priya Natarajan", "priya.natarajan"),
    "Network Engineering": ("Corporate IT", "Tomasz Wójcik", "tomasz.wojcik"),
    "Workplace Services": ("Corporate IT", "Aisha Bello", "aisha.bello"),
    "Branch IT": ("Operations", "Lars Eriksen", "lars.eriksen"),
    "Warehouse Systems": ("Operations", "Mei Lin", "mei.lin"),
    "Finance Applications": ("Finance", "Daniel Okafor", "daniel.okafor"),
    "Web Platform": ("Digital", "Sofia Marquez", "sofia.marquez"),
    "Engineering Lab": ("Digital", "Ewan MacLeod", "ewan.macleod"),
}


def weeks(*indexes: int) -> frozenset[int]:
    return frozenset(indexes)


def build_estate() -> list[HostSpec]:
    """The ~240 hosts, with the L2TP story planted on named hosts."""
    hosts: list[HostSpec] = []

    def new(key: str, ip: str, kind: str, os_name: str, system_type: str, hostname: str | None,
            team: str, *, netbios: str | None = None, credentialed: bool = True, **kw) -> HostSpec:
        h = HostSpec(key=key, ip=ip, kind=kind, os=os_name, system_type=system_type,
                     hostname=hostname, netbios=netbios, macs=(mac_for(key),), team=team,
                     credentialed=credentialed, **kw)
        background(h, random.Random(f"{SEED}:bg:{key}"))
        hosts.append(h)
        return h

    # Windows servers, 10.10.1.0/24 -----------------------------------------------------
    roles = ["dc", "dc", "fs", "fs", "print", "wsus", "sccm", "rds", "rds", "sql", "sql", "sql",
             "iis", "iis", "erp-app", "erp-app", "bi", "hr-app", "ca", "adfs", "exch", "exch",
             "backup", "av-mgmt", "ts-gw", "app", "app", "app", "app", "app", "app", "app",
             "app", "app", "crm", "crm"]
    count: dict[str, int] = {}
    r = random.Random(f"{SEED}:win")
    for i, role in enumerate(roles):
        count[role] = count.get(role, 0) + 1
        name = f"{role}{count[role]:02d}"
        last = 30 + i
        ver = r.choice(("2019", "2019", "2016", "2022", "2012"))
        if name == "backup01":
            ver = "2008"
        team = "Finance Applications" if role in ("erp-app", "bi", "crm") else "Server Platform"
        crit = "critical" if role in ("dc", "adfs", "ca", "exch") else r.choice(("high", "medium", "medium", "low"))
        kw = {"present": weeks(0, 1)} if name in ("app07", "crm02") else {}
        new(name, f"10.10.1.{last}", "windows", WIN_OS[ver], "general-purpose", name, team,
            netbios=name.upper(), criticality=crit, **kw)
    # the RRAS servers (L2TP over IPsec on Windows)
    h = new("rras01", "10.10.1.21", "windows", WIN_OS["2019"], "general-purpose", "rras01",
            "Network Engineering", netbios="RRAS01", criticality="high", internet_facing=True)
    vpn(h, L2TP); vpn(h, 10622)
    h = new("rras02", "10.10.1.22", "windows", WIN_OS["2016"], "general-purpose", "rras02",
            "Network Engineering", netbios="RRAS02", criticality="high")
    vpn(h, L2TP, weeks(0, 1, 2))                                         # fixed in W47
    h = new("rras03", "10.10.1.24", "windows", WIN_OS["2022"], "general-purpose", "rras03",
            "Network Engineering", netbios="RRAS03", criticality="high", inventory="two_ip")
    h.macs = (mac_for("rras03"), mac_for("rras03-b"))
    vpn(h, L2TP)

    # Linux servers, 10.10.2.0/24 --------------------------------------------------------
    r = random.Random(f"{SEED}:lnx")
    lroles = ["web", "web", "web", "api", "api", "api", "db", "db", "kafka", "kafka", "build",
              "build", "git", "mon", "mon", "log", "log", "k8s-node", "k8s-node", "k8s-node",
              "k8s-node", "k8s-node", "k8s-node", "cache", "cache", "mq", "sftp", "proxy",
              "ldap", "dns", "dns", "vault"]
    count = {}
    for i, role in enumerate(lroles):
        count[role] = count.get(role, 0) + 1
        name = f"{role}{count[role]:02d}"
        last = 10 + i if 10 + i < 40 else 50 + i
        ver = r.choice(("u22", "u22", "u20", "rhel8", "rhel9"))
        team = "Warehouse Systems" if role in ("kafka", "mq", "sftp") else "Server Platform"
        kw: dict = {}
        if name in ("k8s-node05", "k8s-node06"):
            kw["present"] = weeks(3, 4, RESCAN)                        # built in W47
        if name in ("git01", "vault01", "ldap01"):
            kw["inventory"] = "fqdn"
        new(name, f"10.10.2.{last}", "linux", LINUX_OS[ver], "general-purpose", name, team,
            criticality=r.choice(("high", "medium", "medium", "low")), **kw)
    h = new("vpn-lab01", "10.10.2.40", "linux", LINUX_OS["u20"], "general-purpose", "vpn-lab01",
            "Engineering Lab", environment="lab", criticality="low")
    vpn(h, L2TP, weeks(0, 1, 4, RESCAN))                   # fixed W46, resurfaces W48
    h = new("l2tp-legacy01", "10.10.2.41", "linux", LINUX_OS["rhel7"], "general-purpose",
            "l2tp-legacy01", "Warehouse Systems", criticality="medium")
    vpn(h, L2TP, WEEKLY_ONLY); vpn(h, 11494, WEEKLY_ONLY)  # removed before the rescan

    # Windows Server 2022 / new builds, 10.10.3.0/24 ------------------------------------
    r = random.Random(f"{SEED}:w22")
    for i in range(20):
        name = f"srv22-{i + 1:02d}"
        last = 20 + i
        new(name, f"10.10.3.{last}", "windows", WIN_OS[r.choice(("2022", "2022", "2019"))],
            "general-purpose", name, r.choice(("Server Platform", "Finance Applications")),
            netbios=name.upper().replace("-", ""), criticality=r.choice(("high", "medium", "low")))
    h = new("rras-dr01", "10.10.3.15", "windows", WIN_OS["2022"], "general-purpose", "rras-dr01",
            "Network Engineering", netbios="RRAS-DR01", criticality="high", location="DR data centre")
    vpn(h, L2TP, frozenset({1, 2, 3, 4, RESCAN}))          # new in W45
    h = new("srv22-rdg", "10.10.3.16", "windows", WIN_OS["2022"], "general-purpose", "srv22-rdg",
            "Server Platform", netbios="SRV22-RDG", criticality="medium")
    vpn(h, L2TP, frozenset({RESCAN}))                      # RRAS enabled after the W48 weekly
    h = new("srv22-new", "10.10.3.17", "windows", WIN_OS["2022"], "general-purpose", "srv22-new",
            "Server Platform", netbios="SRV22-NEW", criticality="medium",
            present=frozenset({RESCAN}))                   # built after the W48 weekly
    vpn(h, L2TP)

    # Linux application servers, 10.10.4.0/24 --------------------------------------------
    r = random.Random(f"{SEED}:app")
    for i in range(20):
        name = f"lnx-app{i + 1:02d}"
        last = 10 + i
        new(name, f"10.10.4.{last}", "linux", LINUX_OS[r.choice(("rhel8", "rhel9", "u22"))],
            "general-purpose", name, r.choice(("Warehouse Systems", "Finance Applications", "Server Platform")),
            criticality=r.choice(("high", "medium", "low")))
    h = new("lnx-vpn-test", "10.10.4.31", "linux", LINUX_OS["rhel8"], "general-purpose",
            "lnx-vpn-test", "Engineering Lab", environment="lab", criticality="low")
    vpn(h, L2TP, weeks(0))                                 # fixed in W45
    h = new("app-batch", "10.10.4.50", "linux", LINUX_OS["rhel8"], "general-purpose", None,
            "Warehouse Systems", credentialed=False, inventory="ambiguous")
    vpn(h, L2TP)

    # vpn1, scanned by name ------------------------------------------------------------
    h = new("vpn1", "10.10.5.10", "firewall", DEVICE_OS["opnsense"], "firewall", "vpn1",
            "Network Engineering", credentialed=False, report_name=f"vpn1.{DOMAIN}",
            inventory="fqdn", criticality="critical", internet_facing=True)
    vpn(h, L2TP); vpn(h, 56022); vpn(h, 107073)

    # Oracle Linux 6 (the 68453 trap), 10.10.6.0/24 --------------------------------------
    for i in range(6):
        name = f"ol6-db{i + 1:02d}"
        h = new(name, f"10.10.6.{10 + i}", "oracle6", LINUX_OS["ol6"], "general-purpose", name,
                "Finance Applications", criticality="high")
        when = frozenset(range(5)) if name == "ol6-db03" else ALL_MOMENTS   # db03 patched before rescan
        h.add(Item(0, "tcp", ELSA, "general", "Remote package installed : mysql-5.1.52-1.el6_0.1\n"
                                               "Should be : mysql-5.1.61-1.el6_2.1\n"), when)

    # Branches: router .1 and file server .10 in 10.20.N.0/24 ----------------------------
    r = random.Random(f"{SEED}:branch")
    for n in range(1, 15):
        site = f"Branch {n:02d}"
        rname = f"br{n:02d}-rtr"
        os_key = {7: "mt6", 9: "mt7", 12: "mt6", 8: "ios", 11: "iosxe"}.get(n, r.choice(("ios", "iosxe", "mt7")))
        kw = {}
        if n == 7:
            kw = {"inventory": "mac"}
        if n == 12:
            kw = {"inventory": "none"}
        if n == 11:
            kw = {"present": frozenset({3, 4, RESCAN})}        # branch opened in W47
        if n == 9:
            kw = {"present": frozenset({0, 1, 2, 4, RESCAN})}  # offline during the W47 scan
        hostname = None if n in (7, 12) else rname
        h = new(rname, f"10.20.{n}.1", "router", DEVICE_OS[os_key], "router", hostname,
                "Branch IT", credentialed=False, internet_facing=True, location=site,
                criticality="high", **kw)
        if n == 7:
            vpn(h, L2TP); vpn(h, 10622)
        elif n == 8:
            vpn(h, L2TP, WEEKLY_ONLY); vpn(h, 11935)
        elif n == 9:
            vpn(h, L2TP)
        elif n == 11:
            vpn(h, L2TP, frozenset({3, 4}))
        elif n == 12:
            vpn(h, L2TP)
        elif n == 3:
            vpn(h, 11935); vpn(h, 62695)                    # IPsec only, no L2TP
        fs = f"br{n:02d}-fs01"
        new(fs, f"10.20.{n}.10", "windows", WIN_OS[r.choice(("2016", "2019", "2012"))],
            "general-purpose", fs, "Branch IT", netbios=fs.upper(), location=site,
            criticality="medium", present=kw.get("present", ALL_MOMENTS))

    # Workstations on DHCP, 10.40.12.0/24 -------------------------------------------------
    r = random.Random(f"{SEED}:ws")
    for i in range(46):
        name = f"ws-{100 + i:04d}"
        last = 10 + i if i < 47 else 60 + i
        absent = {w for w in range(5) if random.Random(f"{SEED}:churn:{name}:{w}").random() < 0.09}
        new(name, f"10.40.12.{last}", "workstation",
            r.choice(("Microsoft Windows 11 Enterprise", "Microsoft Windows 10 Enterprise")),
            "general-purpose", name, "Workplace Services", netbios=name.upper(),
            inventory="hostname", criticality="low", present=WEEKLY_ONLY - absent,
            location="HQ office")
    h = new("eng-ws-114", "10.40.12.57", "linux", LINUX_OS["u22"], "general-purpose", "eng-ws-114",
            "Engineering Lab", inventory="hostname", criticality="low", environment="lab",
            ip_moves=((3, "10.40.12.131"),), location="HQ office")
    vpn(h, L2TP)
    new("unknown-ws", "10.40.12.200", "workstation", "Microsoft Windows 10 Enterprise",
        "general-purpose", None, "Workplace Services", credentialed=False, inventory="none")

    # DMZ 172.16.50.0/24 -----------------------------------------------------------------
    h = new("dmz-asa01", "172.16.50.1", "asa", DEVICE_OS["asa"], "firewall", "dmz-asa01",
            "Network Engineering", credentialed=False, internet_facing=True, criticality="critical")
    vpn(h, L2TP); vpn(h, 11935); vpn(h, 62695)
    vpn(h, 62694, WEEKLY_ONLY)                              # aggressive mode turned off
    h = new("dmz-ovpn01", "172.16.50.2", "linux", LINUX_OS["u22"], "general-purpose", "dmz-ovpn01",
            "Network Engineering", internet_facing=True, criticality="high")
    vpn(h, 56022); vpn(h, 107073)
    h = new("dmz-fw02", "172.16.50.10", "firewall", DEVICE_OS["pfsense"], "firewall", "dmz-fw02",
            "Network Engineering", credentialed=False, inventory="cidr", internet_facing=True,
            criticality="high")
    vpn(h, L2TP); vpn(h, 56022)
    dmz = ["www01", "www02", "www03", "www04", "api-gw01", "api-gw02", "smtp-relay01",
           "smtp-relay02", "rproxy01", "rproxy02", "sftp-ext01", "portal01", "status01", "edi01"]
    for i, name in enumerate(dmz):
        new(f"dmz-{name}", f"172.16.50.{20 + i}", "linux", LINUX_OS["u22" if i % 3 else "rhel9"],
            "general-purpose", f"dmz-{name}", "Web Platform", internet_facing=True,
            criticality="high" if i < 6 else "medium")

    # Management 192.168.100.0/24 ----------------------------------------------------------
    for i, (name, os_key, kind) in enumerate((("core-sw01", "switch", "switch"),
                                              ("core-sw02", "switch", "switch"))):
        new(name, f"192.168.100.{2 + i}", kind, DEVICE_OS[os_key], "switch", name,
            "Network Engineering", credentialed=False, criticality="critical")
    h = new("mgmt-vpn01", "192.168.100.5", "firewall", DEVICE_OS["opnsense"], "firewall",
            "mgmt-vpn01", "Network Engineering", credentialed=False, criticality="high",
            present=frozenset({4, RESCAN}))                     # installed in W48
    vpn(h, L2TP)
    for i in range(8):
        name = f"bmc-{i + 1:02d}"
        new(name, f"192.168.100.{11 + i}", "bmc", DEVICE_OS["ilo" if i % 2 else "idrac"],
            "embedded", name, "Server Platform", credentialed=False, criticality="medium")
    new("mgmt-unknown", "192.168.100.77", "bmc", DEVICE_OS["idrac"], "embedded", None,
        "Server Platform", credentialed=False, inventory="none")

    # IPv6-only lab gateway ----------------------------------------------------------------
    h = new("v6-gw01", "2001:db8:0:10::25", "linux", LINUX_OS["u22"], "general-purpose", "v6-gw01",
            "Engineering Lab", inventory="ipv6", environment="lab", criticality="medium")
    vpn(h, L2TP)

    keys = [h.key for h in hosts]
    assert len(keys) == len(set(keys)), "host keys must be unique"
    for moment in ALL_MOMENTS:
        ips = [h.ip_at(moment) for h in hosts if moment in h.present]
        assert len(ips) == len(set(ips)), f"two hosts share an address at moment {moment}"
    assert "10.40.12.57" not in {h.ip_at(m) for h in hosts for m in range(3, 6) if m in h.present}
    return sorted(hosts, key=lambda h: ip_key(h.ip))


# --------------------------------------------------------------------------------------
# Policies and scans
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicySpec:
    name: str
    plugin_ids: frozenset[int]
    port_range: str
    targets: str
    max_hosts: int = 30


FAMILIES = sorted({p.family for p in PLUGINS.values()} | {"Backdoors", "CGI abuses", "DNS", "FTP",
                                                          "Gain a shell remotely", "RPC"})
WEEKLY_TARGETS = ("10.10.0.0/16,10.20.0.0/16,10.40.12.0/24,172.16.50.0/24,192.168.100.0/24,"
                  f"2001:db8:0:10::/64,vpn1.{DOMAIN}")
WEEKLY_POLICY = PolicySpec("Kestrel - Weekly internal full (VPN exposure)", ALL_PLUGIN_IDS,
                           "default", WEEKLY_TARGETS)
DMZ_POLICY = PolicySpec("Kestrel - DMZ external quick (TCP/UDP 1-1024)",
                        ALL_PLUGIN_IDS - {L2TP, 11494}, "1-1024", "172.16.50.0/24", max_hosts=10)
RESCAN_A_POLICY = PolicySpec("Kestrel - VPN exposure verification", ALL_PLUGIN_IDS,
                             "T:1-65535,U:53,123,161,500,623,1194,1701,4500", "", max_hosts=10)
# Rescan C was run from a template nobody recorded (the export carries no <Policy>); it
# happened not to include the L2TP checks, which the file cannot tell.
RESCAN_C_EFFECTIVE = PolicySpec("Basic Network Scan", ALL_PLUGIN_IDS - {L2TP, 11494}, "default", "")
RESCAN_B_POLICY = PolicySpec("Kestrel - Branch and DMZ quick verification",
                             ALL_PLUGIN_IDS - {L2TP}, "1-1024", "", max_hosts=10)


@dataclass(frozen=True)
class ScanSpec:
    file: str
    week: str
    kind: str                        # weekly | dmz | rescan
    report_name: str
    policy: PolicySpec | None        # as written in the file (None: no <Policy> element)
    effective: PolicySpec            # what actually ran
    moment: int
    start: str                       # 'YYYY-MM-DD HH:MM' UTC
    host_keys: tuple[str, ...]
    uncredentialed: frozenset[str] = frozenset()


def scans_for(estate: list[HostSpec]) -> list[ScanSpec]:
    by_key = {h.key: h for h in estate}
    starts = ("2026-10-26 01:00", "2026-11-03 01:00", "2026-11-09 01:00", "2026-11-17 01:00",
              "2026-11-23 01:00")
    out: list[ScanSpec] = []
    for i, week in enumerate(WEEKS):
        keys = tuple(h.key for h in estate if i in h.present)
        out.append(ScanSpec(f"{week}-weekly.nessus", week, "weekly", f"Weekly full scan {week}",
                            WEEKLY_POLICY, WEEKLY_POLICY, i, starts[i], keys))
        if i == 2:
            dmz = tuple(h.key for h in estate if h.ip.startswith("172.16.50.") and i in h.present)
            out.append(ScanSpec(f"{week}-dmz.nessus", week, "dmz", f"DMZ external quick {week}",
                                DMZ_POLICY, DMZ_POLICY, i, "2026-11-11 22:00", dmz,
                                uncredentialed=frozenset(dmz)))
    rescan_a = ("vpn-lab01", "l2tp-legacy01", "br08-rtr", "v6-gw01", "rras-dr01", "br11-rtr",
                "rras03", "srv22-rdg", "srv22-new", "ol6-db01", "ol6-db03")
    rescan_b = ("br07-rtr", "dmz-asa01", "br12-rtr", "ol6-db02")
    rescan_c = ("dmz-fw02", "eng-ws-114")

    def ordered(keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(keys, key=lambda k: ip_key(by_key[k].ip_at(RESCAN))))

    w48 = "2026-W48"
    out.append(ScanSpec(f"{w48}-rescan-a.nessus", w48, "rescan", "VPN exposure rescan A",
                        replace_targets(RESCAN_A_POLICY, [by_key[k] for k in ordered(rescan_a)]),
                        RESCAN_A_POLICY, RESCAN, "2026-11-25 01:00", ordered(rescan_a)))
    out.append(ScanSpec(f"{w48}-rescan-b.nessus", w48, "rescan", "Branch and DMZ quick rescan B",
                        replace_targets(RESCAN_B_POLICY, [by_key[k] for k in ordered(rescan_b)]),
                        RESCAN_B_POLICY, RESCAN, "2026-11-25 13:30", ordered(rescan_b),
                        uncredentialed=frozenset({"ol6-db02"})))
    out.append(ScanSpec(f"{w48}-rescan-c.nessus", w48, "rescan", "Ad-hoc rescan C (exported without policy)",
                        None, RESCAN_C_EFFECTIVE, RESCAN, "2026-11-26 09:15", ordered(rescan_c)))
    for spec in out:
        for k in spec.host_keys:
            assert spec.moment in by_key[k].present, (spec.file, k)
    return out


def replace_targets(policy: PolicySpec, hosts: list[HostSpec]) -> PolicySpec:
    targets = ",".join(h.report_name or h.ip_at(RESCAN) for h in hosts)
    return PolicySpec(policy.name, policy.plugin_ids, policy.port_range, targets, policy.max_hosts)


def port_in_range(spec: str, port: int, protocol: str) -> bool:
    """Whether a Nessus ``port_range`` value includes ``port``/``protocol`` (port 0: always)."""
    if port == 0 or spec.strip().lower() in ("default", "all", ""):
        return True
    scope = None
    for token in spec.lower().split(","):
        token = token.strip()
        if token[:2] in ("t:", "u:"):
            scope, token = ("tcp" if token[0] == "t" else "udp"), token[2:]
        lo, _, hi = token.partition("-")
        if scope in (None, protocol) and int(lo) <= port <= int(hi or lo):
            return True
    return False


def could_see(policy: PolicySpec | None, credentialed: bool, item: Item) -> tuple[str, str]:
    """(coverage, reason) a scan with the written ``policy`` gives ``item`` on a scanned host."""
    if policy is None:
        return "unknown", REASON_NO_POLICY
    if item.pid not in policy.plugin_ids:
        return "not_covered", REASON_PLUGIN_DISABLED
    if not port_in_range(policy.port_range, item.port, item.protocol):
        return "not_covered", REASON_PORT_EXCLUDED
    if PLUGINS[item.pid].plugin_type == "local" and not credentialed:
        return "not_covered", REASON_NO_CREDENTIALS
    return "covered", ""


@dataclass(frozen=True)
class ScannedHost:
    """A host as one scan saw it: the address it had and the items the scan reported."""

    spec: HostSpec
    address: str
    name: str
    credentialed: bool
    items: tuple[Item, ...]
    start: int
    end: int


def run_scan(scan: ScanSpec, estate: list[HostSpec]) -> list[ScannedHost]:
    """What ``scan`` reports: every host's state at the scan's moment, filtered by what its
    policy could see (plugin enabled, port in range, credentials for local checks)."""
    by_key = {h.key: h for h in estate}
    rng = random.Random(f"{SEED}:scan:{scan.file}")
    t = utc(scan.start)
    out = []
    for key in scan.host_keys:
        h = by_key[key]
        cred = h.credentialed and key not in scan.uncredentialed
        start = t + rng.randint(2, 25)
        t = start + rng.randint(8, 30)
        end = start + rng.randint(90, 720)
        items = [Item(0, "tcp", 19506, "general", "")]
        items.append(Item(0, "tcp", 141118 if cred else 110723, "general", ""))
        for item in h.state(scan.moment):
            if item.pid in scan.effective.plugin_ids and \
                    port_in_range(scan.effective.port_range, item.port, item.protocol) and \
                    (PLUGINS[item.pid].plugin_type != "local" or cred):
                items.append(item)
        keys = [(i.port, i.protocol, i.pid) for i in items]
        assert len(keys) == len(set(keys)), (scan.file, key, keys)
        ip = h.ip_at(scan.moment)
        out.append(ScannedHost(h, str(ipaddress.ip_address(ip)), h.report_name or ip, cred,
                               tuple(sorted(items)), start, end))
    return out


# --------------------------------------------------------------------------------------
# Writing .nessus
# --------------------------------------------------------------------------------------

def _pref(name: str, value: str) -> str:
    return f"<preference><name>{escape(name)}</name><value>{escape(value)}</value></preference>\n"


def policy_xml(p: PolicySpec, scan: ScanSpec) -> str:
    prefs = [
        ("max_hosts", str(p.max_hosts)), ("max_checks", "4"), ("port_range", p.port_range),
        ("safe_checks", "yes"), ("unscanned_closed", "no"), ("TARGET", p.targets),
        ("whoami", "svc-nessus"), ("scan_name", scan.report_name),
        ("scan_start_timestamp", str(utc(scan.start))),
        ("plugin_set", ";".join(str(i) for i in sorted(p.plugin_ids))),
    ]
    parts = ["<Policy>\n", f"<policyName>{escape(p.name)}</policyName>\n",
             "<Preferences>\n<ServerPreferences>\n", *(_pref(k, v) for k, v in prefs),
             "</ServerPreferences>\n<PluginsPreferences>\n",
             "<item><pluginName>Nessus SYN scanner</pluginName><pluginId>11219</pluginId>"
             "<fullName>Nessus SYN scanner[radio]:Firewall detection :</fullName>"
             "<preferenceName>Firewall detection :</preferenceName><preferenceType>radio</preferenceType>"
             "<preferenceValues>Automatic (normal)</preferenceValues>"
             "<selectedValue>Automatic (normal)</selectedValue></item>\n",
             "</PluginsPreferences>\n</Preferences>\n<FamilySelection>\n"]
    mixed = []
    for fam in FAMILIES:
        ids = {pid for pid, pl in PLUGINS.items() if pl.family == fam}
        on = ids & p.plugin_ids
        status = "enabled" if on == ids else ("disabled" if not on else "mixed")
        if status == "mixed":
            mixed.append(fam)
        parts.append(f"<FamilyItem><FamilyName>{escape(fam)}</FamilyName><Status>{status}</Status></FamilyItem>\n")
    parts.append("</FamilySelection>\n<IndividualPluginSelection>\n")
    for pid in sorted(pid for pid, pl in PLUGINS.items() if pl.family in mixed):
        pl = PLUGINS[pid]
        status = "enabled" if pid in p.plugin_ids else "disabled"
        parts.append(f"<PluginItem><PluginId>{pid}</PluginId><PluginName>{escape(pl.name)}</PluginName>"
                     f"<Family>{escape(pl.family)}</Family><Status>{status}</Status></PluginItem>\n")
    parts.append("</IndividualPluginSelection>\n</Policy>\n")
    return "".join(parts)


def scan_info(scan: ScanSpec, host: ScannedHost) -> str:
    cred = "yes, as 'CORP\\svc-nessus' via SMB" if host.credentialed and host.spec.kind in (
        "windows", "workstation") else ("yes, as 'svc-nessus' via ssh" if host.credentialed else "no")
    policy = scan.policy.name if scan.policy else "Custom scan"
    started = datetime.fromtimestamp(utc(scan.start), tz=timezone.utc)
    return (f"Nessus version : 10.8.3\nPlugin feed version : {started:%Y%m%d}0412\n"
            f"Scan policy used : {policy}\nScanner IP : 10.10.0.5\n"
            f"Port range : {scan.effective.port_range}\nCredentialed checks : {cred}\n"
            f"Scan Start Date : {started:%Y/%m/%d} {started.hour}:{started:%M} UTC\n"
            f"Scan duration : {host.end - host.start} sec\n")


def item_xml(item: Item, output: str) -> str:
    p = PLUGINS[item.pid]
    parts = [f'<ReportItem port="{item.port}" svc_name={quoteattr(item.svc)} protocol="{item.protocol}" '
             f'severity="{p.severity}" pluginID="{p.pid}" pluginName={quoteattr(p.name)} '
             f'pluginFamily={quoteattr(p.family)}>\n',
             f"<description>{escape(p.description)}</description>\n",
             f"<fname>{escape(p.fname or f'plugin_{p.pid}.nasl')}</fname>\n",
             f"<plugin_name>{escape(p.name)}</plugin_name>\n",
             f"<plugin_type>{p.plugin_type}</plugin_type>\n",
             f"<risk_factor>{p.risk}</risk_factor>\n",
             f"<solution>{escape(p.solution)}</solution>\n",
             f"<synopsis>{escape(p.synopsis)}</synopsis>\n"]
    if p.cvss3 is not None:
        parts.append(f"<cvss3_base_score>{p.cvss3}</cvss3_base_score>\n")
    for cve in p.cves:
        parts.append(f"<cve>{cve}</cve>\n")
    if p.see_also:
        parts.append(f"<see_also>{escape(p.see_also)}</see_also>\n")
    if output:
        parts.append(f"<plugin_output>{escape(output)}</plugin_output>\n")
    parts.append("</ReportItem>\n")
    return "".join(parts)


def host_xml(scan: ScanSpec, host: ScannedHost) -> str:
    h = host.spec
    tags: list[tuple[str, str]] = [("HOST_END", ctime(host.end)), ("HOST_END_TIMESTAMP", str(host.end))]
    if scan.policy is not None:
        tags.append(("policy-used", scan.policy.name))
    tags.append(("os", {"windows": "windows", "workstation": "windows", "linux": "linux",
                        "oracle6": "linux"}.get(h.kind, "other")))
    tags.append(("operating-system", h.os))
    tags.append(("system-type", h.system_type))
    tags.append(("mac-address", "\n".join(h.macs)))
    if host.credentialed:
        tags.append(("local-checks-proto", "smb" if h.kind in ("windows", "workstation") else "ssh"))
    tags.append(("Credentialed_Scan", "true" if host.credentialed else "false"))
    if h.netbios:
        tags.append(("netbios-name", h.netbios))
    if h.hostname:
        tags.append(("hostname", h.hostname))
        tags.append(("host-fqdn", h.fqdn or ""))
    tags.append(("host-ip", host.address))
    tags.append(("HOST_START_TIMESTAMP", str(host.start)))
    tags.append(("HOST_START", ctime(host.start)))
    parts = [f"<ReportHost name={quoteattr(host.name)}><HostProperties>\n"]
    parts.extend(f"<tag name={quoteattr(k)}>{escape(v)}</tag>\n" for k, v in tags)
    parts.append("</HostProperties>\n")
    for item in host.items:
        output = scan_info(scan, host) if item.pid == 19506 else item.output
        parts.append(item_xml(item, output))
    parts.append("</ReportHost>\n")
    return "".join(parts)


def nessus_bytes(scan: ScanSpec, hosts: list[ScannedHost]) -> bytes:
    parts = ['<?xml version="1.0" ?>\n<NessusClientData_v2>\n']
    if scan.policy is not None:
        parts.append(policy_xml(scan.policy, scan))
    parts.append(f'<Report name={quoteattr(scan.report_name)} xmlns:cm="http://www.nessus.org/cm">\n')
    parts.extend(host_xml(scan, h) for h in hosts)
    parts.append("</Report>\n</NessusClientData_v2>\n")
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------------------

INVENTORY_COLUMNS = ("Asset ID", "Hostname", "FQDN", "IP Address", "MAC Address", "Owner",
                     "Owner Email", "Team", "Business Unit", "Environment", "Criticality",
                     "Internet Facing", "OS", "Location")


@dataclass(frozen=True)
class Asset:
    asset_id: str
    hostname: str = ""
    fqdn: str = ""
    ip: str = ""
    mac: str = ""
    team: str = "Server Platform"
    environment: str = "production"
    criticality: str = "medium"
    internet_facing: bool = False
    os: str = ""
    location: str = ""

    def row(self) -> tuple[str, ...]:
        bu, owner, mail = TEAMS[self.team]
        return (self.asset_id, self.hostname, self.fqdn, self.ip, self.mac, owner,
                f"{mail}@{DOMAIN}", self.team, bu, self.environment, self.criticality,
                "yes" if self.internet_facing else "no", self.os, self.location)


def short_os(os_name: str) -> str:
    for prefix, short in (("Microsoft Windows Server", "Windows Server"), ("Microsoft ", ""),
                          ("Linux Kernel", "Linux")):
        if os_name.startswith(prefix):
            rest = os_name[len(prefix):]
            if short == "Linux":
                return rest.split(" on ", 1)[-1]
            return (short + rest).strip()
    return os_name


def build_inventory(estate: list[HostSpec]) -> list[Asset]:
    """One asset row per host the CMDB knows, in the way its record identifies the host."""
    assets: list[Asset] = []
    n = 0
    for h in sorted(estate, key=lambda h: (h.team, h.key)):
        if h.inventory in ("none", "cidr"):
            continue
        n += 1
        base = dict(team=h.team, environment=h.environment, criticality=h.criticality,
                    internet_facing=h.internet_facing, os=short_os(h.os), location=h.location)
        aid = f"AST-{1000 + n * 7}"
        mac = h.macs[0].upper()
        if h.inventory == "ip":
            assets.append(Asset(aid, hostname=h.netbios or h.hostname or "", fqdn=h.fqdn or "",
                                ip=h.ip, mac=mac if n % 3 == 0 else "", **base))
        elif h.inventory == "two_ip":
            assets.append(Asset(aid, hostname=h.netbios or "", fqdn=h.fqdn or "",
                                ip="10.10.1.23; 10.10.1.24", mac=mac, **base))
        elif h.inventory == "ipv6":
            full = ipaddress.ip_address(h.ip).exploded.upper()     # written out in full
            assets.append(Asset(aid, hostname=h.hostname or "", ip=full, **base))
        elif h.inventory == "fqdn":
            assets.append(Asset(aid, hostname=(h.hostname or "").upper(), fqdn=h.fqdn or "", **base))
        elif h.inventory == "hostname":
            assets.append(Asset(aid, hostname=(h.netbios or h.hostname or ""), mac=mac, **base))
        elif h.inventory == "mac":
            assets.append(Asset(aid, hostname=f"BRANCH{h.key[2:4]}-MTK", mac=mac.replace(":", "-"), **base))
        elif h.inventory == "ambiguous":
            assets.append(Asset(aid, hostname="batch-prod01", ip=h.ip, **base))
            assets.append(Asset(f"AST-{1000 + n * 7 + 3}", hostname="batch-old", ip=h.ip,
                                **{**base, "environment": "decommissioned", "criticality": "low"}))
        else:
            raise ValueError(h.inventory)
    assets.append(Asset("NET-DMZ", ip="172.16.50.0/24", team="Network Engineering",
                        criticality="high", internet_facing=True, os="(network segment)",
                        location="HQ data centre"))
    # records of machines that no scan ever saw (decommissioned, spare, in storage)
    assets.append(Asset("AST-0901", hostname="FS-OLD01", fqdn=f"fs-old01.{DOMAIN}", ip="10.10.9.11",
                        environment="decommissioned", criticality="low", os="Windows Server 2008 R2"))
    assets.append(Asset("AST-0902", hostname="spare-rtr-03", mac="02-A0-00-00-03-01",
                        team="Branch IT", criticality="low", os="MikroTik RouterOS 7",
                        location="Branch 03 store room"))
    assets.append(Asset("AST-0903", hostname="WS-0999", team="Workplace Services", criticality="low",
                        os="Windows 11 Enterprise", location="HQ office"))
    assets.append(Asset("AST-0904", hostname="lab-vpn-old", ip="10.10.9.40", team="Engineering Lab",
                        environment="lab", criticality="low", os="Ubuntu 18.04"))
    ids = [a.asset_id for a in assets]
    assert len(ids) == len(set(ids))
    return sorted(assets, key=lambda a: a.asset_id)


def _asset_ips(a: Asset) -> list[str]:
    out = []
    for part in a.ip.replace(",", ";").split(";"):
        part = part.strip()
        if part and "/" not in part:
            out.append(str(ipaddress.ip_address(part)))
    return out


def match_host(host: ScannedHost, assets: list[Asset]) -> dict:
    """Which asset owns ``host``: the first method that matches decides (ip, fqdn, hostname,
    mac, cidr); two assets matching by that method make the host ambiguous."""
    h = host.spec
    names = {n.lower() for n in (h.hostname, h.netbios) if n}
    fqdns = {f.lower() for f in (h.fqdn, h.report_name) if f}
    macs = {m.lower() for m in h.macs}
    addr = ipaddress.ip_address(host.address)
    tests = (
        ("ip", lambda a: host.address in _asset_ips(a)),
        ("fqdn", lambda a: bool(a.fqdn) and a.fqdn.lower() in fqdns),
        ("hostname", lambda a: bool(a.hostname) and a.hostname.lower() in names),
        ("mac", lambda a: bool(a.mac) and a.mac.lower().replace("-", ":") in macs),
        ("cidr", lambda a: "/" in a.ip and addr in ipaddress.ip_network(a.ip)),
    )
    for method, test in tests:
        found = sorted(a.asset_id for a in assets if test(a))
        if len(found) == 1:
            return {"asset_id": found[0], "method": method, "candidates": found}
        if len(found) > 1:
            return {"asset_id": None, "method": "ambiguous", "candidates": found}
    return {"asset_id": None, "method": "unmatched", "candidates": []}


def pin_modified_time(path: Path) -> None:
    """Set the workbook's ``dcterms:modified`` to the fixed time.

    openpyxl stamps the save time into ``docProps/core.xml`` whatever the workbook says, so
    without this the .xlsx would change on every run.
    """
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    tmp = path.with_name(path.name + ".pin")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp + rb"\g<2>", data)
            z.writestr(name, data)
    tmp.replace(path)
    normalize_zip(path)


def inventory_csv(assets: list[Asset]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(INVENTORY_COLUMNS)
    for a in assets:
        w.writerow([csv_text(v) for v in a.row()])
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------------------
# expected.json
# --------------------------------------------------------------------------------------

def role(item: Item) -> str | None:
    if item.pid == ELSA:
        return None
    if item.pid == L2TP:
        return "primary"
    if item.pid in RELATED_IDS or (item.port, item.protocol) == (1701, "udp"):
        return "related"
    return None


def scan_facts(scan: ScanSpec, hosts: list[ScannedHost]) -> dict:
    sev: dict[str, int] = {str(s): 0 for s in range(5)}
    l2tp, related, elsa = [], [], []
    for h in hosts:
        for item in h.items:
            sev[str(PLUGINS[item.pid].severity)] += 1
            r = role(item)
            if r == "primary":
                l2tp.append([h.name, h.address, item.port, item.protocol])
            elif r == "related":
                related.append([h.name, h.address, item.pid, item.port, item.protocol])
            if item.pid == ELSA:
                elsa.append([h.name, h.address])
    return {
        "week": scan.week,
        "kind": scan.kind,
        "report_name": scan.report_name,
        "policy_name": scan.policy.name if scan.policy else None,
        "has_policy": scan.policy is not None,
        "plugin_11387_enabled": (L2TP in scan.policy.plugin_ids) if scan.policy else None,
        "port_range": scan.policy.port_range if scan.policy else None,
        "hosts": len(hosts),
        "credentialed_hosts": sum(h.credentialed for h in hosts),
        "report_items": sum(len(h.items) for h in hosts),
        "severity_counts": sev,
        "l2tp": sorted(l2tp),
        "related": sorted(related),
        "elsa_68453": sorted(elsa),
    }


def reconcile(baseline: list[ScannedHost], rescans: list[tuple[ScanSpec, list[ScannedHost]]],
              select) -> list[dict]:
    """Status of each selected baseline finding against the rescans, plus new findings.

    still_open: a rescan reports it again. fixed: a rescan that scanned the host and could
    have seen it (plugin enabled, port in range, credentials for local checks) does not.
    not_covered: the host was rescanned only by scans that could not see it (reason given;
    coverage 'unknown' when the rescan has no policy). not_rescanned: no rescan has the host.
    new: reported by a rescan, absent from the baseline.
    """
    def keys(hosts: list[ScannedHost]) -> dict[tuple, tuple[ScannedHost, Item]]:
        return {(h.address, i.pid, i.port, i.protocol): (h, i) for h in hosts for i in h.items
                if select(i)}

    base = keys(baseline)
    rescan_keys = [(spec, keys(hosts), {h.address: h for h in hosts}) for spec, hosts in rescans]
    out = []
    for key, (_h, item) in sorted(base.items(), key=lambda kv: (ip_key(kv[0][0]), kv[0][1:])):
        entry = {"address": key[0], "plugin_id": key[1], "port": key[2], "protocol": key[3]}
        seen = [spec.file for spec, found, _ in rescan_keys if key in found]
        scanned = [(spec, hosts_by[key[0]]) for spec, _, hosts_by in rescan_keys if key[0] in hosts_by]
        if seen:
            entry.update(status="still_open", reason="", scan_file=seen[0])
        elif not scanned:
            entry.update(status="not_rescanned", reason="", scan_file=None)
        else:
            verdicts = [(spec, could_see(spec.policy, rh.credentialed, item)) for spec, rh in scanned]
            covering = [spec for spec, (cov, _r) in verdicts if cov == "covered"]
            if covering:
                entry.update(status="fixed", reason="", scan_file=covering[0].file)
            else:
                spec, (cov, reason) = verdicts[0]
                entry.update(status="not_covered", reason=reason, coverage=cov, scan_file=spec.file)
        out.append(entry)
    for spec, found, _ in rescan_keys:
        for key in sorted(set(found) - set(base), key=lambda k: (ip_key(k[0]), k[1:])):
            out.append({"address": key[0], "plugin_id": key[1], "port": key[2], "protocol": key[3],
                        "status": "new", "reason": "", "scan_file": spec.file})
    return out


def build_expected(estate: list[HostSpec], scans: list[ScanSpec],
                   results: dict[str, list[ScannedHost]], assets: list[Asset]) -> dict:
    by_key = {h.key: h for h in estate}
    files = {s.file: scan_facts(s, results[s.file]) for s in scans}
    week_sets: dict[str, dict] = {}
    for w in WEEKS:
        in_week = [s for s in scans if s.week == w and s.kind != "rescan"]
        addrs = {row[1] for s in in_week for row in files[s.file]["l2tp"]}
        week_sets[w] = {"scans": sorted(s.file for s in in_week),
                        "l2tp_addresses": sorted(addrs, key=ip_key)}
    # L2TP by host identity per weekly moment (so a DHCP move is not a fix)
    weekly = [s for s in scans if s.kind == "weekly"]
    seen_by_key = {s.week: {h.spec.key for h in results[s.file] if any(i.pid == L2TP for i in h.items)}
                   for s in weekly}
    scanned_by_key = {s.week: {h.spec.key for h in results[s.file]} for s in weekly}
    new, fixed = [], []
    ever: set[str] = set()
    for i, w in enumerate(WEEKS):
        for key in sorted(seen_by_key[w] - ever):
            if i > 0:
                new.append({"address": by_key[key].ip_at(i), "host": key, "week": w})
        ever |= seen_by_key[w]
        if i > 0:
            prev = seen_by_key[WEEKS[i - 1]]
            for key in sorted((prev - seen_by_key[w]) & scanned_by_key[w]):
                fixed.append({"address": by_key[key].ip_at(i), "host": key,
                              "last_seen_week": WEEKS[i - 1], "fixed_week": w})
    dhcp = by_key["eng-ws-114"]
    story = {
        "new": new,
        "fixed": fixed,
        "resurfaced": [{"address": "10.10.2.40", "host": "vpn-lab01", "fixed_week": "2026-W46",
                        "resurfaced_week": "2026-W48"}],
        "dhcp_moved": {"host": "eng-ws-114", "old_address": dhcp.ip_at(2), "new_address": dhcp.ip_at(3),
                       "last_week_at_old": "2026-W46", "first_week_at_new": "2026-W47",
                       "mac": dhcp.macs[0], "hostname": dhcp.hostname, "fqdn": dhcp.fqdn},
        "fqdn_named": {"report_host_name": f"vpn1.{DOMAIN}", "address": by_key["vpn1"].ip},
        "ipv6": {"address": str(ipaddress.ip_address(by_key["v6-gw01"].ip)), "host": "v6-gw01"},
        "missing": {"address": "10.20.9.1", "host": "br09-rtr", "week": "2026-W47",
                    "l2tp_weeks": ["2026-W44", "2026-W45", "2026-W46", "2026-W48"]},
        "dmz_scan": {"file": "2026-W46-dmz.nessus", "plugin_11387_enabled": False,
                     "port_range": DMZ_POLICY.port_range},
    }
    # sanity: the story written above is what the scenario produced
    assert {"address": "10.10.2.40", "host": "vpn-lab01", "last_seen_week": "2026-W45",
            "fixed_week": "2026-W46"} in fixed
    assert any(n["host"] == "vpn-lab01" for n in new) is False
    assert "br09-rtr" not in scanned_by_key["2026-W47"]

    w48 = next(s for s in scans if s.file == "2026-W48-weekly.nessus")
    rescans = [(s, results[s.file]) for s in scans if s.kind == "rescan"]
    recon_l2tp = reconcile(results[w48.file], rescans, lambda i: role(i) is not None)
    recon_68453 = reconcile(results[w48.file], rescans, lambda i: i.pid == ELSA)
    statuses = {e["status"] for e in recon_l2tp}
    assert statuses == {"still_open", "fixed", "not_rescanned", "not_covered", "new"}, statuses
    reasons = {e["reason"] for e in recon_l2tp + recon_68453 if e["status"] == "not_covered"}
    assert reasons == {REASON_NO_POLICY, REASON_PLUGIN_DISABLED, REASON_PORT_EXCLUDED,
                       REASON_NO_CREDENTIALS}, reasons

    # inventory matches: every address of every host in any scan
    matches: dict[str, dict] = {}
    for s in scans:
        for h in results[s.file]:
            matches.setdefault(h.address, {"host": h.name, **match_host(h, assets)})
    l2tp_addrs = sorted({row[1] for f in files.values() for row in f["l2tp"]}, key=ip_key)
    intent = {"ip": "ip", "two_ip": "ip", "ipv6": "ip", "fqdn": "fqdn", "hostname": "hostname",
              "mac": "mac", "cidr": "cidr", "ambiguous": "ambiguous", "none": "unmatched"}
    for s in scans:
        for h in results[s.file]:
            assert matches[h.address]["method"] == intent[h.spec.inventory], (h.address, matches[h.address])
    scanned_ids = {m["asset_id"] for m in matches.values()} | \
        {c for m in matches.values() for c in m["candidates"]}
    w48_addrs = [h.address for h in results[w48.file]]
    return {
        "about": f"Facts of the fictional {COMPANY} sample (sample_data/make_sample.py); "
                 "derived from the scenario, not by parsing.",
        "company": COMPANY,
        "domain": DOMAIN,
        "today": TODAY,
        "current_week": "2026-W48",
        "files": files,
        "weeks": week_sets,
        "story": story,
        "reconcile": {
            "baseline": w48.file,
            "rescans": [s.file for s, _ in rescans],
            "rules": "key (address, plugin_id, port, protocol); still_open if any rescan reports it; "
                     "else fixed if a rescan that scanned the host could see it; else not_covered "
                     "(reason; coverage 'unknown' for a rescan without policy); not_rescanned if no "
                     "rescan scanned the host; new if only a rescan reports it",
            "l2tp": recon_l2tp,
            "all_68453": recon_68453,
        },
        "inventory": {
            "rows": len(assets),
            "columns": list(INVENTORY_COLUMNS),
            "match_precedence": ["ip", "fqdn", "hostname", "mac", "cidr"],
            "cidr_rows": [a.asset_id for a in assets if "/" in a.ip],
            "two_ip_rows": [a.asset_id for a in assets if ";" in a.ip],
            "never_scanned": sorted(a.asset_id for a in assets
                                    if a.asset_id not in scanned_ids and "/" not in a.ip),
            "unowned_w48": sorted((a for a in w48_addrs if matches[a]["method"] == "unmatched"), key=ip_key),
            "l2tp_hosts": {a: matches[a] for a in l2tp_addrs},
            "all_hosts": {a: [matches[a]["asset_id"], matches[a]["method"]]
                          for a in sorted(matches, key=ip_key)},
        },
    }


# --------------------------------------------------------------------------------------

def generate(out_dir: Path) -> list[Path]:
    """Write every generated sample file under ``out_dir``; returns their paths."""
    estate = build_estate()
    scans = scans_for(estate)
    results = {s.file: run_scan(s, estate) for s in scans}
    assets = build_inventory(estate)
    written: list[Path] = []
    scan_dir = out_dir / "scans"
    scan_dir.mkdir(parents=True, exist_ok=True)
    for s in scans:
        path = scan_dir / s.file
        path.write_bytes(nessus_bytes(s, results[s.file]))
        written.append(path)
    (out_dir / "inventory.csv").write_bytes(inventory_csv(assets))
    written.append(out_dir / "inventory.csv")
    write_xlsx(out_dir / "inventory.xlsx",
               [Sheet("Assets", INVENTORY_COLUMNS, [a.row() for a in assets],
                      widths={"OS": 34, "Owner Email": 30, "IP Address": 26, "FQDN": 30},
                      choices={"Criticality": ("critical", "high", "medium", "low"),
                               "Internet Facing": ("yes", "no")})])
    pin_modified_time(out_dir / "inventory.xlsx")
    written.append(out_dir / "inventory.xlsx")
    expected = build_expected(estate, scans, results, assets)
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True,
                                                      ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(out_dir / "expected.json")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE, help="directory to write into (default: sample_data/)")
    args = ap.parse_args(argv)
    for path in generate(args.out):
        print(f"{path.stat().st_size:>9,}  {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
