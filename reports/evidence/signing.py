"""Ed25519 signatures of a pack's ``manifest.json`` (detached, 64 raw bytes).

Ed25519 signatures are deterministic, so a signed pack is still byte-for-byte reproducible.
The signature can be checked without vulnpipe::

    openssl pkeyutl -verify -pubin -inkey evidence-signing.pub -rawin \\
        -in manifest.json -sigfile manifest.json.sig
"""
from __future__ import annotations

import os
from pathlib import Path

from vulnpipe.ingest.errors import InputError

PRIVATE_NAME = "evidence-signing.pem"
PUBLIC_NAME = "evidence-signing.pub"


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", path=path,
                         hint="check the path") from None


def load_private_key(path: str | os.PathLike):
    """An unencrypted Ed25519 private key from a PEM file (as ``keygen`` writes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read(Path(path), "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError("the signing key is encrypted", path=path,
                         hint="give an unencrypted PEM key, e.g. from `vulnpipe evidence keygen`") from None
    except ValueError:
        raise InputError("not a PEM private key", path=path,
                         hint="give the .pem written by `vulnpipe evidence keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("the signing key is not an Ed25519 key", path=path,
                         hint="create one with `vulnpipe evidence keygen --out DIR`")
    return key


def load_public_key(path: str | os.PathLike):
    """An Ed25519 public key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read(Path(path), "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise InputError("not a PEM public key", path=path,
                         hint="give the .pub written by `vulnpipe evidence keygen`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("the public key is not an Ed25519 key", path=path)
    return key


def sign(data: bytes, key_path: str | os.PathLike) -> bytes:
    """The detached Ed25519 signature of ``data`` with the key in ``key_path``."""
    return load_private_key(key_path).sign(data)


def signature_valid(data: bytes, signature: bytes, pub_path: str | os.PathLike) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data`` for the public key."""
    from cryptography.exceptions import InvalidSignature

    key = load_public_key(pub_path)
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def generate_keypair(directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new key pair into ``directory``: ``evidence-signing.pem`` (private, mode
    0600) and ``evidence-signing.pub``. Existing files are never overwritten."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    d = Path(directory)
    private, public = d / PRIVATE_NAME, d / PUBLIC_NAME
    for p in (private, public):
        if p.exists():
            raise InputError("a key file is already there", path=p,
                             hint="choose another --out folder or move the old keys away")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror or exc}", path=d) from None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(pub)
    return private, public
