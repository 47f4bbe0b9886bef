"""E-mail delivery of the weekly report: sent to a real SMTP server (aiosmtpd) on 127.0.0.1
(plain, STARTTLS with login, implicit TLS), parsed back with the standard ``email``
package; per-team recipients; hostile inventory and scanner text; unreachable and refusing
servers; ``.eml`` dry runs; and ``vulnpipe run`` with both deliveries."""
from __future__ import annotations

import email
import json
import re
import socket
import ssl
from datetime import datetime, timedelta, timezone
from email import policy
from email.utils import getaddresses, parsedate_to_datetime

import pytest

from tests import nessus_builder as nb
from tests.conftest import ROOT, copy_store, run_cli
from tests.jira_server import FakeJira, User

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

SCANS = ROOT / "sample_data" / "scans"
INVENTORY = ROOT / "sample_data" / "inventory.csv"
PASSWORD = "smtp-pa55word-never-shown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every envelope (and refusing some recipients)."""

    def __init__(self, refuse: str | None = None) -> None:
        self.envelopes: list = []
        self.refuse = refuse
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and self.refuse in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                               bool(session.authenticated)))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and auth_data.login == b"vulnpipe" \
                and auth_data.password == PASSWORD.encode():
            self.logins.append(mechanism)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage, bytes, bool]]:
        return [(rcpts, email.message_from_bytes(raw, policy=policy.default), raw, auth)
                for _f, rcpts, raw, auth in self.envelopes]


def _serve(inbox: Inbox, **kwargs) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = _serve(inbox)
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory, sample_store):
    return copy_store(sample_store, tmp_path_factory.mktemp("mail-store") / "store.db")


def _config(tmp_path, port: int, store_db, extra: str = "", security: str = "none") -> None:
    (tmp_path / "vulnpipe.toml").write_text(
        f'[store]\nurl = "{store_db}"\n[inventory]\npath = "{INVENTORY}"\n'
        f'[owners]\ndefault_owner_email = "triage@corp.example"\n'
        f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
        f'sender = "vulnpipe <vulnpipe@corp.example>"\n'
        f'to = ["Sécurité Opérations <secops@corp.example>"]\n{extra}'
        f'[mail.teams]\n"Branch IT" = ["branch-it@corp.example", "Lars Eriksen <lars.eriksen@corp.example>"]\n',
        encoding="utf-8")


def _parts(msg):
    """(text, html, [(filename, bytes)]) of a report message, checking its structure."""
    assert msg.get_content_type() == "multipart/mixed"
    alternative, *attachments = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    crlf = lambda part: part.get_content().replace("\r\n", "\n")     # noqa: E731 (SMTP lines)
    return (crlf(text), crlf(html),
            [(a.get_filename(), a.get_content()) for a in attachments])


