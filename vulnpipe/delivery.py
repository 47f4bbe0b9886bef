"""The deliveries as the commands and ``vulnpipe run`` use them: ``[jira]`` and ``[mail]``
of the config turned into calls of :mod:`vulnpipe.reports.delivery`.

    result = sync_jira(cfg, views, apply=False)        # the plan only
    outcome = mail_report(cfg, built, per_team=True, dry_run=Path("out/mail"))

Secrets are read here and nowhere else: the Jira token from ``[jira] token_file`` or the
environment variable ``[jira] token_env``, the SMTP password from ``[mail] password_env``.
They are never printed, logged or put in an error message.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

from vulnpipe.config import Config
from vulnpipe.ingest.errors import InputError, VulnpipeError

if TYPE_CHECKING:
    from vulnpipe.reports.delivery.jira_sync import SyncResult
    from vulnpipe.workflows import ProgrammeBuilt, WeeklyBuilt

Notify = Callable[[str, str], None]


def _quiet(_level: str, _text: str) -> None:
    return None


def jira_token(cfg: Config) -> str | None:
    """The Jira token: the content of ``[jira] token_file`` when set, else the environment
    variable named by ``[jira] token_env`` (None when neither gives one)."""
    settings = cfg.jira
    if settings.token_file is not None:
        try:
            text = settings.token_file.read_text("utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read the Jira token file: {exc.strerror or exc}",
                             path=settings.token_file, hint="check [jira] token_file") from None
        if not text:
            raise InputError("the Jira token file is empty", path=settings.token_file)
        return text
    return os.environ.get(settings.token_env, "").strip() or None


def sync_jira(cfg: Config, views: Sequence[dict], *, apply: bool = True, offline: bool = False,
              line: Callable[[str], None] = print, notify: Notify = _quiet,
              **client_options: Any) -> "SyncResult":
    """One Jira issue per ticket of ``views`` (see
    :func:`vulnpipe.reports.delivery.jira_sync.sync_tickets`)."""
    from vulnpipe.reports.delivery.jira_sync import sync_tickets

    if not offline and not cfg.jira.url:
        raise InputError("[jira] url is not set in the config",
                         path=cfg.path or "vulnpipe.toml",
                         hint="see docs/howto/jira-sync.md; --plan --offline needs only [jira] project")
    token = None if offline else jira_token(cfg)
    host = (cfg.jira.url or "").split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if not offline and (cfg.jira.url or "").startswith("http://") \
            and host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        notify("note", f"[jira] url {cfg.jira.url} is not https: the token crosses the network "
                       "unencrypted")
    return sync_tickets(views, cfg.jira, token, apply=apply, offline=offline, line=line,
                        notify=notify, **client_options)


@dataclass
class MailOutcome:
    """What :func:`mail_report` did: messages written (dry run) or sent, and failures."""

    written: list[Path] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)              # mail.Sent
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.written:
            return f"wrote {len(self.written)} e-mail(s) to {self.written[0].parent}/ (not sent)"
        delivered = [s for s in self.sent if s.error is None]
        people = sum(s.recipients for s in self.sent)
        return (f"sent {len(delivered)} of {len(self.sent)} e-mail(s) to {people} recipient(s)"
                + (f"; {len(self.errors)} failed" if self.errors else ""))

    def as_dict(self) -> dict[str, Any]:
        return {"written": [str(p) for p in self.written],
                "sent": [{"report": s.label, "recipients": s.recipients, "error": s.error}
                         for s in self.sent],
                "errors": self.errors, "ok": self.ok}


def mail_report(cfg: Config, built: "WeeklyBuilt | ProgrammeBuilt", *, per_team: bool = False,
                to: Sequence[str] | None = None, dry_run: Path | None = None,
                notify: Notify = _quiet, now: datetime | None = None) -> MailOutcome:
    """E-mail the weekly report ``built``: to ``to`` (default ``[mail] to``), and with
    ``per_team`` each team its own. Given several campaigns' programme report, the
    programme goes to ``to``, and with ``per_team`` each team gets each campaign's report
    on its assets. ``dry_run``: write ``.eml`` files there instead of sending. A server that
    cannot be reached or refuses is an error in the outcome (the report files are already
    written by then)."""
    from vulnpipe.reports.delivery.mail import (
        MailError,
        build_message,
        programme_mails,
        send,
        weekly_mails,
        write_eml,
    )

    settings = cfg.mail
    outcome = MailOutcome()
    overview = list(to) if to else list(settings.to)
    if hasattr(built, "programme"):     # (a ProgrammeBuilt; workflows is not imported here)
        several = cast("ProgrammeBuilt", built)
        mails = programme_mails(several.programme, [b.history for b in several.builts],
                                per_team=per_team, settings=settings, overview=overview,
                                triage=cfg.owners.default_owner_email, notify=notify)
    else:
        mails = weekly_mails(built.history, built.report, per_team=per_team, settings=settings,
                             overview=overview, triage=cfg.owners.default_owner_email,
                             notify=notify)
    if not mails:
        outcome.errors.append("no e-mail to send: no recipient (set [mail] to, [mail.teams], "
                              "or give --mail-to)")
        return outcome
    try:
        messages = [(m, build_message(m, settings.sender, now=now)) for m in mails]
        if dry_run is not None:
            outcome.written = write_eml(messages, dry_run)
            return outcome
        password = (os.environ.get(settings.password_env) or None) if settings.user else None
        outcome.sent = send(messages, settings, password)
    except MailError as exc:
        outcome.errors.append(str(exc))
        return outcome
    outcome.errors.extend(s.error for s in outcome.sent if s.error)
    return outcome


def run_deliveries(cfg: Config, views: Sequence[dict] | Callable[[], Sequence[dict]],
                   built: "WeeklyBuilt | ProgrammeBuilt | None", notify: Notify = _quiet
                   ) -> dict[str, Any]:
    """The optional last steps of ``vulnpipe run``: ``[jira] sync = true`` and ``[mail]
    send = true`` (``views``: the tickets Jira is synced with, or what gives them, asked
    only when it is; ``built``: the report mailed, a campaign's or the programme's). Each
    failure is reported through ``notify`` and in the returned dict (``{"jira": {...,
    "ok": ...}, "mail": {...}}``); nothing is raised."""
    done: dict[str, Any] = {}
    if cfg.jira.sync:
        try:
            result = sync_jira(cfg, views() if callable(views) else views,
                               line=lambda text: notify("info", "jira: " + text), notify=notify)
            done["jira"] = result.as_dict()
            notify("info", "jira: " + result.summary())
        except VulnpipeError as exc:
            notify("error", f"jira sync: {exc}")
            done["jira"] = {"ok": False, "error": str(exc)}
    if cfg.mail.send:
        if built is None:
            done["mail"] = {"ok": True, "skipped": "no report (the store holds no scan)"}
        else:
            try:
                outcome = mail_report(cfg, built, per_team=cfg.mail.per_team, notify=notify)
            except VulnpipeError as exc:
                outcome = MailOutcome(errors=[str(exc)])
            for text in outcome.errors:
                notify("error", f"mail: {text}")
            if outcome.sent:
                notify("info", "mail: " + outcome.summary())
            done["mail"] = outcome.as_dict()
    return done


def config_lines(cfg: Config) -> list[tuple[str, str]]:
    """``vulnpipe config check``'s lines about ``[jira]`` and ``[mail]`` (no secret shown:
    only whether it is there)."""
    lines = []
    j = cfg.jira
    if j.url or j.project:
        where = f"token file {j.token_file}" if j.token_file else f"${j.token_env}"
        has = "set" if (j.token_file and j.token_file.is_file()) or os.environ.get(j.token_env) \
            else "NOT set"
        lines.append(("jira", f"{j.url or '(no url)'} project {j.project or '(none)'} "
                              f"({j.deployment}); key in {j.key_field}; token from {where}: {has}; "
                              f"run syncs: {'yes' if j.sync else 'no'}"))
    m = cfg.mail
    if m.host or m.to or m.teams:
        lines.append(("mail", f"{m.host or '(no host)'}:{m.port_in_use} ({m.security}); "
                              f"{len(m.to)} overview recipient(s), {len(m.teams)} team(s) "
                              f"configured; run sends: {'yes' if m.send else 'no'}"
                              f"{', per team' if m.send and m.per_team else ''}"))
    return lines
