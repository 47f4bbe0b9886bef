"""Profiles: which findings matter for a remediation campaign.

A profile names its *primary* findings (the ones a campaign is about, e.g. plugin 11387)
and *related* ones tracked beside them. Selection looks only at a ``ReportItem``'s
attributes, so the parser can drop everything else without building it.

A profile also says what detects its campaign (``[[profiles.NAME.detect]]``: a plugin, its
family, the ports it must reach) and how reports name it (``label``, ``title``): whether a
scan could have found the campaign at all is judged by those, never by a fixed plugin.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from vulnpipe.ingest.errors import InputError

PRIMARY = "primary"
RELATED = "related"

_KEYS = {"description", "label", "title", "primary_plugins", "primary_names", "related_plugins",
         "related_names", "related_families", "related_ports", "exclude_plugins", "detect"}
_DETECT_KEYS = {"plugin", "name", "family", "ports"}


@dataclass(frozen=True)
class Detector:
    """A plugin that detects a profile's campaign: a scan can find the campaign only when
    its policy enables the plugin (``family``: how a policy that enables or disables whole
    families decides it) and its port range holds every one of ``ports``."""

    plugin: int
    family: str | None = None
    ports: tuple[tuple[int, str], ...] = ()     # (port, protocol)
    name: str | None = None                     # the plugin's name, for messages

    @property
    def text(self) -> str:
        """``plugin 11387 (udp/1701)``."""
        where = ", ".join(f"{proto}/{port}" for port, proto in self.ports)
        return f"plugin {self.plugin}" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class Profile:
    """A named selection of findings. ``name == 'all'`` selects everything, with no role."""

    name: str
    description: str = ""
    label: str = ""                    # the campaign in a few words ("L2TP"); default: name
    title: str = ""                    # the reports' title ("L2TP exposure")
    detectors: tuple[Detector, ...] = ()   # default: each primary plugin, any port
    primary_plugins: frozenset[int] = frozenset()
    primary_names: frozenset[str] = frozenset()       # compared case-insensitively
    related_plugins: frozenset[int] = frozenset()
    related_names: frozenset[str] = frozenset()
    related_families: frozenset[str] = frozenset()
    related_ports: frozenset[tuple[int, str]] = frozenset()   # (port, protocol)
    exclude_plugins: frozenset[int] = frozenset()
    select_all: bool = False
    _ids: frozenset[int] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", self.primary_plugins | self.related_plugins)

    @property
    def plugin_ids(self) -> frozenset[int]:
        """Every plugin ID the profile names (primary and related)."""
        return self._ids

    @property
    def campaign(self) -> str:
        """What reports call the campaign: ``Can detect L2TP``."""
        return self.label or self.name

    @property
    def heading(self) -> str:
        """The reports' title: ``L2TP exposure``."""
        return self.title or (f"{self.label} exposure" if self.label
                              else f"Exposure (profile {self.name})")

    @property
    def detect(self) -> tuple[Detector, ...]:
        """The plugins that detect the campaign (declared, else the primary plugins)."""
        return self.detectors or tuple(Detector(p) for p in sorted(self.primary_plugins))

    @property
    def detect_text(self) -> str:
        """``plugin 11387 (udp/1701)``: what a scan must run to find the campaign."""
        return " or ".join(d.text for d in self.detect) or "no plugin (none is declared)"

    def role(self, plugin_id: int | None, plugin_name: str | None, family: str | None,
             port: int | None, protocol: str | None) -> str | None:
        """``'primary'``, ``'related'``, or None when the finding is not selected.

        For the ``all`` profile every finding is selected and the role is ``''``.
        """
        if self.select_all:
            return ""
        if plugin_id is not None and plugin_id in self.exclude_plugins:
            return None
        if plugin_id is not None and plugin_id in self.primary_plugins:
            return PRIMARY
        name = plugin_name.strip().lower() if plugin_name else ""
        if name and name in self.primary_names:
            return PRIMARY
        if plugin_id is not None and plugin_id in self.related_plugins:
            return RELATED
        if name and name in self.related_names:
            return RELATED
        if family and family in self.related_families:
            return RELATED
        if port is not None and protocol and (port, protocol.lower()) in self.related_ports:
            return RELATED
        return None


