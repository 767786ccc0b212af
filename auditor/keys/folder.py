"""The keys folder on disk: its file names, where it is, and writing and reading an identity there.

A keys folder (`default_keys_dir()` unless told otherwise) holds:

- `seal.key.pem`   the signing key, encrypted with the seal's passphrase, mode 0600
- `seal.cert.pem`  the signing certificate
- `chain.pem`      intermediate certificates between the seal and the root (may be empty)
- `root.cert.pem`  the trust anchor `auditor verify` uses when no `--trust` is given
- `root.key.pem`   (only after `create_identity`) the root's key, encrypted with its own
  passphrase (never the seal's), mode 0600. Only `issue_identity` uses it, to give reviewers
  certificates under the same root: move it offline; `load_identity` never reads it
- `identity.json`  what reports say about the seal (subject, organisation, key type, throwaway,
  and a reviewer's role)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes, atomic_write_text
from auditor.keys.certificates import PrivateKey, key_type_name, subject_attribute
from auditor.keys.protection import encrypted_pem

KEY_FILE = "seal.key.pem"
CERT_FILE = "seal.cert.pem"
CHAIN_FILE = "chain.pem"
ROOT_FILE = "root.cert.pem"
ROOT_KEY_FILE = "root.key.pem"
INFO_FILE = "identity.json"


class IdentityInfo(BaseModel):
    """What a report may say about the identity that sealed it."""

    model_config = ConfigDict(frozen=True)

    common_name: str
    organisation: str
    key_type: str
    throwaway: bool = False
    source: Literal["created", "imported", "issued"] = "created"
    role: str | None = None  # a reviewer's role, as the certificate's subject `title` states it


@dataclass(frozen=True)
class IdentityPaths:
    """The files of one identity in its keys folder."""

    folder: Path
    key: Path
    cert: Path
    chain: Path
    root: Path
    info: Path

    @classmethod
    def of(cls, folder: Path) -> IdentityPaths:
        """The standard file names inside `folder`."""
        folder = Path(folder)
        return cls(
            folder,
            folder / KEY_FILE,
            folder / CERT_FILE,
            folder / CHAIN_FILE,
            folder / ROOT_FILE,
            folder / INFO_FILE,
        )


def default_keys_dir() -> Path:
    """`$AUDITOR_HOME/keys`, or `~/.config/auditor/keys`."""
    home = os.environ.get("AUDITOR_HOME")
    if home:
        return Path(home) / "keys"
    return Path.home() / ".config" / "auditor" / "keys"


def fresh_paths(folder: Path) -> IdentityPaths:
    """The paths of a new identity in `folder`, created 0700; refused if it already holds keys."""
    paths = IdentityPaths.of(folder)
    taken = next((p for p in (paths.key, paths.folder / ROOT_KEY_FILE) if p.exists()), None)
    if taken is not None:
        raise SigningError(
            f"{taken} already exists: choose another folder (--keys) or move the old "
            "identity away first; keys are never overwritten"
        )
    try:
        paths.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SigningError(f"cannot create keys folder {paths.folder}: {exc.strerror or exc}") from exc
    return paths


def write_identity(
    paths: IdentityPaths,
    passphrase: str,
    key: PrivateKey,
    cert: x509.Certificate,
    intermediates: tuple[x509.Certificate, ...],
    root: x509.Certificate,
    info: IdentityInfo,
) -> None:
    """Write the public files first and the key last: a folder without a key is not an identity."""
    atomic_write_bytes(paths.cert, _pem([cert]))
    atomic_write_bytes(paths.chain, _pem(intermediates))
    atomic_write_bytes(paths.root, _pem([root]))
    atomic_write_text(paths.info, info.model_dump_json(indent=2) + "\n")
    atomic_write_bytes(paths.key, encrypted_pem(key, passphrase), 0o600)


def read_info(paths: IdentityPaths, cert: x509.Certificate) -> IdentityInfo:
    """`identity.json`, or what `cert` says when the file is missing (an older import)."""
    if paths.info.exists():
        try:
            return IdentityInfo.model_validate(json.loads(paths.info.read_text("utf-8")))
        except ValueError as exc:
            raise SigningError(f"{paths.info} is damaged ({exc}); restore it from a backup") from exc
    return IdentityInfo(
        common_name=subject_attribute(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        organisation=subject_attribute(cert, NameOID.ORGANIZATION_NAME) or "unknown",
        key_type=key_type_name(cert.public_key()),  # type: ignore[arg-type]
        source="imported",
        role=subject_attribute(cert, NameOID.TITLE),
    )


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
