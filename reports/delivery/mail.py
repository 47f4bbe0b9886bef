"""E-mail delivery of the weekly report: one message per recipient group, sent over SMTP or
written as ``.eml`` files.

Each message is ``multipart/mixed``: a ``multipart/alternative`` of the Markdown summary
(:func:`~vulnpipe.reports.weekly.md_out.render_markdown`, as plain text) and the HTML report
(:func:`~vulnpipe.reports.weekly.html_out.render_html`: self-contained, inline SVG, nothing
remote, autoescaped), then the Excel workbook attached
(:func:`~vulnpipe.reports.weekly.xlsx_out.write_xlsx`). Headers are built by the standard
library's ``email`` package with the SMTP policy: non-ASCII names and subjects are encoded
words, a line break in inventory text cannot start a new header, and every address is
checked (one address, a domain, ASCII) before use; an address that fails is left out and
reported.

Who gets what: the report on every asset goes to ``[mail] to``. With one report per team,
each team's goes to ``[mail.teams]``'s addresses for that team, else to the owners' e-mail
addresses the inventory gives for the team's assets; the report on assets with no team goes
to ``[owners] default_owner_email`` (the triage owner), else to ``[mail] to``.
The programme report of several campaigns goes to ``[mail] to`` (its Markdown, page and
workbook); one report per team is then one per team and campaign.
"""
from __future__ import annotations

import smtplib
import ssl
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.reports.delivery.settings import MailSettings
from vulnpipe.reports.tickets.build import AssetInfo
from vulnpipe.reports.weekly.history import History
from vulnpipe.reports.weekly.html_out import render_html
from vulnpipe.reports.weekly.md_out import render_markdown
from vulnpipe.reports.weekly.programme import (
    Programme,
    render_programme_html,
    render_programme_markdown,
    write_programme_xlsx,
)
from vulnpipe.reports.weekly.report import Slice, WeeklyReport, build_report, slices
from vulnpipe.reports.weekly.split import file_stem
from vulnpipe.reports.weekly.xlsx_out import write_xlsx
from vulnpipe.reports.writers.output import atomic_path

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
DEFAULT_SENDER = "vulnpipe <vulnpipe@example.invalid>"     # dry runs without [mail] sender
Notify = Callable[[str, str], None]


class MailError(VulnpipeError):
    """The report could not be sent (server unreachable or refusing, bad settings)."""


def _quiet(_level: str, _text: str) -> None:
    return None


def one_line(text: object) -> str:
    """Scanner or inventory text for a header: printable, on one line."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def parse_address(text: str) -> Address | None:
    """``text`` as one e-mail address (``a@b.example`` or ``Name <a@b.example>``), or None
    when it is not exactly one valid ASCII address."""
    if not isinstance(text, str) or not text.strip() or any(c in text for c in "\r\n\0"):
        return None
    try:
        header = policy.default.header_factory("To", text.strip())
    except (ValueError, IndexError, TypeError):
        return None
    if header.defects or len(header.addresses) != 1:
        return None
    addr = header.addresses[0]
    if not addr.username or not addr.domain or not addr.addr_spec.isascii() or "." not in addr.domain:
        return None
    return Address(display_name=one_line(addr.display_name), username=addr.username,
                   domain=addr.domain)


@dataclass(frozen=True)
class ReportMail:
    """One report for one recipient group."""

    name: str                         # safe file stem (never inventory text)
    label: str                        # "all assets", "team Branch IT"
    subject: str
    to: tuple[Address, ...]
    text: str
    html: str
    xlsx: bytes


def report_mail(report: WeeklyReport, to: Sequence[Address]) -> ReportMail:
    """Render ``report`` for ``to``: Markdown summary, HTML page, workbook bytes."""
    name = file_stem(report.slice, report.week.label)
    return ReportMail(name=name, label=report.slice.label, subject=one_line(report.title),
                      to=tuple(to), text=render_markdown(report), html=render_html(report),
                      xlsx=_workbook(write_xlsx, report))


def _workbook(write: Callable[[Any, Path], Any], report: Any) -> bytes:
    """The bytes of the workbook ``write`` makes of ``report`` (written to a temporary file:
    the writers write files, atomically)."""
    with tempfile.TemporaryDirectory(prefix="vulnpipe-mail-") as tmp:
        path = Path(tmp) / "report.xlsx"
        write(report, path)
        return path.read_bytes()


def _addresses(texts: Iterable[str | None], where: str, notify: Notify) -> list[Address]:
    out: list[Address] = []
    seen = set()
    for text in texts:
        if text is None or not str(text).strip():
            continue
        addr = parse_address(str(text))
        if addr is None:
            notify("note", f"{where}: {one_line(text)[:120]!r} is not an e-mail address; left out")
            continue
        if addr.addr_spec.casefold() not in seen:
            seen.add(addr.addr_spec.casefold())
            out.append(addr)
    return out


def team_addresses(history: History, sl: Slice, settings: MailSettings) -> list[str]:
    """``[mail.teams]``'s addresses for the team (names compared as report slices compare
    them), else the owner e-mails the inventory gives for the team's assets."""
    for team, addresses in settings.teams.items():
        if sl.matches(team):
            return list(addresses)
    built = history.current
    found: list[str] = []
    for t in sorted(built.tickets.values(), key=lambda t: t.key):
        info = built.asset_info.get(t.asset_key, AssetInfo())
        if sl.matches(info.team) and info.owner_email:
            found.append(info.owner_email)
    inv = built.inventory
    if inv is not None and {"team", "owner_email"} <= set(inv.assets.columns):
        for team, email in zip(inv.assets["team"].tolist(), inv.assets["owner_email"].tolist()):
            if isinstance(team, str) and sl.matches(team) and isinstance(email, str):
                found.append(email)
    return found


