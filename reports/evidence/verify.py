"""Checking a pack: every file against ``manifest.json``, and optionally the signature.

Nothing is extracted: members are read from the zip in memory-bounded chunks. A member
with an unsafe name (absolute, ``..``, drive letter, backslash) is reported and never read.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from vulnpipe.ingest.errors import BadValue, InputError
from vulnpipe.ingest.nessus.sources import open_zip_member
from vulnpipe.reports.evidence.manifest import ManifestError, read_manifest
from vulnpipe.reports.evidence.names import MANIFEST, SIGNATURE, unsafe_reason

MISSING, EXTRA, ALTERED, UNSAFE, DUPLICATE, BAD_MANIFEST, BAD_SIGNATURE = (
    "missing", "extra", "altered", "unsafe", "duplicate", "bad manifest", "bad signature")
MAX_MANIFEST = 64 * 1024 * 1024
CHUNK = 1 << 20
#: What reading a damaged member raises (a bad header, corrupt deflate data, a wrong CRC, a
#: compression method zipfile does not know): the member is altered, the pack not intact.
UNREADABLE = (zipfile.BadZipFile, OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack, shown as one line: ``altered: tickets/VP-….json (...)``."""

    kind: str
    path: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class VerifyResult:
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0                       # files whose hash matched
    signature: str = "absent"              # absent | valid | invalid | not checked
    fingerprint: str | None = None         # SHA-256 of manifest.json (None: no manifest)
    fingerprint_checked: bool = False      # compared with the one recorded at build

    @property
    def intact(self) -> bool:
        return not self.problems


