"""Priority (P1-P4) and SLA days from a rule table; due date = first seen + SLA days.

Rules are tried in order; the first rule whose every condition holds decides. A condition
left out matches anything. Conditions:

* ``criticality``: list of ``critical``, ``high``, ``medium``, ``low``, ``unknown``
  (``unknown`` = the asset has no criticality, or the host matched no asset);
* ``internet_facing``: ``true``, ``false`` or ``"unknown"``;
* ``profile_role``: list of ``primary``, ``related``, ``none`` (``none`` = profile ``all``);
* ``min_severity``: the finding's Nessus severity is at least this (0 info ... 4 critical).

No rule matching gives the fallback (``P4``, 180 days unless configured).
See ``docs/config.md`` for the ``[priority]`` section of ``vulnpipe.toml``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from vulnpipe.ingest.errors import InputError

if TYPE_CHECKING:      # numpy/pandas load only when priorities are computed, not with the config
    import numpy as np
    import pandas as pd

PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
CRITICALITY_VALUES = frozenset({"critical", "high", "medium", "low", "unknown"})
ROLE_VALUES = frozenset({"primary", "related", "none"})
DEFAULT_FALLBACK: tuple[str, int] = ("P4", 180)


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: conditions (None = any) -> priority and SLA days."""

    priority: str
    sla_days: int
    name: str = ""
    criticality: frozenset[str] | None = None
    internet_facing: bool | str | None = None       # True, False, "unknown" or None (any)
    profile_role: frozenset[str] | None = None
    min_severity: int | None = None


def _r(name, priority, sla, **conditions) -> Rule:
    for key in ("criticality", "profile_role"):
        if key in conditions:
            conditions[key] = frozenset(conditions[key])
    return Rule(priority=priority, sla_days=sla, name=name, **conditions)


#: The built-in table. The first rules are for the ``l2tp`` profile's primary finding
#: (plugin 11387, an L2TP endpoint), then its related VPN findings, then plain severity for
#: profile ``all``.
DEFAULT_RULES: tuple[Rule, ...] = (
    _r("internet-facing L2TP endpoint on a critical asset", "P1", 7,
       profile_role={"primary"}, internet_facing=True, criticality={"critical"}),
    _r("internet-facing L2TP endpoint", "P2", 14,
       profile_role={"primary"}, internet_facing=True),
    _r("L2TP endpoint on an unknown or unowned host", "P2", 14,
       profile_role={"primary"}, criticality={"unknown"}),
    _r("internal L2TP endpoint on a critical or high asset", "P3", 30,
       profile_role={"primary"}, criticality={"critical", "high"}),
    _r("internal L2TP endpoint", "P4", 90, profile_role={"primary"}),
    _r("related VPN finding on an internet-facing critical or high asset", "P3", 30,
       profile_role={"related"}, internet_facing=True, criticality={"critical", "high"}),
    _r("related VPN finding", "P4", 90, profile_role={"related"}),
    _r("critical severity", "P1", 15, min_severity=4),
    _r("high severity", "P2", 30, min_severity=3),
    _r("medium severity", "P3", 90, min_severity=2),
)

_RULE_KEYS = ("name", "priority", "sla_days", "criticality", "internet_facing", "profile_role",
              "min_severity")


def _fail(where: str, what: str) -> InputError:
    return InputError(f"{where}: {what}", hint="see docs/config.md, section [priority]")