def weekly_mails(history: History, report: WeeklyReport, *, per_team: bool,
                 settings: MailSettings, overview: Sequence[str],
                 triage: str | None = None, notify: Notify = _quiet) -> list[ReportMail]:
    """The messages for ``report`` (a whole or a one-team report), and with ``per_team`` one
    more per team. A group with no valid address is reported and left out."""
    groups: list[tuple[WeeklyReport, list[str], str]] = []
    if report.slice.by is None:
        groups.append((report, list(overview), "[mail] to"))
    else:
        groups.append((report, team_addresses(history, report.slice, settings),
                       f"{report.slice.label}'s addresses"))
    if per_team:
        groups.extend(_team_groups(history, settings, overview, triage))
    return _group_mails(groups, notify)


def _team_groups(history: History, settings: MailSettings, overview: Sequence[str],
                 triage: str | None) -> list[tuple[WeeklyReport, list[str], str]]:
    """Each team's report with its addresses (the assets with no team: the triage owner,
    else ``overview``)."""
    groups = []
    for sl in slices(history, "team"):
        where = f"{sl.label}'s addresses"
        if sl.value is None:
            addresses = [triage] if triage else list(overview)
            where = "[owners] default_owner_email" if triage else "[mail] to"
        else:
            addresses = team_addresses(history, sl, settings)
        groups.append((build_report(history, sl), addresses, where))
    return groups


def _group_mails(groups: Iterable[tuple[WeeklyReport, list[str], str]], notify: Notify,
                 campaign: str = "") -> list[ReportMail]:
    mails = []
    for rep, texts, where in groups:
        to = _addresses(texts, where, notify)
        if not to:
            notify("note", f"the {campaign}report on {one_line(rep.slice.label)} has no "
                           f"recipient ({where}): not sent")
            continue
        mails.append(report_mail(rep, to))
    return mails


def programme_mail(programme: Programme, to: Sequence[Address]) -> ReportMail:
    """Render the programme report for ``to``: its Markdown, HTML page and workbook."""
    week = programme.week
    return ReportMail(name=f"weekly-{week.label}-programme", label="programme",
                      subject=one_line(f"{programme.title}: {week.adjective} report {week.label}"),
                      to=tuple(to), text=render_programme_markdown(programme),
                      html=render_programme_html(programme),
                      xlsx=_workbook(write_programme_xlsx, programme))


def programme_mails(programme: Programme, histories: Sequence[History], *, per_team: bool,
                    settings: MailSettings, overview: Sequence[str], triage: str | None = None,
                    notify: Notify = _quiet) -> list[ReportMail]:
    """The programme report (every campaign) for ``overview``, and with ``per_team`` each
    team each campaign's report on its assets (``histories``: the campaigns', in the
    programme's order), named after the campaign (``campaign-pptp-weekly-...``)."""
    mails = []
    to = _addresses(overview, "[mail] to", notify)
    if to:
        mails.append(programme_mail(programme, to))
    else:
        notify("note", "the programme report has no recipient ([mail] to): not sent")
    if per_team:
        for name, anchor, history in zip(programme.names, programme.anchors(), histories):
            for m in _group_mails(_team_groups(history, settings, overview, triage), notify,
                                  campaign=f"{one_line(name)} "):
                mails.append(replace(m, name=f"{anchor}-{m.name}", label=f"{name}: {m.label}"))
    return mails


