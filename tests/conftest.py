from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    for candidate in (os.environ.get("VULNPIPE_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "corpus" / "INDEX.json").exists():
            return Path(candidate)
    return None


SHARED = _shared()


@pytest.fixture(scope="session")
def shared() -> Path:
    if SHARED is None:
        pytest.skip("../shared (corpus and generator) not found; set VULNPIPE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def corpus_index(shared) -> list[dict]:
    return json.loads((shared / "corpus" / "INDEX.json").read_text())


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the real ``vulnpipe`` program (a subprocess, as a user would)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("VULNPIPE_DB", None) if env is None or "VULNPIPE_DB" not in env else None
    return subprocess.run([sys.executable, "-m", "vulnpipe", *map(str, args)], cwd=cwd,
                          env=full_env, input=input, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def generated(tmp_path_factory, shared):
    """A generated export (~300 hosts) and its ground truth, made once per session."""
    d = tmp_path_factory.mktemp("gen")
    out, truth = d / "gen.nessus", d / "gen.truth.json"
    subprocess.run([sys.executable, str(shared / "bench" / "gen_nessus.py"), "--hosts", "300",
                    "--seed", "7", "--l2tp-fraction", "0.1", "--related-fraction", "0.08",
                    "--out", str(out), "--truth", str(truth)], check=True)
    return out, json.loads(truth.read_text())
