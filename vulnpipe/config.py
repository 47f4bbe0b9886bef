"""``vulnpipe.toml``: settings shared by commands, validated once.

>>> cfg = load_config()                  # ./vulnpipe.toml when present, else defaults
>>> cfg.owners.default_owner, cfg.inventory.columns, cfg.priority.rules

Every key is documented, with its default, in ``docs/config.md``. Unknown sections or keys
and values of the wrong type are errors naming the key. The loader is table-driven: a new
section is a frozen dataclass, a ``{key: checker}`` table in :data:`SECTIONS`, and a field
of :class:`Config`.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from vulnpipe.ingest.assets.priority import (
    DEFAULT_FALLBACK,
    DEFAULT_RULES,
    Rule,
    check_priority,
    check_sla,
    rules_from_config,
)
from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.reports.delivery.settings import DEPLOYMENTS, SECURITY, JiraSettings, MailSettings

CONFIG_NAME = "vulnpipe.toml"
CONFIG_ENV = "VULNPIPE_CONFIG"


class ConfigError(VulnpipeError):
    """A ``vulnpipe.toml`` that cannot be used."""


@dataclass(frozen=True)
class InventorySettings:
    path: Path | None = None                 # relative paths are read from the config's folder
    sheet: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OwnerSettings:
    default_owner: str | None = None
    default_owner_email: str | None = None


@dataclass(frozen=True)
class PrioritySettings:
    rules: tuple[Rule, ...] = DEFAULT_RULES
    fallback_priority: str = DEFAULT_FALLBACK[0]
    fallback_sla_days: int = DEFAULT_FALLBACK[1]
    restart_sla_after_acceptance: bool = False    # due = acceptance end + SLA days

    @property
    def fallback(self) -> tuple[str, int]:
        return self.fallback_priority, self.fallback_sla_days


@dataclass(frozen=True)
class StoreSettings:
    url: str | None = None                   # --db / VULNPIPE_DB win over it


@dataclass(frozen=True)
class ProfileSettings:
    default: str = "l2tp"                    # (default: the first of ``campaigns``, when given)
    files: tuple[Path, ...] = ()
    campaigns: tuple[str, ...] = ()          # what ingest stores, and the programme reports
    inline: Mapping[str, Mapping] = field(default_factory=lambda: MappingProxyType({}))


#: Days a fixed ticket stays in the ticket exports after its verified fix, counted back from
#: the newest scan (``[tickets] fixed_within_days``, ``vulnpipe tickets --fixed-within``).
FIXED_WITHIN_DAYS = 30
#: The longest ``fixed_within_days`` a config may give (a century; "all" keeps every one).
MAX_FIXED_WITHIN_DAYS = 36_500


@dataclass(frozen=True)
class TicketSettingsConfig:
    knowledge_dirs: tuple[Path, ...] = ()
    fixed_within_days: int | None = FIXED_WITHIN_DAYS     # None: every fixed ticket


@dataclass(frozen=True)
class PoamSettings:
    """``[poam]``: the POA&M's header block, and the NIST controls per profile."""

    csp: str | None = None
    system_name: str | None = None
    impact_level: str | None = None          # Low | Moderate | High
    controls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ReportSettings:
    weeks: int = 12


@dataclass(frozen=True)
class RunSettings:
    out_dir: Path = Path("out")


@dataclass(frozen=True)
class ParseSettings:
    strict: bool = False                     # --strict / --no-strict win over it


