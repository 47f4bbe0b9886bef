"""Delivery where people work: Jira issues kept in sync with the tickets, and the weekly
report by e-mail.

* :mod:`.jira_sync` (``vulnpipe jira sync``): one issue per ticket over Jira's REST API
  (Cloud v3, Data Center v2), planned by :mod:`.jira_plan`, sent by :mod:`.jira_client`,
  descriptions in ADF (:mod:`.adf`) on Cloud.
* :mod:`.mail` (``vulnpipe report weekly --mail``): the report as one MIME message per
  recipient group, over SMTP or as ``.eml`` files.
* :mod:`.settings`: ``[jira]`` and ``[mail]`` of ``vulnpipe.toml``.

Submodules are imported where used (httpx and the report renderers are not light).
"""