def check_priority(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in PRIORITIES:
        raise _fail(where, f"must be one of {', '.join(PRIORITIES)}, not {value!r}")
    return value.upper()


#: The longest SLA a rule may give: ten years (a due date must stay a calendar date).
MAX_SLA_DAYS = 3650


def check_sla(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SLA_DAYS:
        raise _fail(where, f"must be a whole number of days from 0 to {MAX_SLA_DAYS}, "
                           f"not {value!r}")
    return value


def _words(value: Any, allowed: frozenset[str], where: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise _fail(where, f"must be a list of {', '.join(sorted(allowed))}")
    words = frozenset(v.strip().lower() for v in items)
    bad = sorted(words - allowed)
    if bad:
        raise _fail(where, f"unknown value(s) {', '.join(bad)} (use {', '.join(sorted(allowed))})")
    return words


def rule_from_mapping(data: Mapping[str, Any], where: str) -> Rule:
    """One ``[[priority.rules]]`` table as a :class:`Rule` (errors name the key)."""
    if not isinstance(data, Mapping):
        raise _fail(where, "must be a table")
    unknown = sorted(set(data) - set(_RULE_KEYS))
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r} (keys: {', '.join(_RULE_KEYS)})")
    for key in ("priority", "sla_days"):
        if key not in data:
            raise _fail(where, f"missing key {key!r}")
    kwargs: dict[str, Any] = {
        "priority": check_priority(data["priority"], f"{where}.priority"),
        "sla_days": check_sla(data["sla_days"], f"{where}.sla_days"),
    }
    if "name" in data:
        if not isinstance(data["name"], str):
            raise _fail(f"{where}.name", "must be text")
        kwargs["name"] = data["name"]
    if "criticality" in data:
        kwargs["criticality"] = _words(data["criticality"], CRITICALITY_VALUES,
                                       f"{where}.criticality")
    if "profile_role" in data:
        kwargs["profile_role"] = _words(data["profile_role"], ROLE_VALUES, f"{where}.profile_role")
    if "internet_facing" in data:
        value = data["internet_facing"]
        if isinstance(value, str) and value.strip().lower() == "unknown":
            value = "unknown"
        elif not isinstance(value, bool):
            raise _fail(f"{where}.internet_facing", f"must be true, false or \"unknown\", "
                                                    f"not {value!r}")
        kwargs["internet_facing"] = value
    if "min_severity" in data:
        value = data["min_severity"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
            raise _fail(f"{where}.min_severity", f"must be 0-4, not {value!r}")
        kwargs["min_severity"] = value
    return Rule(**kwargs)


def rules_from_config(items: Any, where: str = "[[priority.rules]]") -> tuple[Rule, ...]:
    """A ``[[priority.rules]]`` array as rules, in order."""
    if not isinstance(items, list):
        raise _fail(where, "must be an array of tables ([[priority.rules]])")
    return tuple(rule_from_mapping(item, f"{where} #{i}") for i, item in enumerate(items, 1))


def _text(frame: "pd.DataFrame", name: str, missing: str) -> "np.ndarray":
    import numpy as np

    if name not in frame.columns:
        return np.full(len(frame), missing, dtype=object)
    col = frame[name].astype(object)
    col = col.where(col.notna() & (col.astype(str) != ""), missing)
    return col.astype(str).str.lower().to_numpy(dtype=object)


def assign_priority(frame: "pd.DataFrame", rules: Sequence[Rule],
                    fallback: tuple[str, int] = DEFAULT_FALLBACK) -> "tuple[pd.Series, pd.Series]":
    """``(priority, sla_days)`` for every row of ``frame`` (columns used when present:
    ``criticality``, ``internet_facing``, ``profile_role``, ``severity``), same index."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    crit = _text(frame, "criticality", "unknown")
    role = _text(frame, "profile_role", "none")
    if "internet_facing" in frame.columns:
        facing = frame["internet_facing"].astype("boolean")
        exposure = np.where(facing.isna().to_numpy(), "unknown",
                            np.where(facing.fillna(False).to_numpy(dtype=bool), "true", "false"))
    else:
        exposure = np.full(n, "unknown", dtype=object)
    severity = (frame["severity"].astype("Float64").fillna(-1).to_numpy(dtype="float64")
                if "severity" in frame.columns else np.full(n, -1.0))
    priority = np.full(n, fallback[0], dtype=object)
    sla = np.full(n, fallback[1], dtype="int64")
    open_ = np.ones(n, dtype=bool)
    for rule in rules:
        hit = open_.copy()
        if rule.criticality is not None:
            hit &= np.isin(crit, list(rule.criticality))
        if rule.profile_role is not None:
            hit &= np.isin(role, list(rule.profile_role))
        if rule.internet_facing is not None:
            want = rule.internet_facing if isinstance(rule.internet_facing, str) \
                else ("true" if rule.internet_facing else "false")
            hit &= exposure == want
        if rule.min_severity is not None:
            hit &= severity >= rule.min_severity
        priority[hit] = rule.priority
        sla[hit] = rule.sla_days
        open_ &= ~hit
    return (pd.Series(priority, index=frame.index, dtype="string"),
            pd.Series(sla, index=frame.index, dtype="Int64"))


def due_dates(first_seen: "pd.Series", sla_days: "pd.Series") -> "pd.Series":
    """First-seen UTC calendar day + SLA days, as midnight dates without a zone (NaT when
    the first-seen time is unknown)."""
    import pandas as pd

    start = pd.to_datetime(first_seen, utc=True)
    days = pd.to_timedelta(sla_days.astype("float64"), unit="D")
    return (start.dt.tz_convert(None).dt.normalize() + days).astype("datetime64[us]")
