"""Profiles: which findings matter for a remediation campaign.

A profile names its *primary* findings (the ones a campaign is about, e.g. plugin 11387)
and *related* ones tracked beside them. Selection looks only at a ``ReportItem``'s
attributes, so the parser can drop everything else without building it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from vulnpipe.ingest.errors import InputError

PRIMARY = "primary"
RELATED = "related"

_KEYS = {"description", "primary_plugins", "primary_names", "related_plugins", "related_names",
         "related_families", "related_ports", "exclude_plugins"}


@dataclass(frozen=True)
class Profile:
    """A named selection of findings. ``name == 'all'`` selects everything, with no role."""

    name: str
    description: str = ""
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


def _parse_port(text: str, where: str) -> tuple[int, str]:
    try:
        port, proto = str(text).split("/", 1)
        return int(port), proto.strip().lower()
    except ValueError:
        raise InputError(f"profile port {text!r} is not PORT/PROTOCOL", path=where,
                         hint="write ports like \"1701/udp\"") from None


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
    if extra and not profile.select_all:
        profile = Profile(**{**_fields(profile), "primary_plugins": profile.primary_plugins | extra,
                             "exclude_plugins": profile.exclude_plugins - extra})
    return profile


def _fields(p: Profile) -> dict:
    return {k: getattr(p, k) for k in ("name", "description", "primary_plugins", "primary_names",
                                       "related_plugins", "related_names", "related_families",
                                       "related_ports", "exclude_plugins", "select_all")}