def _digest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, int]:
    """SHA-256 and size of a member, reading at most ``limit + 1`` bytes."""
    digest, size = hashlib.sha256(), 0
    with open_zip_member(zf, info) as fh:
        while size <= limit:
            chunk = fh.read(min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_signature(zf: zipfile.ZipFile, sig_info: zipfile.ZipInfo | None, manifest: bytes,
                     pub_key: str | os.PathLike | None, result: VerifyResult) -> None:
    """Whether ``manifest.json.sig`` signs the manifest's exact bytes (checked even when the
    manifest itself cannot be read, so a damaged manifest also fails the signature)."""
    if pub_key is None:
        result.signature = "not checked" if sig_info is not None else "absent"
        return
    if sig_info is None:
        result.signature = "absent"
        result.problems.append(Problem(MISSING, SIGNATURE, "--pub-key given but the pack is not signed"))
        return
    from vulnpipe.reports.evidence.signing import signature_valid

    try:
        sig = zf.read(sig_info) if sig_info.file_size <= 4096 else b""
    except UNREADABLE:
        sig = b""
    if signature_valid(manifest, sig, pub_key):
        result.signature = "valid"
    else:
        result.signature = "invalid"
        result.problems.append(Problem(BAD_SIGNATURE, SIGNATURE,
                                       "does not match manifest.json for this public key"))


def verify_pack(path: str | os.PathLike, pub_key: str | os.PathLike | None = None,
                fingerprint: str | None = None) -> VerifyResult:
    """Recompute every hash of the pack at ``path`` against its manifest.

    Reports each missing, extra, altered, duplicated or unsafely named member; with
    ``pub_key``, also whether ``manifest.json.sig`` is a valid signature of the manifest;
    with ``fingerprint`` (the manifest's SHA-256 that ``evidence build`` printed), whether
    manifest.json is that very manifest. Without either, a changed manifest.json that still
    parses (the database URL, say) goes unnoticed: the files only match *a* manifest.
    """
    if fingerprint is not None:
        fingerprint = fingerprint.strip().lower()
        if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
            raise BadValue(f"--manifest-sha256 {fingerprint!r} is not a SHA-256",
                           hint="64 hex digits, as `vulnpipe evidence build` printed them")
    if pub_key is not None:
        from vulnpipe.reports.evidence.signing import load_public_key

        load_public_key(pub_key)               # a bad key is a usage error, not a bad pack
    result = VerifyResult()
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError("no such file", path=path, hint="check the path") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable zip file: {exc}", path=path) from None
    with zf:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = info.filename
            reason = unsafe_reason(name)
            if reason:
                result.problems.append(Problem(UNSAFE, name, f"{reason}; not read"))
                continue
            if info.is_dir():
                result.problems.append(Problem(EXTRA, name, "a folder entry the manifest does not list"))
                continue
            if name in members:
                result.problems.append(Problem(DUPLICATE, name, "the zip holds this name twice"))
                continue
            members[name] = info
        if MANIFEST not in members:
            result.problems.append(Problem(MISSING, MANIFEST, "cannot check anything without it"))
            return result
        if members[MANIFEST].file_size > MAX_MANIFEST:
            result.problems.append(Problem(BAD_MANIFEST, MANIFEST, "too large"))
            return result
        try:
            manifest = zf.read(members[MANIFEST])
        except UNREADABLE as exc:
            result.problems.append(Problem(BAD_MANIFEST, MANIFEST, f"unreadable: {exc}"))
            return result
        result.fingerprint = hashlib.sha256(manifest).hexdigest()
        if fingerprint is not None:
            result.fingerprint_checked = True
            if result.fingerprint != fingerprint:
                result.problems.append(Problem(BAD_MANIFEST, MANIFEST,
                                               f"SHA-256 {result.fingerprint} is not the "
                                               f"fingerprint given ({fingerprint})"))
        _check_signature(zf, members.get(SIGNATURE), manifest, pub_key, result)
        try:
            _about, files = read_manifest(manifest)
        except ManifestError as exc:
            result.problems.append(Problem(BAD_MANIFEST, MANIFEST, str(exc)))
            return result
        listed = set()
        for entry in sorted(files, key=lambda f: f.path):
            reason = unsafe_reason(entry.path)
            if reason:
                result.problems.append(Problem(BAD_MANIFEST, entry.path,
                                               f"listed with an unsafe name: {reason}"))
                continue
            if entry.path in listed:
                result.problems.append(Problem(BAD_MANIFEST, entry.path, "listed twice"))
                continue
            listed.add(entry.path)
            member = members.get(entry.path)
            if member is None:
                result.problems.append(Problem(MISSING, entry.path,
                                               "listed in the manifest, not in the pack"))
                continue
            try:
                sha, size = _digest(zf, member, entry.size)
            except UNREADABLE as exc:
                result.problems.append(Problem(ALTERED, entry.path, f"unreadable: {exc}"))
                continue
            if size != entry.size or sha != entry.sha256:
                what = "size differs" if size != entry.size else "SHA-256 differs"
                result.problems.append(Problem(ALTERED, entry.path, f"{what} from the manifest"))
                continue
            result.checked += 1
        for name in sorted(set(members) - listed - {MANIFEST, SIGNATURE}):
            result.problems.append(Problem(EXTRA, name, "not listed in the manifest"))
    return result


def describe(result: VerifyResult, path: str | Path) -> str:
    """The closing line of ``vulnpipe evidence verify``: what was proved, and what was not."""
    if not result.intact:
        return f"{path}: NOT intact, {len(result.problems)} problem(s)"
    text = f"{path}: intact, {result.checked} file(s) match the manifest"
    if result.fingerprint_checked:
        text += "; manifest SHA-256 matches the fingerprint given"
    if result.signature == "valid":
        return text + "; signature valid"
    if result.fingerprint_checked:
        return text
    if result.signature == "not checked":
        return text + ("; signature present, not checked (give --pub-key): manifest.json "
                       "itself is not proved unchanged")
    return text + (f"; unsigned: manifest.json itself is not proved unchanged (compare its "
                   f"SHA-256 {result.fingerprint} with the one recorded at build, or give "
                   "--manifest-sha256)")