ALL = Profile(name="all", description="every finding", select_all=True)


#: How the campaigns of one ingest are named together (``l2tp+pptp``), as ``vulnpipe scans``
#: shows the scan's profile.
CAMPAIGN_SEPARATOR = "+"


@dataclass(frozen=True)
class Campaigns(Profile):
    """Several campaigns read in one pass: a finding is kept when any member selects it.

    Its ``role`` is the first member's that selects the finding; :meth:`roles` gives every
    member's, which the store records beside the finding (the campaigns it belongs to)."""

    members: tuple[Profile, ...] = ()

    def role(self, plugin_id: int | None, plugin_name: str | None, family: str | None,
             port: int | None, protocol: str | None) -> str | None:
        for member in self.members:
            role = member.role(plugin_id, plugin_name, family, port, protocol)
            if role is not None:
                return role
        return None

    def roles(self, plugin_id: int | None, plugin_name: str | None, family: str | None,
              port: int | None, protocol: str | None) -> list[tuple[str, str | None]]:
        """(campaign, role) of every member that selects the finding (role None: ``all``)."""
        out = []
        for member in self.members:
            role = member.role(plugin_id, plugin_name, family, port, protocol)
            if role is not None:
                out.append((member.name, role or None))
        return out


def campaigns(profiles: Iterable[Profile]) -> Profile:
    """The profiles as one selection: the profile itself when there is one, else a
    :class:`Campaigns` (the union, named ``l2tp+pptp``; repeated names count once)."""
    members = tuple({p.name: p for p in profiles}.values())
    if not members:
        raise InputError("no campaign given", hint="give --profile NAME")
    if len(members) == 1:
        return members[0]
    for m in members:
        if isinstance(m, Campaigns) or CAMPAIGN_SEPARATOR in m.name:
            raise InputError(f"profile name {m.name!r} cannot be one of several campaigns",
                             hint=f"name it without {CAMPAIGN_SEPARATOR!r}")

    def union(attr: str) -> frozenset:
        return frozenset().union(*(getattr(m, attr) for m in members))

    select_all = any(m.select_all for m in members)
    return Campaigns(
        name=CAMPAIGN_SEPARATOR.join(m.name for m in members),
        description="campaigns " + ", ".join(m.name for m in members),
        label=", ".join(m.campaign for m in members),
        primary_plugins=union("primary_plugins"), primary_names=union("primary_names"),
        related_plugins=union("related_plugins"), related_names=union("related_names"),
        related_families=union("related_families"), related_ports=union("related_ports"),
        # left out only when every campaign leaves it out (the 68453 note reads this)
        exclude_plugins=frozenset.intersection(*(m.exclude_plugins for m in members)),
        select_all=select_all, members=members)


def _parse_port(text: str, where: str) -> tuple[int, str]:
    try:
        port, proto = str(text).split("/", 1)
        return int(port), proto.strip().lower()
    except ValueError:
        raise InputError(f"profile port {text!r} is not PORT/PROTOCOL", path=where,
                         hint="write ports like \"1701/udp\"") from None


