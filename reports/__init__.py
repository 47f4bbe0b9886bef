"""vulnpipe's writers: tickets, reconciliation, the weekly report, evidence packs, file formats.

Installed as ``vulnpipe.reports`` (the repository's ``reports/`` folder). It reads the store
through :mod:`vulnpipe.ingest.store` and never the other way round.
"""