@dataclass(frozen=True)
class Config:
    """Every section, with defaults for what the file leaves out. ``path`` is the file read
    (None when no file was used)."""

    path: Path | None = None
    inventory: InventorySettings = field(default_factory=InventorySettings)
    owners: OwnerSettings = field(default_factory=OwnerSettings)
    priority: PrioritySettings = field(default_factory=PrioritySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    profiles: ProfileSettings = field(default_factory=ProfileSettings)
    tickets: TicketSettingsConfig = field(default_factory=TicketSettingsConfig)
    report: ReportSettings = field(default_factory=ReportSettings)
    run: RunSettings = field(default_factory=RunSettings)
    parse: ParseSettings = field(default_factory=ParseSettings)
    jira: JiraSettings = field(default_factory=JiraSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    poam: PoamSettings = field(default_factory=PoamSettings)


# -- value checkers: (value, key path, config folder) -> value ---------------------------

Checker = Callable[[Any, str, Path], Any]


def _text(value: Any, key: str, base: Path) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be text, not {_kind(value)}")
    return value


def _bool(value: Any, key: str, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {_kind(value)}")
    return value


def _path(value: Any, key: str, base: Path) -> Path:
    path = Path(_text(value, key, base)).expanduser()
    return path if path.is_absolute() else base / path


def _columns(value: Any, key: str, base: Path) -> Mapping[str, str]:
    from vulnpipe.ingest.assets.inventory import CANONICAL_KEYS  # pandas: only when columns are mapped

    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table (canonical key = \"Header in the file\")")
    for name, header in value.items():
        if name not in CANONICAL_KEYS:
            raise ConfigError(f"{key}.{name} is not a known column key",
                              hint="keys: " + ", ".join(CANONICAL_KEYS))
        _text(header, f"{key}.{name}", base)
    return MappingProxyType(dict(value))


def _rules(value: Any, key: str, base: Path) -> tuple[Rule, ...]:
    return rules_from_config(value, key)


def _priority(value: Any, key: str, base: Path) -> str:
    return check_priority(value, key)


def _sla(value: Any, key: str, base: Path) -> int:
    return check_sla(value, key)


def _paths(value: Any, key: str, base: Path) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of paths, not {_kind(value)}")
    return tuple(_path(v, f"{key}[{i}]", base) for i, v in enumerate(value))


def _db_url(value: Any, key: str, base: Path) -> str:
    """A database URL; a plain SQLite path is read from the config's folder."""
    text = _text(value, key, base)
    if "://" in text:
        return text
    return str(_path(text, key, base))


def _weeks(value: Any, key: str, base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 260:
        raise ConfigError(f"{key} must be a whole number of weeks from 1 to 260, not {value!r}")
    return value


# -- checkers of [jira] and [mail] ----------------------------------------------------------

def _choice(*options: str) -> Checker:
    def check(value: Any, key: str, base: Path) -> str:
        if value not in options:
            raise ConfigError(f"{key} must be one of {', '.join(options)}, not {value!r}")
        return value
    return check


def _number(low: float, high: float, *, whole: bool = False) -> Checker:
    def check(value: Any, key: str, base: Path) -> Any:
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            what = "a whole number" if whole else "a number"
            raise ConfigError(f"{key} must be {what} from {low:g} to {high:g}, not {value!r}")
        return value
    return check


def _days_or_all(value: Any, key: str, base: Path) -> int | None:
    """A number of days from 0, or "all" (None)."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 0 <= value <= MAX_FIXED_WITHIN_DAYS:
        raise ConfigError(f'{key} must be a whole number of days from 0 to '
                          f'{MAX_FIXED_WITHIN_DAYS} or "all", not {value!r}')
    return value


def _url(value: Any, key: str, base: Path) -> str:
    text = _text(value, key, base).rstrip("/")
    if not text.startswith(("https://", "http://")):
        raise ConfigError(f"{key} must be an http(s) URL, not {text!r}",
                          hint='e.g. "https://example.atlassian.net"')
    return text


def _key_field(value: Any, key: str, base: Path) -> str:
    text = _text(value, key, base)
    if text != "label" and not (text.startswith("customfield_") and text[12:].isdigit()):
        raise ConfigError(f'{key} must be "label" or a custom field id like "customfield_10050", '
                          f"not {text!r}")
    return text


def _texts(value: Any, key: str, base: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of text, not {_kind(value)}")
    return tuple(_text(v, f"{key}[{i}]", base) for i, v in enumerate(value))


def _teams(value: Any, key: str, base: Path) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table (\"Team name\" = [\"address\", ...])")
    return MappingProxyType({team: _texts(v, f"{key}.{team}", base) for team, v in value.items()})


def _controls(value: Any, key: str, base: Path) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table (profile = \"CM-7, SC-7\", ...)")
    return MappingProxyType({name: ", ".join(_texts(v, f"{key}.{name}", base))
                             for name, v in value.items()})


def _jira_priorities(value: Any, key: str, base: Path) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table (P1 = \"Highest\", ...)")
    for name, jira_name in value.items():
        check_priority(name, f"{key}.{name}")
        _text(jira_name, f"{key}.{name}", base)
    return MappingProxyType({**JiraSettings().priorities, **value})


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


#: section name -> (settings class, {key: checker}). Keys are the dataclass field names.
SECTIONS: dict[str, tuple[type, dict[str, Checker]]] = {
    "inventory": (InventorySettings, {"path": _path, "sheet": _text, "columns": _columns}),
    "owners": (OwnerSettings, {"default_owner": _text, "default_owner_email": _text}),
    "priority": (PrioritySettings, {"rules": _rules, "fallback_priority": _priority,
                                    "fallback_sla_days": _sla,
                                    "restart_sla_after_acceptance": _bool}),
    "store": (StoreSettings, {"url": _db_url}),
    "profiles": (ProfileSettings, {"default": _text, "files": _paths, "campaigns": _texts}),
    "tickets": (TicketSettingsConfig, {"knowledge_dirs": _paths,
                                        "fixed_within_days": _days_or_all}),
    "report": (ReportSettings, {"weeks": _weeks}),
    "run": (RunSettings, {"out_dir": _path}),
    "parse": (ParseSettings, {"strict": _bool}),
    "jira": (JiraSettings, {
        "url": _url, "deployment": _choice(*DEPLOYMENTS), "project": _text, "issue_type": _text,
        "user": _text, "token_env": _text, "token_file": _path, "key_field": _key_field,
        "done_transition": _text, "reopen_transition": _text, "accepted_transition": _text,
        "false_positive_transition": _text, "priorities": _jira_priorities, "sync": _bool,
        "timeout": _number(1, 600), "max_attempts": _number(1, 20, whole=True),
        "max_retry_wait": _number(0, 3600)}),
    "mail": (MailSettings, {
        "host": _text, "port": _number(1, 65535, whole=True), "security": _choice(*SECURITY),
        "user": _text, "password_env": _text, "ca_file": _path, "sender": _text, "to": _texts,
        "teams": _teams, "send": _bool, "per_team": _bool, "timeout": _number(1, 600)}),
    "poam": (PoamSettings, {"csp": _text, "system_name": _text,
                            "impact_level": _choice("Low", "Moderate", "High"),
                            "controls": _controls}),
}


#: Paths a run creates when they are missing; every other path a config names must exist.
CREATED_PATHS = {("run", "out_dir")}


def check_paths(cfg: Config) -> None:
    """Every path ``cfg`` names exists (the folders a run creates need not yet, but must not
    be files; a SQLite database's folder must): a :class:`ConfigError` naming the key, so a
    job stops before it writes anything."""
    for name, (_cls, checkers) in SECTIONS.items():
        for key, checker in checkers.items():
            if checker not in (_path, _paths):
                continue
            value = getattr(getattr(cfg, name), key)
            listed = isinstance(value, tuple)
            for i, path in enumerate(value if listed else () if value is None else (value,)):
                label = f"[{name}] {key}" + (f"[{i}]" if listed else "")
                if (name, key) in CREATED_PATHS:
                    if path.exists() and not path.is_dir():
                        raise ConfigError(f"{label}: {path} is not a folder", path=cfg.path,
                                          hint=f"correct {label}")
                elif not path.exists():
                    raise ConfigError(f"{label}: {path} does not exist", path=cfg.path,
                                      hint=f"create it, or correct or remove {label}")
    url = cfg.store.url
    if url and "://" not in url and not Path(url).parent.is_dir():
        raise ConfigError(f"[store] url: folder {Path(url).parent} does not exist", path=cfg.path,
                          hint="create it, or correct [store] url")


def _section(name: str, table: Any, base: Path) -> Any:
    cls, checkers = SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table, not {_kind(table)}")
    inline = {}
    if name == "profiles":   # [profiles.NAME] tables define profiles (checked when used)
        inline = {k: v for k, v in table.items() if isinstance(v, dict)}
        table = {k: v for k, v in table.items() if k not in inline}
    unknown = sorted(set(table) - set(checkers))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [{name}]",
                          hint="known keys: " + ", ".join(checkers))
    key_path = "[[priority.rules]]" if name == "priority" else None
    values = {}
    for key, value in table.items():
        label = key_path if key == "rules" and key_path else f"[{name}] {key}"
        values[key] = checkers[key](value, label, base)
    if name == "profiles":
        from vulnpipe.ingest.profiles import profile_from_mapping
        for pname, body in inline.items():
            profile_from_mapping(pname, body, f"[profiles.{pname}]")   # fail early, clearly
        values["inline"] = MappingProxyType(inline)
        if values.get("campaigns") and "default" not in values:
            values["default"] = values["campaigns"][0]
    return cls(**values)


def config_from_mapping(data: Mapping[str, Any], *, path: Path | None = None) -> Config:
    """A :class:`Config` from parsed TOML (errors name the file when ``path`` is given)."""
    base = path.parent if path else Path.cwd()
    unknown = sorted(set(data) - set(SECTIONS))
    try:
        if unknown:
            raise ConfigError(f"unknown section [{unknown[0]}]",
                              hint="sections: " + ", ".join(f"[{s}]" for s in SECTIONS))
        sections = {name: _section(name, data[name], base) for name in SECTIONS if name in data}
    except VulnpipeError as exc:
        raise ConfigError(exc.what, path=path, hint=exc.hint) from None
    return Config(path=path, **sections)


def load_config(path: Path | str | None = None) -> Config:
    """Settings from ``path``; without it, the file ``$VULNPIPE_CONFIG`` names, else
    ``./vulnpipe.toml`` when present, else defaults. ``VULNPIPE_CONFIG`` set but empty (a
    missing CI secret) is an error, never a silent fallback."""
    if path is None and CONFIG_ENV in os.environ:
        path = os.environ[CONFIG_ENV].strip()
        if not path:
            raise ConfigError(f"{CONFIG_ENV} is set but empty",
                              hint="set it to the config file's path, or unset it")
    if path is None:
        found = Path.cwd() / CONFIG_NAME
        if not found.is_file():
            return Config()
        path = found
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("no such config file", path=path, hint="check --config") from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}",
                          path=path) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=path, hint="save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    return config_from_mapping(data, path=path)
