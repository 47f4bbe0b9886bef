"""A small Jira REST client over httpx: the endpoints ``vulnpipe jira sync`` uses, for Jira
Cloud (REST v3) and Jira Data Center (REST v2).

* Cloud authenticates with the account's e-mail and an API token (HTTP basic); Data Center
  with a personal access token (``Authorization: Bearer``), or basic with ``user`` set.
  The token is only ever put in that header: never in a URL, a message or an exception.
* 429 (rate limited) waits ``Retry-After`` seconds (capped) and tries again; 5xx and
  network errors back off and try again; both at most ``max_attempts`` times per request.
* Anything else that is not 2xx raises :class:`JiraRequestError` with Jira's own error
  text (one line, shortened); 401 raises :class:`JiraAuthError`, which ends a sync.
"""
from __future__ import annotations

import json
import os
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator
from urllib.parse import quote

import httpx

from vulnpipe.ingest.errors import VulnpipeError
from vulnpipe.reports.delivery.settings import JiraSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PAGE = 100
ERROR_TEXT_MAX = 300


class JiraError(VulnpipeError):
    """Jira could not be used for the whole sync (unreachable, credentials refused)."""


class JiraAuthError(JiraError):
    """Jira refused the credentials (401)."""


class JiraRequestError(VulnpipeError):
    """One request failed (the sync goes on with the other issues)."""

    def __init__(self, what: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(what)
        self.status = status
        self.transient = transient      # a 5xx or network failure that outlived the retries


def safe(text: object, limit: int = ERROR_TEXT_MAX) -> str:
    """Text from Jira or from scans for one terminal line: control characters shown as
    escapes, shortened."""
    s = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return s if len(s) <= limit else s[:limit] + "…"


def _error_text(response: httpx.Response) -> str:
    """Jira's ``errorMessages`` and ``errors`` as one line (or the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        return safe(response.text.strip() or response.reason_phrase)
    if isinstance(body, dict):
        parts = [str(m) for m in body.get("errorMessages") or []]
        parts += [f"{k}: {v}" for k, v in sorted((body.get("errors") or {}).items())]
        if parts:
            return safe("; ".join(parts))
    return safe(json.dumps(body))


def retry_after(response: httpx.Response, now: Callable[[], datetime]) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now()).total_seconds())


_TLS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    made once per process for each value of those variables (loading the bundle takes about
    40 ms each time; a library user who syncs again need not pay it again)."""
    where = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if where not in _TLS:
        _TLS[where] = httpx.create_ssl_context()
    return _TLS[where]


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to_status: str
    to_category: str | None


class JiraClient:
    """The REST calls of a sync. ``sleep`` and ``backoff`` are there for tests."""

    def __init__(self, settings: JiraSettings, token: str, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0) -> None:
        if not settings.url:
            raise JiraError("[jira] url is not set", hint="e.g. url = \"https://example.atlassian.net\"")
        self.settings = settings
        self.api = "3" if settings.cloud else "2"
        self._sleep = sleep
        self._backoff = backoff
        if settings.user:
            auth: httpx.Auth | None = httpx.BasicAuth(settings.user, token)
            headers = {}
        else:
            auth, headers = None, {"Authorization": f"Bearer {token}"}
        self._http = httpx.Client(base_url=settings.url.rstrip("/"), auth=auth, transport=transport,
                                  headers={**headers, "Accept": "application/json",
                                           "User-Agent": "vulnpipe"},
                                  timeout=settings.timeout, follow_redirects=False,
                                  # (a transport given brings its own TLS, if any)
                                  verify=True if transport is not None else _tls_context())
        self.requests = 0           # requests sent, retries included

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "JiraClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one way requests are sent -------------------------------------------------------
    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, str] | None = None, retry_server_errors: bool = True) -> Any:
        """Send one request (with retries); the decoded JSON answer, or None for 204."""
        what = f"{method} {path.split('?', 1)[0]}"
        attempts = max(1, self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                self.requests += 1
                response = self._http.request(method, path, json=body, params=params)
            except httpx.TransportError as exc:
                reason = safe(str(exc) or type(exc).__name__, 120)
                if last or not retry_server_errors:
                    raise JiraRequestError(f"{what}: no answer from {self.settings.url} "
                                           f"({reason})", transient=True) from None
                self._wait(None, attempt)
                continue
            status = response.status_code
            if status in RETRY_STATUSES and not last and (status == 429 or retry_server_errors):
                self._wait(retry_after(response, lambda: datetime.now(timezone.utc)), attempt)
                continue
            if status == 401:
                raise JiraAuthError(
                    f"Jira at {self.settings.url} refused the credentials for {what} (HTTP 401: "
                    f"{_error_text(response)})",
                    hint="check [jira] user and the token")
            if status == 403:
                raise JiraRequestError(f"{what}: HTTP 403 (not permitted: {_error_text(response)}; "
                                       "the account needs browse, create, edit, transition and "
                                       "comment permissions in the project)", status=status)
            if status >= 400:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise JiraRequestError(f"{what}: HTTP {status}{tries}: {_error_text(response)}",
                                       status=status, transient=status >= 500 or status == 429)
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise JiraRequestError(f"{what}: the answer is not JSON (is [jira] url the "
                                       "Jira base URL?)", status=status) from None
        raise AssertionError("unreachable")

    def pause(self, attempt: int) -> None:
        """Back off before trying again (``attempt``: how many tries were made)."""
        self._wait(None, attempt)

    def _wait(self, asked: float | None, attempt: int) -> None:
        cap = self.settings.max_retry_wait
        delay = asked if asked is not None else self._backoff * 2 ** (attempt - 1)
        self._sleep(max(0.0, min(delay, cap)))

    # -- endpoints -----------------------------------------------------------------------------
    def _path(self, tail: str) -> str:
        return f"/rest/api/{self.api}/{tail}"

    def search(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every issue ``jql`` finds, page after page (Cloud: ``/search/jql`` with
        ``nextPageToken``; Data Center: ``/search`` with ``startAt``)."""
        if self.settings.cloud:
            token: str | None = None
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": PAGE}
                if token:
                    body["nextPageToken"] = token
                page = self.request("POST", self._path("search/jql"), body=body) or {}
                yield from page.get("issues") or []
                token = page.get("nextPageToken")
                if not token or page.get("isLast") is True:
                    return
        start = 0
        while True:
            page = self.request("POST", self._path("search"),
                                body={"jql": jql, "fields": fields, "startAt": start,
                                      "maxResults": PAGE}) or {}
            issues = page.get("issues") or []
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                return

    def create_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        """POST a new issue (not retried on 5xx: the caller checks first whether it exists)."""
        return self.request("POST", self._path("issue"), body={"fields": fields},
                            retry_server_errors=False) or {}

    def edit_issue(self, key: str, fields: dict[str, Any], update: dict[str, Any]) -> None:
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        self.request("PUT", self._path(f"issue/{quote(key, safe='')}"), body=body)

    def transitions(self, key: str) -> list[Transition]:
        page = self.request("GET", self._path(f"issue/{quote(key, safe='')}/transitions")) or {}
        out = []
        for t in page.get("transitions") or []:
            to = t.get("to") or {}
            out.append(Transition(str(t.get("id")), str(t.get("name", "")), str(to.get("name", "")),
                                  (to.get("statusCategory") or {}).get("key")))
        return out

    def transition(self, key: str, transition_id: str) -> None:
        self.request("POST", self._path(f"issue/{quote(key, safe='')}/transitions"),
                     body={"transition": {"id": transition_id}})

    def comment(self, key: str, body: Any) -> None:
        """Add a comment (not retried on 5xx, so a comment is never posted twice)."""
        self.request("POST", self._path(f"issue/{quote(key, safe='')}/comment"), body={"body": body},
                     retry_server_errors=False)

    def find_users(self, email: str) -> list[dict[str, Any]]:
        """Users matching ``email`` (Cloud: ``query=``; Data Center: ``username=``)."""
        param = "query" if self.settings.cloud else "username"
        return self.request("GET", self._path("user/search"), params={param: email}) or []
