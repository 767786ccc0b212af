"""The signing identity in use: loaded from a keys folder, checked, and cached.

`load_identity` caches the parsed key: a second load of the same unchanged folder with the same
passphrase returns the same `SigningIdentity` without decrypting the key again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

import auditor.keys.protection as protection  # read_key looked up at call time: one place sees every decryption
from auditor.errors import SigningError
from auditor.keys.certificates import (
    PrivateKey,
    check_key_matches,
    check_validity_all,
    read_certificates,
    subject_attribute,
    subject_text,
)
from auditor.keys.folder import IdentityInfo, IdentityPaths, default_keys_dir, read_info
from auditor.keys.protection import SEAL_KEY, KeyKind


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """A parsed, checked signing identity: key, certificate, intermediates and root."""

    paths: IdentityPaths
    key: PrivateKey
    cert: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    root: x509.Certificate
    info: IdentityInfo

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Certificates above the signing certificate, root last."""
        return (*self.intermediates, self.root)

    @property
    def subject(self) -> str:
        return subject_text(self.cert.subject)

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the signing certificate (DER)."""
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def seal_info(self) -> dict[str, object]:
        """Plain facts about the seal for the report and the evidence record."""
        return {
            "signer": self.subject,
            "organisation": self.info.organisation,
            "certificate_sha256": self.fingerprint,
            "root": self.root.subject.rfc4514_string(),
            "root_sha256": self.root.fingerprint(hashes.SHA256()).hex(),
            "key_type": self.info.key_type,
            "valid_from": self.cert.not_valid_before_utc.isoformat(),
            "valid_until": self.cert.not_valid_after_utc.isoformat(),
            "throwaway": self.info.throwaway,
        }

    def check_usable(self, now: dt.datetime | None = None) -> None:
        """Raise `SigningError` unless every certificate is valid now and the key matches."""
        check_key_matches(self.key, self.cert, self.paths.cert)
        now = now or dt.datetime.now(dt.UTC)
        check_validity_all((self.cert, *self.chain), now)


def reviewer_role(identity: SigningIdentity | x509.Certificate) -> str | None:
    """The role the root certified for a reviewer (the certificate subject's `title`), if any."""
    cert = identity.cert if isinstance(identity, SigningIdentity) else identity
    return subject_attribute(cert, NameOID.TITLE)


_CACHE: dict[tuple[object, ...], SigningIdentity] = {}
_CACHE_SIZE = 16


def load_identity(folder: Path | None, passphrase: str | None, kind: KeyKind = SEAL_KEY) -> SigningIdentity:
    """Load and check the identity in `folder` (default: `default_keys_dir()`), cached; the
    messages name `kind`'s variable and option (a reviewer's folder is given with --as)."""
    paths = IdentityPaths.of(Path(folder) if folder is not None else default_keys_dir())
    if not paths.key.is_file():
        raise SigningError(_no_key(paths, kind))
    if not passphrase:
        raise SigningError(
            f"no passphrase for {kind.name} {paths.key}: set {kind.env} to the passphrase chosen at {kind.made_by}"
        )
    cache_key = _cache_key(paths, passphrase)
    identity = _CACHE.get(cache_key)
    if identity is None:
        identity = _parse_identity(paths, passphrase, kind)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[cache_key] = identity
    identity.check_usable()
    return identity


def _no_key(paths: IdentityPaths, kind: KeyKind) -> str:
    if kind == SEAL_KEY:
        return (
            f"no {kind.name} at {paths.key}: run `auditor keys init` (or `auditor keys import`) "
            f"first, or point {kind.option} at the folder that holds {paths.key.name}"
        )
    return f"no {kind.name} at {paths.key}: give {kind.option} the folder {kind.made_by} made (it holds {paths.key.name})"


def _cache_key(paths: IdentityPaths, passphrase: str) -> tuple[object, ...]:
    stamps = tuple(
        (p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None
        for p in (paths.key, paths.cert, paths.chain, paths.root, paths.info)
    )
    secret = hashlib.sha256(passphrase.encode("utf-8")).digest()
    return (paths.folder.resolve(), stamps, secret)


def _parse_identity(paths: IdentityPaths, passphrase: str, kind: KeyKind) -> SigningIdentity:
    key = protection.read_key(paths.key, passphrase, kind)
    certs = read_certificates(paths.cert)
    roots = read_certificates(paths.root)
    if not certs or not roots:
        missing = paths.cert if not certs else paths.root
        raise SigningError(f"{missing} holds no certificate: restore it or re-run `auditor keys import`")
    intermediates = tuple(read_certificates(paths.chain)) if paths.chain.exists() else ()
    info = read_info(paths, certs[0])
    return SigningIdentity(paths, key, certs[0], intermediates, roots[0], info)
