"""``vulnpipe jira sync``: one Jira issue per ticket, kept true week after week.

:func:`sync_tickets` finds the project's issues that carry a ticket key, looks up the
owners' Jira users by e-mail, plans (:mod:`.jira_plan`) and, unless asked only for the plan,
carries the plan out issue by issue. Every action is announced as one plan line before it
is done (the same lines ``--plan`` prints); a failure on one issue is reported and the
others go on. Jira unreachable or refusing the credentials ends the sync
(:class:`~.jira_client.JiraError`).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import httpx

from vulnpipe.reports.delivery.jira_client import JiraClient, JiraError, JiraRequestError, safe
from vulnpipe.reports.delivery.jira_plan import (
    CLOSED_STATES,
    Action,
    IssuePlan,
    comment_body,
    desired,
    emails_to_look_up,
    pick_user,
    plan,
    read_issues,
    search_fields,
    search_jql,
)
from vulnpipe.reports.delivery.settings import JiraSettings

Line = Callable[[str], None]
Notify = Callable[[str, str], None]
OFFLINE_USER = "(not looked up)"


@dataclass(frozen=True)
class KeyFailure:
    ticket_key: str
    issue_key: str | None
    message: str


@dataclass
class SyncResult:
    """What a sync planned and (unless ``applied`` is False) did."""

    plans: list[IssuePlan]
    applied: bool
    done: Counter = field(default_factory=Counter)         # action kind -> count carried out
    failures: list[KeyFailure] = field(default_factory=list)
    unknown_users: list[str] = field(default_factory=list)
    closed_without_issue: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def planned(self) -> Counter:
        return Counter(a.kind for p in self.plans for a in p.actions)

    def as_dict(self) -> dict[str, Any]:
        counts = self.done if self.applied else self.planned()
        return {"applied": self.applied, "issues": len(self.plans),
                **{kind: counts.get(kind, 0) for kind in ("create", "update", "transition", "comment")},
                "failed": [{"key": f.ticket_key, "issue": f.issue_key, "error": f.message}
                           for f in self.failures],
                "unknown_users": self.unknown_users, "ok": self.ok}

    def summary(self) -> str:
        counts = self.done if self.applied else self.planned()
        verbs = ", ".join(f"{counts.get(k, 0)} {w}" for k, w in
                          (("create", "to create" if not self.applied else "created"),
                           ("update", "to update" if not self.applied else "updated"),
                           ("transition", "to transition" if not self.applied else "transitioned"),
                           ("comment", "to comment" if not self.applied else "commented")))
        text = f"{len(self.plans)} issue(s) with changes: {verbs}"
        if self.closed_without_issue:
            text += (f"; {self.closed_without_issue} closed ticket(s) without an issue "
                     "(not created)")
        if self.unknown_users:
            text += f"; {len(self.unknown_users)} owner e-mail(s) with no Jira user"
        if self.failures:
            text += f"; {len(self.failures)} issue(s) failed"
        return text


def plan_line(p: IssuePlan, issue_key: str | None, a: Action) -> str:
    """``VP-…  SEC-12  update  summary, labels``: vulnpipe's words only, made printable."""
    return safe(f"{p.ticket_key}  {(issue_key or '(new)'):<10}  {a.kind:<10}  {a.detail}", 400)


def _pick_transition(client: JiraClient, issue_key: str, name: str, status: str) -> str:
    found = client.transitions(issue_key)
    wanted = name.casefold()
    match = (next((t for t in found if t.name.casefold() == wanted), None)
             or next((t for t in found if t.to_status.casefold() == wanted), None))
    if match is None:
        names = ", ".join(repr(t.name) for t in found) or "none"
        raise JiraRequestError(f"transition {name!r} is not available from status "
                               f"{status or 'unknown'!r} (available: {safe(names, 200)}); set the "
                               "[jira] transition names to the project's workflow")
    return match.id