@pytest.mark.slow
def test_report_goes_to_each_team_and_the_overview_list_with_all_parts(tmp_path, smtp, store):
    controller, inbox = smtp
    _config(tmp_path, controller.port, store)
    r = run_cli("report", "weekly", "--week", "2026-W48", "--xlsx", "weekly.xlsx", "--markdown",
                "weekly.md", "--html", "weekly.html", "--split-by", "team", "teams", "--mail",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    got = inbox.messages()
    index = json.loads((tmp_path / "teams" / "index.json").read_text())
    assert len(got) == 1 + len(index["reports"]), "one message per recipient group"
    by_subject = {m["Subject"]: (rcpts, m, raw) for rcpts, m, raw, _a in got}

    rcpts, overview, raw = by_subject["L2TP exposure: weekly report 2026-W48"]
    assert rcpts == ["secops@corp.example"]
    assert b"To: =?utf-8?" in raw, "a non-ASCII name is an encoded word"
    assert getaddresses([str(overview["To"])]) == [("Sécurité Opérations", "secops@corp.example")]
    assert overview["From"] == "vulnpipe <vulnpipe@corp.example>"
    assert parsedate_to_datetime(overview["Date"]).tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@corp\.example>", overview["Message-ID"])
    text, html, attachments = _parts(overview)
    assert text == (tmp_path / "weekly.md").read_text("utf-8")
    assert html == (tmp_path / "weekly.html").read_text("utf-8")
    assert attachments == [(attachments[0][0], (tmp_path / "weekly.xlsx").read_bytes())]
    assert re.fullmatch(r"weekly-2026-W48-all-none-[0-9a-f]{8}\.xlsx", attachments[0][0])
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no remote resource"
    assert "<script" not in html.lower()

    rcpts, branch, _raw = by_subject["L2TP exposure: weekly report 2026-W48 (team Branch IT)"]
    assert rcpts == ["branch-it@corp.example", "lars.eriksen@corp.example"], "[mail.teams] wins"
    entry = next(e for e in index["reports"] if e["value"] == "Branch IT")
    text, html, attachments = _parts(branch)
    assert html == (tmp_path / "teams" / entry["files"]["html"]).read_text("utf-8")
    assert attachments[0][1] == (tmp_path / "teams" / entry["files"]["xlsx"]).read_bytes()
    rcpts, _m, _r = by_subject["L2TP exposure: weekly report 2026-W48 (team Network Engineering)"]
    assert rcpts == ["tomasz.wojcik@corp.example"], "the inventory's owners of the team's assets"
    rcpts, _m, _r = by_subject["L2TP exposure: weekly report 2026-W48 (no team)"]
    assert rcpts == ["triage@corp.example"], "hosts without a team: the triage owner"
    assert "sent 10 of 10 e-mail(s)" in r.stderr.decode()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vulnpipe test relay")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_login_with_the_password_from_the_environment(tmp_path, store, tls_files, security):
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    if security == "starttls":
        controller = _serve(inbox, tls_context=context, require_starttls=True,
                            authenticator=inbox.authenticate, auth_require_tls=True)
    else:   # implicit TLS: the whole session is encrypted from the start
        controller = _serve(inbox, ssl_context=context, authenticator=inbox.authenticate,
                            auth_require_tls=False)
    try:
        _config(tmp_path, controller.port, store, security=security,
                extra=f'user = "vulnpipe"\nca_file = "{cert}"\n')
        args = ("report", "weekly", "--week", "2026-W48", "--mail")
        r = run_cli(*args, cwd=tmp_path, env={"VULNPIPE_SMTP_PASSWORD": PASSWORD})
        assert r.returncode == 0, r.stderr.decode()
        [(rcpts, msg, _raw, authenticated)] = inbox.messages()
        assert authenticated and rcpts == ["secops@corp.example"]
        wrong = run_cli(*args, cwd=tmp_path, env={"VULNPIPE_SMTP_PASSWORD": "nope"})
        err = wrong.stderr.decode()
        assert wrong.returncode == 1 and "refused the login" in err and "nope" not in err
        assert PASSWORD not in r.stderr.decode() + err
        missing = run_cli(*args, cwd=tmp_path, env={"VULNPIPE_SMTP_PASSWORD": ""})
        assert missing.returncode == 1
        assert "no SMTP password" in missing.stderr.decode() and "VULNPIPE_SMTP_PASSWORD" in missing.stderr.decode()
    finally:
        controller.stop()


def test_a_relay_with_an_untrusted_certificate_is_refused_clearly(tmp_path, store, tls_files):
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = _serve(inbox, tls_context=context)
    try:
        _config(tmp_path, controller.port, store, security="starttls")   # no ca_file
        r = run_cli("report", "weekly", "--week", "2026-W48", "--html", "w.html", "--mail",
                    cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and inbox.envelopes == []
        assert "TLS with the SMTP server 127.0.0.1" in err and "ca_file" in err
        assert (tmp_path / "w.html").exists()
    finally:
        controller.stop()


@pytest.mark.slow
def test_unreachable_or_refusing_server_is_one_line_and_the_files_are_still_written(tmp_path, store):
    port = _free_port()
    _config(tmp_path, port, store)
    r = run_cli("report", "weekly", "--week", "2026-W48", "--html", "w.html", "--xlsx", "w.xlsx",
                "--mail", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err
    [line] = [l for l in err.splitlines() if l.startswith("error:")]
    assert line.startswith(f"error: cannot reach the SMTP server 127.0.0.1:{port}: ")
    assert (tmp_path / "w.html").exists() and (tmp_path / "w.xlsx").exists()

    inbox = Inbox(refuse="secops@")
    controller = _serve(inbox)
    try:
        _config(tmp_path, controller.port, store)
        r = run_cli("report", "weekly", "--week", "2026-W48", "--html", "w2.html", "--split-by",
                    "team", "teams", "--mail", cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and (tmp_path / "w2.html").exists()
        assert re.search(r"^error: the SMTP server 127\.0\.0\.1:\d+ refused the report on all "
                         r"assets: every recipient refused: secops@corp\.example \(550\)", err, re.M), err
        assert len(inbox.envelopes) == 9, "the team reports still went out"
    finally:
        controller.stop()


HOSTILE_TEAM = "Ops\r\nBcc: evil@example.com <script>alert(1)</script>"


def test_hostile_inventory_and_scanner_text_stays_text(tmp_path, smtp):
    controller, inbox = smtp
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
    host = nb.HostSpec("<img src=x onerror=alert(1)>.evil.example", ip="10.0.0.1", start=t0,
                       end=t0 + timedelta(minutes=3), items=[nb.l2tp(output="<script>x</script>")])
    scan = nb.write(tmp_path / "w.nessus", [host], policy=nb.policy_element(plugin_set=[11387]))
    inv = tmp_path / "inv.csv"
    inv.write_text("Asset ID,IP Address,Owner,Owner Email,Team\n"
                   f'AST-1,10.0.0.1,"=cmd|\' /C calc\'!A0","owner@corp.example\r\nBcc: evil@example.com",'
                   f'"{HOSTILE_TEAM}"\n', encoding="utf-8", newline="")
    assert run_cli("ingest", scan, "--db", tmp_path / "s.db").returncode == 0
    _config(tmp_path, controller.port, tmp_path / "s.db")
    (tmp_path / "vulnpipe.toml").write_text((tmp_path / "vulnpipe.toml").read_text("utf-8")
                                            .replace(str(INVENTORY), str(inv)), encoding="utf-8")
    r = run_cli("report", "weekly", "--week", "2026-W48", "--split-by", "team", "teams", "--mail",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert "is not an e-mail address; left out" in r.stderr.decode()
    got = inbox.messages()
    assert all("evil@example.com" not in rcpts for rcpts, *_ in got)
    for _rcpts, msg, raw, _a in got:
        headers = raw.split(b"\r\n\r\n", 1)[0]
        assert msg["Bcc"] is None and b"\nBcc:" not in headers, "no header injected"
        assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
        text, html, _att = _parts(msg)
        assert "<script" not in html and "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<img src=x" not in text, "the Markdown summary escapes it too"


@pytest.mark.slow
def test_dry_run_writes_eml_files_and_sends_nothing(tmp_path, store):
    (tmp_path / "vulnpipe.toml").write_text(f'[store]\nurl = "{store}"\n[inventory]\npath = "{INVENTORY}"\n')
    r = run_cli("report", "weekly", "--week", "2026-W48", "--split-by", "team", "teams",
                "--mail-dry-run", "mail", "--mail-to", "secops@corp.example", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    files = sorted((tmp_path / "mail").iterdir())
    teams = json.loads((tmp_path / "teams" / "index.json").read_text())["reports"]
    assert len(files) == 1 + len(teams), "the overview and one per team (and hosts with no team)"
    assert all(re.fullmatch(r"weekly-2026-W48-(all|team)-[a-z0-9-]+-[0-9a-f]{8}\.eml", f.name) for f in files)
    overview = email.message_from_bytes(next(f for f in files if "-all-" in f.name).read_bytes(),
                                        policy=policy.default)
    assert overview["To"] == "secops@corp.example" and _parts(overview)[2][0][1][:2] == b"PK"
    no_team = email.message_from_bytes(next(f for f in files if "-team-none-" in f.name).read_bytes(),
                                       policy=policy.default)
    assert no_team["To"] == "secops@corp.example", "no triage owner set: the overview list"
    bad = run_cli("report", "weekly", "--week", "2026-W48", "--mail", "--mail-dry-run", "x",
                  cwd=tmp_path)
    assert bad.returncode == 1 and "not both" in bad.stderr.decode()


@pytest.mark.slow
def test_run_syncs_jira_and_mails_the_report_and_reports_a_failure(tmp_path, smtp):
    controller, inbox = smtp
    jira = FakeJira(token="tok", users=[User("acc-t", "tomasz.wojcik@corp.example", "T")]).start()
    try:
        _config(tmp_path, controller.port, tmp_path / "h.db",
                extra="send = true\nper_team = true\n")
        text = (tmp_path / "vulnpipe.toml").read_text("utf-8")
        (tmp_path / "vulnpipe.toml").write_text(
            text + f'[jira]\nurl = "{jira.url}"\nproject = "SEC"\nuser = "{jira.user}"\n'
                   f'sync = true\nmax_retry_wait = 0\n[run]\nout_dir = "out"\n', encoding="utf-8")
        r = run_cli("run", SCANS, "--summary-json", "run.json", cwd=tmp_path,
                    env={"VULNPIPE_JIRA_TOKEN": "tok"})
        assert r.returncode == 0, r.stderr.decode()
        summary = json.loads((tmp_path / "run.json").read_text())
        assert summary["ok"] and summary["delivery"]["jira"]["create"] == 19
        assert summary["delivery"]["mail"]["ok"] and len(inbox.envelopes) == 10
        assert "tok" not in r.stderr.decode()
        dead = _free_port()
        (tmp_path / "vulnpipe.toml").write_text((tmp_path / "vulnpipe.toml").read_text("utf-8")
                                                .replace(f"port = {controller.port}", f"port = {dead}"),
                                                encoding="utf-8")
        r = run_cli("run", SCANS, "--summary-json", "run.json", cwd=tmp_path,
                    env={"VULNPIPE_JIRA_TOKEN": "tok"})
        summary = json.loads((tmp_path / "run.json").read_text())
        assert r.returncode == 1 and summary["ok"] is False
        assert summary["delivery"]["jira"] == {**summary["delivery"]["jira"], "create": 0, "ok": True}
        assert "cannot reach the SMTP server" in summary["delivery"]["mail"]["errors"][0]
        assert (tmp_path / "out" / "weekly-2026-W48.html").exists()
    finally:
        jira.stop()


@pytest.mark.parametrize("page", ["howto/jira-sync.md", "howto/email-report.md", "howto/cron-ci.md",
                                  "reference/config.md"])
def test_the_documented_delivery_configs_are_valid(page):
    import tomllib

    from vulnpipe.config import config_from_mapping

    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / page).read_text("utf-8"), re.S)
    configs = [config_from_mapping(tomllib.loads(b)) for b in blocks]
    assert any(c.jira.project == "SEC" or c.mail.host for c in configs)
