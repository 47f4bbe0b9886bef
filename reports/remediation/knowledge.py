"""The remediation knowledge base: what a finding means and how to close it, per platform.

The knowledge is data, not code: one TOML file per plugin (or per profile) in
``templates/remediation/``, with one section per platform (keys from
:data:`reports.platform.PLATFORMS`). Users add or override entries with their own
directories of TOML files of the same shape (see ``docs/remediation.md``)::

    kb = load_knowledge([Path("my-knowledge")])
    rem = kb.for_finding(11387, platform_for(host.os))
    rem.title, rem.why, rem.steps[0].text, rem.steps[0].commands

Lookup order for ``for_finding(plugin_id, platform)``: the plugin's section for that
platform, else the plugin's ``generic`` section, else the profile entry's section for the
platform, else the profile entry's ``generic`` section. Every file is validated when it is
loaded; a mistake raises :class:`KnowledgeError` with one line naming the file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.reports.remediation.platform import GENERIC, PLATFORMS

BUILTIN_PACKAGE = "vulnpipe.templates"
BUILTIN_DIR = "remediation"
DEFAULT_PROFILE = "l2tp"

#: Allowed ``shell`` values of a step (how a renderer labels its code block).
SHELLS = frozenset({"", "powershell", "cmd", "sh", "routeros", "cisco", "text"})
#: Characters that break a command when pasted into a shell or device CLI.
FORBIDDEN_IN_COMMANDS = {"\u201c": "left double quote", "\u201d": "right double quote",
                         "\u2018": "left single quote", "\u2019": "right single quote",
                         "\u2013": "en dash", "\u2014": "em dash", "\u00a0": "no-break space"}

_TOP_KEYS = {"plugin_ids", "profile", "title", "why", "references", "verify_rescan", "platforms"}
_SECTION_LISTS = ("confirm", "steps", "verify_local", "verify_rescan", "rollback", "if_needed")
_SECTION_KEYS = {"label", "references", *_SECTION_LISTS}
_STEP_KEYS = {"text", "commands", "shell"}

MATCH_PLATFORM = "platform"    # the plugin's own section for the host's platform
MATCH_GENERIC = "generic"      # the plugin's generic section
MATCH_PROFILE = "profile"      # the profile-level entry (no plugin-specific knowledge)


class KnowledgeError(VulnpipeError):
    """A remediation knowledge file that cannot be used (names the file, says what to fix)."""


@dataclass(frozen=True)
class Step:
    """One action: prose ``text`` and, when there is something to type, ``commands``.

    Commands are exact, copy-pasteable lines (straight ASCII quotes only); ``shell`` says
    where they are typed (``powershell``, ``cmd``, ``sh``, ``routeros``, ``cisco``, ``text``).
    """

    text: str
    commands: tuple[str, ...] = ()
    shell: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "commands": list(self.commands), "shell": self.shell}


@dataclass(frozen=True)
class Remediation:
    """What an owner needs to close one finding on one platform.

    ``platform`` is the section actually used (``'generic'`` after a fallback) and
    ``matched`` says how it was found (``platform``, ``generic`` or ``profile``).
    """

    plugin_ids: tuple[int, ...]
    title: str
    why: str
    platform: str
    platform_label: str
    confirm: tuple[Step, ...]
    steps: tuple[Step, ...]
    verify_local: tuple[Step, ...]
    verify_rescan: tuple[Step, ...]
    rollback: tuple[Step, ...]
    if_needed: tuple[Step, ...]
    references: tuple[str, ...] = ()
    profile: str = ""
    matched: str = MATCH_PLATFORM
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable field names (``source`` is left out: it is local)."""
        out: dict[str, Any] = {"plugin_ids": list(self.plugin_ids), "title": self.title,
                               "why": self.why, "platform": self.platform,
                               "platform_label": self.platform_label}
        for name in _SECTION_LISTS:
            out[name] = [s.to_dict() for s in getattr(self, name)]
        out.update(references=list(self.references), profile=self.profile, matched=self.matched)
        return out


