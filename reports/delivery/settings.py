"""Settings of the two deliveries: ``[jira]`` and ``[mail]`` in ``vulnpipe.toml``.

Plain frozen dataclasses (no I/O, no heavy imports): :mod:`vulnpipe.config` fills them from
the file, and the library takes them as they are. Every key is documented in
``docs/config.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

DEPLOYMENTS = ("cloud", "datacenter")
SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
LABEL = "label"


#: Jira's priority names for vulnpipe's priorities (the Jira CSV and the sync's default).
JIRA_PRIORITY = MappingProxyType({"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"})


def _jira_priorities() -> Mapping[str, str]:
    return MappingProxyType(dict(JIRA_PRIORITY))


@dataclass(frozen=True)
class JiraSettings:
    url: str | None = None                     # https://example.atlassian.net
    deployment: str = "cloud"                  # cloud (REST v3, ADF) | datacenter (v2, wiki)
    project: str | None = None                 # project key, e.g. SEC
    issue_type: str = "Task"
    user: str | None = None                    # Cloud: the account's e-mail (basic auth)
    token_env: str = "VULNPIPE_JIRA_TOKEN"     # environment variable holding the token
    token_file: Path | None = None             # or a file holding it (wins when set)
    key_field: str = LABEL                     # "label" or "customfield_NNNNN"
    done_transition: str = "Done"
    reopen_transition: str = "Reopen"
    accepted_transition: str | None = None     # optional: on risk acceptance
    false_positive_transition: str | None = None
    priorities: Mapping[str, str] = field(default_factory=_jira_priorities)
    sync: bool = False                         # `vulnpipe run` syncs after the report
    timeout: float = 30.0                      # seconds per request
    max_attempts: int = 5                      # per request, on 429 / 5xx / network errors
    max_retry_wait: float = 60.0               # longest single wait (Retry-After is capped)

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    @property
    def custom_field(self) -> str | None:
        """The custom field holding the key, or None when the key is a label."""
        return None if self.key_field == LABEL else self.key_field


@dataclass(frozen=True)
class MailSettings:
    host: str | None = None
    port: int | None = None                    # default: 587, 465 (tls) or 25 (none)
    security: str = "starttls"                 # starttls | tls (implicit) | none
    user: str | None = None                    # log in when set
    password_env: str = "VULNPIPE_SMTP_PASSWORD"
    ca_file: Path | None = None                # trust this CA bundle (a private relay)
    sender: str | None = None                  # From: "vulnpipe <vulnpipe@example.com>"
    to: tuple[str, ...] = ()                   # the overview report's recipients
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    send: bool = False                         # `vulnpipe run` mails the report
    per_team: bool = False                     # `vulnpipe run` also mails each team its own
    timeout: float = 30.0

    @property
    def port_in_use(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]
