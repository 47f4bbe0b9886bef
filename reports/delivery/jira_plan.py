"""What ``vulnpipe jira sync`` has to do: the desired issue of every ticket, compared with
the issues found in Jira, as a list of actions per ticket key. Pure: no I/O.

How an issue is tied to its ticket: the ticket key (``VP-…``) is a label of the issue (or the
value of a configured custom field), never the summary. How the sync remembers what it last
told Jira about the ticket's state: a ``vulnpipe-<state>`` label (``vulnpipe-open``,
``vulnpipe-fixed``, …). When the ticket's state differs from that label, the sync acts once
(done transition and a comment quoting the covering rescan for a verified fix; reopen and a
comment when it resurfaces; a comment on risk acceptance or false positive) and then moves
the label. So a second run right after the first finds nothing to do, and a person who
reopens or closes an issue by hand is not overruled week after week.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from vulnpipe.reports.delivery import adf
from vulnpipe.reports.delivery.settings import JiraSettings
from vulnpipe.reports.tickets.export import jira_description, jira_labels, jira_text
from vulnpipe.reports.tickets.model import FALSE_POSITIVE, FIXED, OPEN, OPEN_STATES, RESURFACED, RISK_ACCEPTED

KEY_PATTERN = re.compile(r"^VP-[0-9A-F]{10}$")
STATE_LABELS = {s: "vulnpipe-" + s.replace("_", "-")
                for s in (OPEN, RESURFACED, RISK_ACCEPTED, FALSE_POSITIVE, FIXED)}
LABEL_STATES = {label: state for state, label in STATE_LABELS.items()}
#: Labels vulnpipe manages besides the desired ones: removed when no longer wanted.
_MANAGED = re.compile(r"^(p[1-4]|team-.*|vulnpipe-(open|resurfaced|risk-accepted|false-positive|fixed))$")
SUMMARY_MAX = 255
DONE = "done"
CLOSED_STATES = frozenset({FIXED, FALSE_POSITIVE})


# -- the desired issue ----------------------------------------------------------------------

@dataclass(frozen=True)
class Desired:
    """One ticket as its Jira issue should be."""

    key: str
    state: str
    summary: str
    description: Any                 # ADF (Cloud) or wiki markup (Data Center)
    priority: str
    duedate: str | None
    email: str | None                # the owner's, looked up to a Jira user
    labels: tuple[str, ...]          # without the state label
    view: dict = field(compare=False, repr=False)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def summary_text(view: dict) -> str:
    """The Jira CSV's summary (``[VP-…] title``) on one line, within Jira's 255 characters."""
    text = " ".join(f"[{view['key']}] {view['title']}".split())
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


def desired(views: Iterable[dict], settings: JiraSettings) -> list[Desired]:
    """Every ticket view (:func:`~vulnpipe.reports.tickets.view.ticket_views`) as the
    issue it should be: the Jira CSV's content, description in ADF on Cloud."""
    out = []
    for v in views:
        wiki = jira_description(v)
        labels = [*jira_labels(v), v["key"]]     # the key label, with a custom field too
        out.append(Desired(
            key=v["key"], state=v["state"], summary=summary_text(v),
            description=adf.wiki_to_adf(wiki) if settings.cloud else wiki,
            priority=settings.priorities.get(v["priority"] or "", "Medium"),
            duedate=v["due_date"], email=v["owner_email"] or None,
            labels=tuple(dict.fromkeys(labels)), view=v))
    return out


# -- the issue found ------------------------------------------------------------------------

@dataclass(frozen=True)
class Found:
    """A Jira issue carrying a ticket key, with the fields the sync compares."""

    issue_key: str                   # SEC-12
    ticket_key: str                  # VP-…
    summary: str
    description: Any
    priority: str | None
    duedate: str | None
    assignee: str | None             # accountId (Cloud) or user name (Data Center)
    labels: tuple[str, ...]
    status: str
    category: str | None             # the status category: new, indeterminate, done

    @property
    def last_state(self) -> str:
        """The state the sync last gave the issue (its ``vulnpipe-…`` label); without one,
        ``fixed`` for an issue in a done status, else ``open``."""
        for label in self.labels:
            if label in LABEL_STATES:
                return LABEL_STATES[label]
        return FIXED if self.category == DONE else OPEN