@dataclass(frozen=True)
class _Section:
    label: str
    confirm: tuple[Step, ...]
    steps: tuple[Step, ...]
    verify_local: tuple[Step, ...]
    verify_rescan: tuple[Step, ...]
    rollback: tuple[Step, ...]
    if_needed: tuple[Step, ...]
    references: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class _Entry:
    plugin_ids: tuple[int, ...]
    profile: str
    title: str
    why: str
    references: tuple[str, ...]
    default_rescan: tuple[Step, ...]
    sections: Mapping[str, _Section]
    source: str


@dataclass(frozen=True)
class KnowledgeBase:
    """Remediation entries by plugin ID and by profile; build it with :func:`load_knowledge`."""

    plugins: Mapping[int, _Entry] = field(default_factory=lambda: MappingProxyType({}))
    profiles: Mapping[str, _Entry] = field(default_factory=lambda: MappingProxyType({}))

    def plugin_ids(self) -> tuple[int, ...]:
        """Every plugin ID with its own entry, sorted."""
        return tuple(sorted(self.plugins))

    def platforms(self, plugin_id: int) -> tuple[str, ...]:
        """The platform sections written for ``plugin_id`` (empty when it has no entry)."""
        entry = self.plugins.get(plugin_id)
        return tuple(sorted(entry.sections)) if entry else ()

    def find(self, plugin_id: int, platform: str,
             profile: str | None = DEFAULT_PROFILE) -> Remediation | None:
        """Like :meth:`for_finding`, but None when nothing applies."""
        entry = self.plugins.get(plugin_id)
        if entry is not None:
            if platform in entry.sections:
                return _remediation(entry, platform, MATCH_PLATFORM)
            if GENERIC in entry.sections:
                return _remediation(entry, GENERIC, MATCH_GENERIC)
        prof = self.profiles.get(profile) if profile else None
        if prof is not None:
            return _remediation(prof, platform if platform in prof.sections else GENERIC,
                                MATCH_PROFILE)
        return None

    def for_finding(self, plugin_id: int, platform: str,
                    profile: str | None = DEFAULT_PROFILE) -> Remediation:
        """The remediation for ``plugin_id`` on ``platform`` (see the module doc for the order).

        Raises :class:`KnowledgeError` when neither the plugin nor the profile has an entry.
        """
        found = self.find(plugin_id, platform, profile)
        if found is None:
            raise KnowledgeError(
                f"no remediation knowledge for plugin {plugin_id} (profile {profile or 'none'})",
                hint="add a TOML file with plugin_ids = [%d] to a knowledge directory" % plugin_id)
        return found


def _remediation(entry: _Entry, platform: str, matched: str) -> Remediation:
    sec = entry.sections[platform]
    refs = tuple(dict.fromkeys(sec.references + entry.references))
    return Remediation(plugin_ids=entry.plugin_ids, title=entry.title, why=entry.why,
                       platform=platform, platform_label=sec.label, confirm=sec.confirm,
                       steps=sec.steps, verify_local=sec.verify_local,
                       verify_rescan=sec.verify_rescan, rollback=sec.rollback,
                       if_needed=sec.if_needed, references=refs, profile=entry.profile,
                       matched=matched, source=sec.source)


# ---------------------------------------------------------------- loading and validation


def load_knowledge(extra_dirs: Sequence[Path] = ()) -> KnowledgeBase:
    """The built-in knowledge, then each of ``extra_dirs`` in order, later ones winning.

    Each extra directory's ``*.toml`` files (a single ``.toml`` file may be given too) add
    new plugins/profiles or override existing ones: given top-level fields (title, why,
    references) replace the old ones, and each platform section given replaces that whole
    section; sections not given are kept. Two files of one directory claiming the same
    plugin or profile are refused.
    """
    builtin_plugins, builtin_profiles = _builtin()
    plugins: dict[int, _Entry] = dict(builtin_plugins)
    profiles: dict[str, _Entry] = dict(builtin_profiles)
    for directory in extra_dirs:
        layer = _load_layer(_user_files(Path(directory)))
        for key, file_data in layer.items():
            if isinstance(key, int):
                plugins[key] = _merge(plugins.get(key), file_data)
            else:
                profiles[key] = _merge(profiles.get(key), file_data)
    return KnowledgeBase(plugins=MappingProxyType(plugins), profiles=MappingProxyType(profiles))