def build_message(mail: ReportMail, sender: str | None, *, now: datetime | None = None) -> EmailMessage:
    """The MIME message: text and HTML alternatives, the workbook attached; Date,
    Message-ID and encoded headers."""
    from_addr = parse_address(sender or DEFAULT_SENDER)
    if from_addr is None:
        raise MailError(f"[mail] sender {one_line(sender or '')[:120]!r} is not an e-mail address",
                        hint='e.g. sender = "vulnpipe <vulnpipe@example.com>"')
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = from_addr
    msg["To"] = list(mail.to)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(idstring="vulnpipe", domain=from_addr.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    msg.add_attachment(mail.xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                       filename=mail.name + ".xlsx")
    return msg


def write_eml(messages: Iterable[tuple[ReportMail, EmailMessage]], directory: str | Path) -> list[Path]:
    """Each message as ``NAME.eml`` in ``directory`` (what would be sent, byte for byte)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for mail, msg in messages:
        path = d / f"{mail.name}.eml"
        with atomic_path(path) as tmp:
            tmp.write_bytes(msg.as_bytes(policy=policy.SMTP))
        written.append(path)
    return written


@dataclass(frozen=True)
class Sent:
    name: str
    label: str
    recipients: int
    error: str | None = None


def _where(settings: MailSettings) -> str:
    return f"{settings.host}:{settings.port_in_use}"


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"{exc.smtp_code} {one_line(text)[:200]}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + ", ".join(
            f"{r} ({c})" for r, (c, _m) in sorted(exc.recipients.items()))
    return one_line(str(exc) or type(exc).__name__)[:200]


def _connect(settings: MailSettings, password: str | None) -> smtplib.SMTP:
    if not settings.host:
        raise MailError("[mail] host is not set", hint='e.g. host = "smtp.example.com"')
    if not settings.sender:
        raise MailError("[mail] sender is not set",
                        hint='e.g. sender = "vulnpipe <vulnpipe@example.com>"')
    if settings.user and password is None:
        raise MailError(f"no SMTP password: [mail] user is set but the environment variable "
                        f"{settings.password_env} is not", hint="set it, or remove [mail] user")
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    where = _where(settings)
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port_in_use, timeout=settings.timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port_in_use, timeout=settings.timeout)
            smtp.ehlo()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(f"the SMTP server {where} does not offer STARTTLS",
                                    hint='use security = "tls" for implicit TLS (port 465)')
                smtp.starttls(context=context)
                smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, password or "")
        return smtp
    except MailError:
        _close(smtp)
        raise
    except smtplib.SMTPAuthenticationError as exc:
        _close(smtp)
        raise MailError(f"the SMTP server {where} refused the login of [mail] user "
                        f"({_smtp_reason(exc)})",
                        hint=f"check the user and the password in {settings.password_env}") from None
    except smtplib.SMTPNotSupportedError:
        _close(smtp)
        raise MailError(f"the SMTP server {where} does not offer a login (AUTH)",
                        hint="remove [mail] user, or check security: many servers offer AUTH "
                             "only after STARTTLS") from None
    except ssl.SSLError as exc:
        _close(smtp)
        raise MailError(f"TLS with the SMTP server {where} failed: {one_line(exc)[:200]}",
                        hint="check [mail] security and port, or [mail] ca_file for a private CA"
                        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(smtp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _smtp_reason(exc)
        raise MailError(f"cannot reach the SMTP server {where}: {reason}",
                        hint="check [mail] host, port and security, and the network") from None


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def send(messages: Sequence[tuple[ReportMail, EmailMessage]], settings: MailSettings,
         password: str | None) -> list[Sent]:
    """Send every message over one connection. A server that cannot be reached or refuses
    the login raises :class:`MailError`; a message it refuses is reported in its
    :class:`Sent` and the others are still sent."""
    if not messages:
        return []
    smtp = _connect(settings, password)
    results = []
    try:
        for mail, msg in messages:
            try:
                refused = smtp.send_message(msg)
            except smtplib.SMTPServerDisconnected as exc:
                raise MailError(f"the SMTP server {_where(settings)} closed the connection "
                                f"({_smtp_reason(exc)})") from None
            except (smtplib.SMTPException, OSError) as exc:
                results.append(Sent(mail.name, mail.label, len(mail.to),
                                    f"the SMTP server {_where(settings)} refused the report on "
                                    f"{one_line(mail.label)}: {_smtp_reason(exc)}"))
                continue
            error = None
            if refused:
                error = (f"the SMTP server {_where(settings)} refused some recipients of the report "
                         f"on {one_line(mail.label)}: "
                         + ", ".join(f"{r} ({c})" for r, (c, _m) in sorted(refused.items())))
            results.append(Sent(mail.name, mail.label, len(mail.to) - len(refused or {}), error))
    finally:
        _close(smtp)
    return results


__all__ = ["MailError", "ReportMail", "Sent", "build_message", "parse_address", "report_mail",
           "send", "team_addresses", "weekly_mails", "write_eml"]