def search_fields(settings: JiraSettings) -> list[str]:
    fields = ["summary", "description", "priority", "duedate", "assignee", "labels", "status"]
    return fields + ([settings.custom_field] if settings.custom_field else [])


def jql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_jql(settings: JiraSettings, ticket_key: str | None = None) -> str:
    """The issues of the project that carry a ticket key (or ``ticket_key``'s)."""
    project = f"project = {jql_string(settings.project or '')}"
    field_id = settings.custom_field
    if field_id:
        number = field_id.rsplit("_", 1)[-1]
        if ticket_key:
            return f"{project} AND cf[{number}] ~ {jql_string(ticket_key)}"
        return f"{project} AND cf[{number}] is not EMPTY"
    return f"{project} AND labels = {jql_string(ticket_key or 'vulnpipe')}"


def _issue_number(issue_key: str) -> tuple[int, str]:
    tail = issue_key.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 1 << 62, issue_key)


def read_issues(raw: Iterable[dict], settings: JiraSettings) -> tuple[dict[str, Found], list[str]]:
    """Search results as ``{ticket key: Found}``; when several issues carry one key, the
    oldest (lowest number) is kept and the others named in the notes."""
    by_key: dict[str, list[Found]] = {}
    for issue in raw:
        f = issue.get("fields") or {}
        labels = tuple(str(label) for label in f.get("labels") or ())
        if settings.custom_field:
            value = f.get(settings.custom_field)
            keys = [value.strip()] if isinstance(value, str) and KEY_PATTERN.match(value.strip()) else []
        else:
            keys = [label for label in labels if KEY_PATTERN.match(label)]
        if len(keys) != 1:
            continue
        status = f.get("status") or {}
        assignee = f.get("assignee") or {}
        found = Found(
            issue_key=str(issue.get("key")), ticket_key=keys[0], summary=f.get("summary") or "",
            description=f.get("description"), priority=(f.get("priority") or {}).get("name"),
            duedate=f.get("duedate"),
            assignee=assignee.get("accountId" if settings.cloud else "name"),
            labels=labels, status=str(status.get("name", "")),
            category=(status.get("statusCategory") or {}).get("key"))
        by_key.setdefault(found.ticket_key, []).append(found)
    notes = []
    chosen = {}
    for key, issues in by_key.items():
        issues.sort(key=lambda x: _issue_number(x.issue_key))
        chosen[key] = issues[0]
        if len(issues) > 1:
            notes.append(f"{key}: {len(issues)} Jira issues carry this key "
                         f"({', '.join(i.issue_key for i in issues)}); syncing {issues[0].issue_key}, "
                         "the oldest (close the others as duplicates)")
    return chosen, notes


# -- actions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    kind: str                                    # create | transition | comment | update
    detail: str                                  # for the plan line: vulnpipe's words only
    fields: Mapping[str, Any] = field(default_factory=dict)
    update: Mapping[str, Any] = field(default_factory=dict)
    transition: str | None = None                # the configured transition name
    comment: tuple[str, ...] = ()                # lines of plain text


@dataclass(frozen=True)
class IssuePlan:
    ticket_key: str
    issue_key: str | None                        # None: the issue is created first
    actions: tuple[Action, ...]


def _assignee(user_id: str, settings: JiraSettings) -> dict[str, str]:
    return {"accountId": user_id} if settings.cloud else {"name": user_id}


def _same_description(found: Any, want: Any, settings: JiraSettings) -> bool:
    if settings.cloud:
        return isinstance(found, dict) and adf.fingerprint(found) == adf.fingerprint(want)
    def norm(s):
        return ("\n".join(line.rstrip() for line in str(s or "").replace("\r\n", "\n")
                                    .split("\n")).strip())
    return norm(found) == norm(want)