@lru_cache(maxsize=1)
def _builtin() -> tuple[Mapping[int, _Entry], Mapping[str, _Entry]]:
    root = resources.files(BUILTIN_PACKAGE).joinpath(BUILTIN_DIR)
    files = sorted((f for f in root.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    if not files:
        raise KnowledgeError("no built-in remediation files found", path=f"{BUILTIN_PACKAGE}/"
                             f"{BUILTIN_DIR}", hint="reinstall vulnpipe")
    layer = _load_layer((f"{BUILTIN_PACKAGE}/{BUILTIN_DIR}/{f.name}", f.read_text("utf-8"))
                        for f in files)
    plugins: dict[int, _Entry] = {}
    profiles: dict[str, _Entry] = {}
    for key, file_data in layer.items():
        entry = _merge(None, file_data)
        if isinstance(key, int):
            plugins[key] = entry
        else:
            profiles[key] = entry
    return plugins, profiles


def _user_files(path: Path) -> list[tuple[str, str]]:
    if path.is_file():
        paths = [path]
    elif path.is_dir():
        paths = sorted(p for p in path.glob("*.toml") if p.is_file())
    else:
        raise KnowledgeError("knowledge directory not found", path=path,
                             hint="give a directory of remediation *.toml files")
    out = []
    for p in paths:
        try:
            out.append((str(p), p.read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise KnowledgeError(f"cannot read knowledge file: {reason}", path=p) from None
    return out


def _load_layer(files: Iterable[tuple[str, str]]) -> dict[int | str, dict]:
    """Parse and validate one layer's files; key -> validated file data."""
    layer: dict[int | str, dict] = {}
    claimed: dict[int | str, str] = {}
    for where, text in files:
        data = _parse_file(where, text)
        keys: list[int | str] = list(data["plugin_ids"]) if data["plugin_ids"] else [data["profile"]]
        for key in keys:
            if key in claimed:
                what = f"plugin {key}" if isinstance(key, int) else f"profile {key!r}"
                raise KnowledgeError(f"{what} is also defined in {claimed[key]}", path=where,
                                     hint="keep one file per plugin or profile in a directory")
            claimed[key] = where
            layer[key] = data
    return layer


def _parse_file(where: str, text: str) -> dict:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"not valid TOML: {exc}", path=where) from None
    _no_unknown(raw, _TOP_KEYS, "top level", where)
    has_ids, has_profile = "plugin_ids" in raw, "profile" in raw
    if has_ids == has_profile:
        raise KnowledgeError("give exactly one of plugin_ids = [...] or profile = \"NAME\"",
                             path=where)
    ids: tuple[int, ...] = ()
    profile = ""
    if has_ids:
        values = raw["plugin_ids"]
        if (not isinstance(values, list) or not values
                or not all(type(v) is int and v > 0 for v in values)):
            raise KnowledgeError("plugin_ids must be a non-empty list of plugin IDs (integers)",
                                 path=where)
        ids = tuple(sorted(set(values)))
    else:
        profile = raw["profile"]
        if not isinstance(profile, str) or not profile.strip():
            raise KnowledgeError("profile must be a profile name such as \"l2tp\"", path=where)
        profile = profile.strip()
    title = _opt_text(raw, "title", where)
    why = _opt_text(raw, "why", where)
    references = _strings(raw.get("references", []), "references", where)
    default_rescan = _steps(raw["verify_rescan"], "verify_rescan", where) \
        if "verify_rescan" in raw else ()
    platforms = raw.get("platforms")
    if not isinstance(platforms, dict) or not platforms:
        raise KnowledgeError("missing [platforms.NAME] sections", path=where,
                             hint=f"platform names: {', '.join(PLATFORMS)}")
    sections: dict[str, dict] = {}
    for name, body in platforms.items():
        if name not in PLATFORMS:
            raise KnowledgeError(f"unknown platform {name!r}", path=where,
                                 hint=f"platform names: {', '.join(PLATFORMS)}")
        if not isinstance(body, dict):
            raise KnowledgeError(f"platforms.{name} must be a table", path=where)
        sections[name] = _section(name, body, where)
    if profile and GENERIC not in sections:
        raise KnowledgeError(f"profile entry {profile!r} needs a [platforms.generic] section",
                             path=where)
    return {"plugin_ids": ids, "profile": profile, "title": title, "why": why,
            "references": references, "default_rescan": default_rescan,
            "sections": sections, "source": where}


def _section(name: str, body: dict, where: str) -> dict:
    ctx = f"platforms.{name}"
    _no_unknown(body, _SECTION_KEYS, ctx, where)
    out: dict[str, Any] = {"label": _opt_text(body, "label", where) or PLATFORMS[name],
                           "references": _strings(body.get("references", []),
                                                  f"{ctx}.references", where)}
    for key in _SECTION_LISTS:
        if key in body:
            out[key] = _steps(body[key], f"{ctx}.{key}", where)
            if not out[key]:
                raise KnowledgeError(f"{ctx}.{key} is empty", path=where)
        elif key != "verify_rescan":
            raise KnowledgeError(f"{ctx} is missing {key}", path=where,
                                 hint=f"each platform section needs "
                                      f"{', '.join(k for k in _SECTION_LISTS if k != 'verify_rescan')}")
    return out


def _steps(value: Any, ctx: str, where: str) -> tuple[Step, ...]:
    if not isinstance(value, list):
        raise KnowledgeError(f"{ctx} must be a list of steps", path=where)
    steps = []
    for i, item in enumerate(value, 1):
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            raise KnowledgeError(f"{ctx} item {i} must be text or a table with text/commands",
                                 path=where)
        _no_unknown(item, _STEP_KEYS, f"{ctx} item {i}", where)
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise KnowledgeError(f"{ctx} item {i} needs text", path=where)
        commands = _strings(item.get("commands", []), f"{ctx} item {i} commands", where)
        for cmd in commands:
            bad = [name for ch, name in FORBIDDEN_IN_COMMANDS.items() if ch in cmd]
            if bad:
                raise KnowledgeError(f"{ctx} item {i}: command contains a {bad[0]}: {cmd[:60]!r}",
                                     path=where, hint="use straight ASCII quotes and hyphens")
        shell = item.get("shell", "")
        if shell not in SHELLS:
            raise KnowledgeError(f"{ctx} item {i}: unknown shell {shell!r}", path=where,
                                 hint=f"one of {', '.join(sorted(s for s in SHELLS if s))}")
        steps.append(Step(text=" ".join(text.split()), commands=commands, shell=shell))
    return tuple(steps)


def _strings(value: Any, ctx: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(f"{ctx} must be a list of non-empty strings", path=where)
    return tuple(v.strip() for v in value)


def _opt_text(data: dict, key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise KnowledgeError(f"{key} must be text", path=where)
    return value.strip()


def _no_unknown(data: dict, known: set[str], ctx: str, where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise KnowledgeError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown)} in {ctx}", path=where,
                             hint=f"known keys: {', '.join(sorted(known))}")


def _merge(old: _Entry | None, new: dict) -> _Entry:
    """``new`` (validated file data) laid over ``old`` (None for a fresh entry)."""
    where = new["source"]
    title = new["title"] or (old.title if old else "")
    why = new["why"] or (old.why if old else "")
    if not title or not why:
        raise KnowledgeError("a new entry needs title and why", path=where,
                             hint="only entries overriding an existing plugin may leave them out")
    default_rescan = new["default_rescan"] or (old.default_rescan if old else ())
    sections = dict(old.sections) if old else {}
    for name, sec in new["sections"].items():
        rescan = sec.get("verify_rescan") or default_rescan
        if not rescan:
            raise KnowledgeError(f"platforms.{name} has no verify_rescan", path=where,
                                 hint="add verify_rescan to the section or at the top level")
        sections[name] = _Section(label=sec["label"], confirm=sec["confirm"], steps=sec["steps"],
                                  verify_local=sec["verify_local"], verify_rescan=rescan,
                                  rollback=sec["rollback"], if_needed=sec["if_needed"],
                                  references=sec["references"], source=where)
    ids = tuple(sorted(set(new["plugin_ids"]) | set(old.plugin_ids if old else ())))
    return _Entry(plugin_ids=ids, profile=new["profile"] or (old.profile if old else ""),
                  title=title, why=why, references=new["references"] or
                  (old.references if old else ()), default_rescan=default_rescan,
                  sections=MappingProxyType(sections), source=where)
