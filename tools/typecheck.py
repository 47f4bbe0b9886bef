"""Run mypy on the package as it is installed: one import name, ``vulnpipe``.

The repository keeps the customer's layout (``ingest/``, ``reports/``, ``templates/`` beside
``vulnpipe/``); installed, they are ``vulnpipe.ingest`` and so on (see pyproject.toml). mypy
reads source folders, not install mappings, so this builds that layout out of symbolic
links under ``build/typecheck/`` and checks it with the settings in pyproject.toml.

    .venv/bin/python tools/typecheck.py          # what `make test` runs
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
MAPPED = {"ingest": "ingest", "reports": "reports", "templates": "templates"}


def build_tree() -> Path:
    if TREE.exists():
        shutil.rmtree(TREE)
    pkg = TREE / "vulnpipe"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "vulnpipe").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (pkg / name).symlink_to(ROOT / folder)
    return pkg


def main() -> int:
    pkg = build_tree()
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           str(pkg)]
    return subprocess.call(cmd, cwd=TREE, env={**os.environ, "MYPYPATH": str(TREE)})


if __name__ == "__main__":
    sys.exit(main())