def _create(client: JiraClient, settings: JiraSettings, ticket_key: str,
            fields: dict[str, Any]) -> str:
    """Create the issue. After a 5xx or no answer, Jira may have created it all the same:
    look for the key before trying again, so a retry never makes a duplicate."""
    attempts = max(1, settings.max_attempts)
    for attempt in range(1, attempts + 1):
        try:
            created = client.create_issue(fields)
        except JiraRequestError as exc:
            if not exc.transient or attempt == attempts:
                raise
            again, _ = read_issues(client.search(search_jql(settings, ticket_key),
                                                 search_fields(settings)), settings)
            if ticket_key in again:
                return again[ticket_key].issue_key
            client.pause(attempt)
            continue
        key = created.get("key") if isinstance(created, dict) else None
        if not isinstance(key, str) or not key:
            raise JiraRequestError("Jira created an issue but did not say its key")
        return key
    raise AssertionError("unreachable")


def _apply(client: JiraClient, settings: JiraSettings, p: IssuePlan, a: Action,
           issue_key: str | None, status: str) -> str | None:
    """Carry out one action; returns the issue key (known after a create)."""
    if a.kind == "create":
        return _create(client, settings, p.ticket_key, dict(a.fields))
    assert issue_key is not None
    if a.kind == "transition":
        client.transition(issue_key, _pick_transition(client, issue_key, a.transition or "", status))
    elif a.kind == "comment":
        client.comment(issue_key, comment_body(a.comment, settings))
    elif a.kind == "update":
        client.edit_issue(issue_key, dict(a.fields), dict(a.update))
    return issue_key


def _look_up_users(client: JiraClient | None, settings: JiraSettings, emails: Iterable[str],
                   result: SyncResult, notify: Notify) -> dict[str, str | None]:
    users: dict[str, str | None] = {}
    for email in emails:
        if client is None:
            users[email] = OFFLINE_USER
            continue
        try:
            users[email] = pick_user(email, client.find_users(email), settings)
        except JiraRequestError as exc:
            notify("verbose", f"user search for {safe(email, 120)}: {exc}")
            users[email] = None
        if users[email] is None:
            result.unknown_users.append(email)
            notify("note", f"no Jira user with e-mail {safe(email, 120)}: its tickets keep "
                           "their assignee (add the user or fix the inventory's owner e-mail)")
    return users


def sync_tickets(views: Iterable[dict], settings: JiraSettings, token: str | None, *,
                 apply: bool = True, offline: bool = False, line: Line = print,
                 notify: Notify = lambda level, text: None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0) -> SyncResult:
    """Bring the project's issues in line with ``views`` (ticket views, as every export
    renders them). ``apply=False`` only plans (and changes nothing); ``offline`` plans
    without asking Jira, as if no issue existed yet (a preview of a first sync)."""
    if not settings.project:
        raise JiraError("[jira] project is not set", hint='e.g. project = "SEC"')
    views = list(views)
    wanted = desired(views, settings)
    client = None
    if not offline:
        if not token:
            raise JiraError("no Jira token", hint=f"set the environment variable {settings.token_env} "
                                                  "or [jira] token_file")
        client = JiraClient(settings, token, transport=transport, sleep=sleep, backoff=backoff)
    try:
        found: dict[str, Any] = {}
        notes: list[str] = []
        if client is not None:
            try:
                found, notes = read_issues(client.search(search_jql(settings),
                                                         search_fields(settings)), settings)
            except JiraRequestError as exc:
                raise JiraError(f"cannot search Jira for the project's issues: {exc}",
                                hint="check [jira] url, project and deployment") from None
        result = SyncResult(plans=[], applied=apply and not offline, notes=notes)
        for text in notes:
            notify("note", text)
        users = _look_up_users(client, settings, emails_to_look_up(wanted, found), result, notify)
        result.plans = plan(wanted, found, users, settings)
        result.closed_without_issue = sum(1 for d in wanted
                                          if d.key not in found and d.state in CLOSED_STATES)
        statuses = {k: f.status for k, f in found.items()}
        for p in result.plans:
            issue_key = p.issue_key
            for a in p.actions:
                line(plan_line(p, issue_key, a))
                if not result.applied:
                    continue
                assert client is not None
                try:
                    issue_key = _apply(client, settings, p, a, issue_key,
                                       statuses.get(p.ticket_key, ""))
                except JiraRequestError as exc:
                    result.failures.append(KeyFailure(p.ticket_key, issue_key, str(exc)))
                    notify("error", f"{p.ticket_key}: {issue_key or 'new issue'}: {a.kind} "
                                    f"failed: {exc}")
                    break
                result.done[a.kind] += 1
        return result
    finally:
        if client is not None:
            client.close()