def _field_changes(d: Desired, f: Found, user_id: str | None,
                   settings: JiraSettings) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if " ".join(f.summary.split()) != d.summary:
        changes["summary"] = d.summary
    if not _same_description(f.description, d.description, settings):
        changes["description"] = d.description
    if f.priority != d.priority:
        changes["priority"] = {"name": d.priority}
    if (f.duedate or None) != d.duedate:
        changes["duedate"] = d.duedate
    if user_id is not None and f.assignee != user_id:
        changes["assignee"] = _assignee(user_id, settings)
    return changes


def _label_ops(current: Iterable[str], wanted: Iterable[str]) -> list[dict[str, str]]:
    have, want = set(current), list(dict.fromkeys(wanted))
    ops = [{"add": label} for label in want if label not in have]
    ops += [{"remove": label} for label in sorted(have - set(want)) if _MANAGED.match(label)]
    return ops


def create_fields(d: Desired, user_id: str | None, settings: JiraSettings,
                  with_state_label: bool) -> dict[str, Any]:
    labels = [*d.labels, d.state_label] if with_state_label else [*d.labels]
    fields: dict[str, Any] = {
        "project": {"key": settings.project}, "issuetype": {"name": settings.issue_type},
        "summary": d.summary, "description": d.description, "priority": {"name": d.priority},
        "labels": labels,
    }
    if d.duedate:
        fields["duedate"] = d.duedate
    if user_id is not None:
        fields["assignee"] = _assignee(user_id, settings)
    if settings.custom_field:
        fields[settings.custom_field] = d.key
    return fields


def _latest(view: dict, *kinds: str) -> dict:
    for event in reversed(view.get("history") or []):
        if event.get("event") in kinds:
            return event
    return {}


def _findings(detail: dict) -> str:
    found = detail.get("findings") or []
    return ", ".join(str(f) for f in found) if isinstance(found, list) else str(found)


def comment_lines(view: dict, before: str, after: str) -> tuple[str, ...]:
    """What the comment on a state change says (plain text; made safe by the caller)."""
    key = view["key"]
    if after == FIXED:
        ev = _latest(view, "fixed")
        d = ev.get("detail") or {}
        policy = f" (policy {d['policy']})" if d.get("policy") else ""
        return (f"vulnpipe {key}: verified fixed.",
                f"Covering rescan: {d.get('scan', 'unknown')}{policy}, at {ev.get('at', 'unknown')}.",
                f"No longer reported: {_findings(d) or 'every finding of the ticket'}.",
                f"Coverage: {d.get('coverage', 'covered')}.")
    if after == RISK_ACCEPTED:
        a = view.get("acceptance") or {}
        return (f"vulnpipe {key}: risk accepted until {a.get('until') or 'no end date'} "
                f"by {a.get('approver') or 'unknown'}.", f"Reason: {a.get('reason') or '-'}")
    if after == FALSE_POSITIVE:
        fp = view.get("false_positive") or {}
        return (f"vulnpipe {key}: marked a false positive"
                f"{' by ' + fp['approver'] if fp.get('approver') else ''}.",
                f"Reason: {fp.get('reason') or '-'}")
    if after == RESURFACED and before in (FIXED, OPEN):
        ev = _latest(view, "resurfaced")
        d = ev.get("detail") or {}
        return (f"vulnpipe {key}: resurfaced after a verified fix.",
                f"Reported again by scan {d.get('scan', 'unknown')} at {ev.get('at', 'unknown')}"
                f"{': ' + _findings(d) if _findings(d) else ''}.")
    if before == RISK_ACCEPTED:
        ev = _latest(view, "acceptance_expired", "reopened")
        d = ev.get("detail") or {}
        why = (f"the risk acceptance expired (last day {d.get('until')})"
               if ev.get("event") == "acceptance_expired"
               else f"the risk acceptance was withdrawn: {d.get('reason') or '-'}")
        return (f"vulnpipe {key}: open again: {why}.",)
    if before == FALSE_POSITIVE:
        d = _latest(view, "reopened").get("detail") or {}
        return (f"vulnpipe {key}: open again: the false-positive decision was withdrawn: "
                f"{d.get('reason') or '-'}.",)
    return ()