def _detectors(name: str, data: object, where: str) -> tuple[Detector, ...]:
    """``[[profiles.NAME.detect]]`` tables: ``plugin`` (required), ``name``, ``family``,
    ``ports``."""
    if not isinstance(data, list) or not all(isinstance(d, Mapping) for d in data):
        raise InputError(f"profile {name!r}: detect must be [[profiles.{name}.detect]] tables",
                         path=where, hint='e.g. plugin = 11387, family = "Firewalls", '
                                          'ports = ["1701/udp"]')
    out = []
    for d in data:
        unknown = sorted(set(d) - _DETECT_KEYS)
        if unknown or not isinstance(d.get("plugin"), int) or isinstance(d.get("plugin"), bool):
            raise InputError(f"profile {name!r}: a detect table needs plugin = ID"
                             + (f" and has unknown keys {', '.join(unknown)}" if unknown else ""),
                             path=where, hint=f"known keys: {', '.join(sorted(_DETECT_KEYS))}")
        for key in ("name", "family"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise InputError(f"profile {name!r}: detect {key} must be text", path=where)
        ports = d.get("ports", [])
        if not isinstance(ports, list) or not all(isinstance(p, str) for p in ports):
            raise InputError(f"profile {name!r}: detect ports must be a list like "
                             '["1701/udp"]', path=where)
        out.append(Detector(plugin=d["plugin"], family=d.get("family"), name=d.get("name"),
                            ports=tuple(_parse_port(p, where) for p in ports)))
    return tuple(out)


def profile_from_mapping(name: str, data: Mapping, where: str) -> Profile:
    """Build a profile from one ``[profiles.NAME]`` table, refusing unknown keys."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"profile {name!r} has unknown keys {', '.join(unknown)}", path=where,
                         hint=f"known keys: {', '.join(sorted(_KEYS))}")

    def ints(key: str) -> frozenset[int]:
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
            raise InputError(f"profile {name!r}: {key} must be a list of plugin IDs (integers)",
                             path=where)
        return frozenset(values)

    def strs(key: str, lower: bool = False) -> frozenset[str]:
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(f"profile {name!r}: {key} must be a list of strings", path=where)
        return frozenset(v.strip().lower() if lower else v.strip() for v in values)

    return Profile(
        name=name,
        description=str(data.get("description", "")),
        label=str(data.get("label", "")),
        title=str(data.get("title", "")),
        detectors=_detectors(name, data.get("detect", []), where),
        primary_plugins=ints("primary_plugins"),
        primary_names=strs("primary_names", lower=True),
        related_plugins=ints("related_plugins"),
        related_names=strs("related_names", lower=True),
        related_families=strs("related_families"),
        related_ports=frozenset(_parse_port(p, where) for p in strs("related_ports")),
        exclude_plugins=ints("exclude_plugins"),
    )


def load_profiles_toml(text: str, where: str) -> dict[str, Profile]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=where) from None
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise InputError("[profiles] must be a table of profiles", path=where)
    return {name: profile_from_mapping(name, body, where) for name, body in tables.items()}


def builtin_profiles() -> dict[str, Profile]:
    text = resources.files("vulnpipe.ingest").joinpath("builtin_profiles.toml").read_text("utf-8")
    profiles = load_profiles_toml(text, "builtin_profiles.toml")
    profiles["all"] = ALL
    return profiles


def resolve_profile(name: str = "l2tp", *, profiles_files: Iterable[Path] = (),
                    extra_plugins: Iterable[int] = (), inline: Mapping | None = None) -> Profile:
    """The profile called ``name`` (built-in or from ``profiles_files``), widened by ``extra_plugins``.

    ``--plugin ID`` options add plugins as primary findings; with no profile name given
    explicitly by the user the caller passes ``name='adhoc'``-style selections this way.
    """
    known = builtin_profiles()
    for path in profiles_files:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise InputError(f"cannot read profiles file: {exc.strerror}", path=path) from None
        known.update(load_profiles_toml(text, str(path)))
    for pname, body in (inline or {}).items():
        known[pname] = profile_from_mapping(pname, body, f"[profiles.{pname}]")
    extra = frozenset(int(p) for p in extra_plugins)
    if name not in known:
        if extra and name == "plugins":
            return Profile(name="plugins", description="plugins given with --plugin",
                           primary_plugins=extra)
        raise InputError(f"unknown profile {name!r}",
                         hint=f"known profiles: {', '.join(sorted(known))}; add your own in a "
                              "profiles TOML file")
    profile = known[name]
    if extra and not profile.select_all:     # (a profile's exclusions win: 68453 stays out)
        profile = replace(profile, primary_plugins=profile.primary_plugins | extra)
    return profile
