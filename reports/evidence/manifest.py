"""``manifest.json``: every other file of the pack with its SHA-256 and size, and where the
evidence came from (vulnpipe version, database, the original scan files' SHA-256)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

from vulnpipe.reports.evidence.names import MANIFEST, SIGNATURE

FORMAT = "vulnpipe-evidence-pack/1"


@dataclass(frozen=True)
class FileEntry:
    """One file of the pack as the manifest lists it."""

    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, path: str, data: bytes) -> "FileEntry":
        return cls(path, hashlib.sha256(data).hexdigest(), len(data))


def manifest_bytes(about: dict[str, Any], files: Sequence[FileEntry]) -> bytes:
    """The manifest's exact bytes: ``about`` (built in a fixed order) then the files sorted
    by path. The same inputs always give the same bytes (what a signature covers)."""
    doc = {"format": FORMAT, **about,
           "files": [{"path": f.path, "sha256": f.sha256, "size": f.size}
                     for f in sorted(files, key=lambda f: f.path)]}
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


class ManifestError(ValueError):
    """manifest.json cannot be read as a vulnpipe manifest."""


def read_manifest(data: bytes) -> tuple[dict[str, Any], list[FileEntry]]:
    """The manifest's fields and its file list; :class:`ManifestError` when malformed."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifestError(f"not a {FORMAT} manifest")
    files = doc.get("files")
    if not isinstance(files, list):
        raise ManifestError("no 'files' list")
    out = []
    for i, f in enumerate(files):
        if not (isinstance(f, dict) and isinstance(f.get("path"), str)
                and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int)):
            raise ManifestError(f"files[{i}] needs path, sha256 and size")
        if f["path"] in (MANIFEST, SIGNATURE):
            raise ManifestError(f"files[{i}] lists {f['path']}, which cannot hash itself")
        out.append(FileEntry(f["path"], f["sha256"].lower(), f["size"]))
    return doc, out