def comment_body(lines: Iterable[str], settings: JiraSettings) -> Any:
    """A comment as Jira takes it: ADF text (Cloud) or escaped wiki markup (Data Center)."""
    lines = [" ".join(line.split()) for line in lines]     # people's text on one line each
    if settings.cloud:
        return adf.text_doc(lines)
    return "\n".join(jira_text(line) for line in lines)


def _state_actions(d: Desired, before: str, category: str | None,
                   settings: JiraSettings) -> list[Action]:
    after = d.state
    if before == after:
        return []
    acts: list[Action] = []
    if after == FIXED and category != DONE:
        acts.append(Action("transition", settings.done_transition,
                           transition=settings.done_transition))
    elif after in OPEN_STATES and category == DONE:
        acts.append(Action("transition", settings.reopen_transition,
                           transition=settings.reopen_transition))
    elif after == RISK_ACCEPTED and settings.accepted_transition:
        acts.append(Action("transition", settings.accepted_transition,
                           transition=settings.accepted_transition))
    elif after == FALSE_POSITIVE and settings.false_positive_transition:
        acts.append(Action("transition", settings.false_positive_transition,
                           transition=settings.false_positive_transition))
    lines = comment_lines(d.view, before, after)
    if lines:
        acts.append(Action("comment", f"{before.replace('_', ' ')} -> {after.replace('_', ' ')}",
                           comment=lines))
    return acts


def _describe_create(d: Desired, settings: JiraSettings, user_id: str | None) -> str:
    who = "assignee " + (d.email or "") if user_id is not None else "unassigned"
    return (f"in {settings.project}: {d.state.replace('_', ' ')}, priority {d.priority}, "
            f"due {d.duedate or '-'}, {who}")


def plan(wanted: Iterable[Desired], found: Mapping[str, Found],
         users: Mapping[str, str | None], settings: JiraSettings) -> list[IssuePlan]:
    """The actions per ticket key, in ticket-key order; keys with nothing to do are left out.
    A ticket that is closed (fixed or false positive) and has no issue yet gets none."""
    plans = []
    for d in sorted(wanted, key=lambda x: x.key):
        user_id = users.get(d.email) if d.email else None
        f = found.get(d.key)
        if f is None:
            if d.state in CLOSED_STATES:
                continue
            follow = _state_actions(d, OPEN, None, settings) if d.state == RISK_ACCEPTED else []
            acts = [Action("create", _describe_create(d, settings, user_id),
                           fields=create_fields(d, user_id, settings, not follow))]
            if follow:
                acts += follow
                acts.append(Action("update", "labels",
                                   update={"labels": [{"add": d.state_label}]}))
            plans.append(IssuePlan(d.key, None, tuple(acts)))
            continue
        acts = _state_actions(d, f.last_state, f.category, settings)
        changes = _field_changes(d, f, user_id, settings)
        ops = _label_ops(f.labels, [*d.labels, d.state_label])
        if changes or ops:
            names = [*changes] + (["labels"] if ops else [])
            acts.append(Action("update", ", ".join(names), fields=changes,
                               update={"labels": ops} if ops else {}))
        if acts:
            plans.append(IssuePlan(d.key, f.issue_key, tuple(acts)))
    return plans


def emails_to_look_up(wanted: Iterable[Desired], found: Mapping[str, Found]) -> list[str]:
    """Owner e-mails of tickets that will have an issue (lookups are needed only for them)."""
    return sorted({d.email for d in wanted
                   if d.email and (d.key in found or d.state not in CLOSED_STATES)})


def pick_user(email: str, users: list[dict[str, Any]], settings: JiraSettings) -> str | None:
    """The user whose e-mail is ``email`` among a user search's answer: an exact
    (case-insensitive) e-mail match, else the only active user found when Jira hides
    e-mail addresses; None when there is no such user."""
    id_field = "accountId" if settings.cloud else "name"
    active = [u for u in users if isinstance(u, dict) and u.get(id_field) and u.get("active", True)]
    exact = [u for u in active if str(u.get("emailAddress", "")).casefold() == email.casefold()]
    if len(exact) == 1:
        return str(exact[0][id_field])
    hidden = [u for u in active if not u.get("emailAddress")]
    if not exact and len(hidden) == 1 and len(active) == 1:
        return str(hidden[0][id_field])
    return None
