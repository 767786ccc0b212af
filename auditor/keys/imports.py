"""Importing an organisation's existing seal: its key and chain from PKCS#12 or PEM files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from auditor.errors import SigningError
from auditor.keys.certificates import (
    PrivateKey,
    check_signing_certificate,
    check_validity_all,
    key_type_name,
    public_der,
    signed_by,
    subject_attribute,
)
from auditor.keys.folder import IdentityInfo, IdentityPaths, fresh_paths, write_identity
from auditor.keys.protection import check_new_passphrase

_MAX_CHAIN_LENGTH = 8  # issuers followed above the signing certificate before giving up


def import_identity(
    source: Path | Sequence[Path],
    folder: Path,
    passphrase: str,
    source_passphrase: str | None = None,
) -> IdentityPaths:
    """Import a key and its chain (root included) from a PKCS#12 file or PEM files.

    The signing certificate is the one whose public key matches the private key; the chain is
    followed issuer by issuer up to a self-signed root, which becomes the trust anchor.
    """
    check_new_passphrase(passphrase)
    sources = [Path(source)] if isinstance(source, (str, Path)) else [Path(s) for s in source]
    key, certs = _read_import_sources(sources, source_passphrase)
    cert = _certificate_for_key(key, certs, sources)
    check_signing_certificate(cert)
    path = _chain_to_root(cert, certs)
    check_validity_all((cert, *path), dt.datetime.now(dt.UTC))
    organisation = subject_attribute(cert, NameOID.ORGANIZATION_NAME) or subject_attribute(cert, NameOID.COMMON_NAME)
    info = IdentityInfo(
        common_name=subject_attribute(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        organisation=organisation or "unknown",
        key_type=key_type_name(key),
        source="imported",
    )
    paths = fresh_paths(folder)
    write_identity(paths, passphrase, key, cert, tuple(path[:-1]), path[-1], info)
    return paths


def _read_import_sources(
    sources: list[Path], source_passphrase: str | None
) -> tuple[PrivateKey, list[x509.Certificate]]:
    keys: list[PrivateKey] = []
    certs: list[x509.Certificate] = []
    for path in sources:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if path.suffix.lower() in (".p12", ".pfx"):
            key, found = _read_pkcs12(path, data, source_passphrase)
            keys += [key] if key is not None else []
            certs += found
        else:
            keys += _pem_keys(path, data, source_passphrase)
            certs += x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
    if len(keys) != 1:
        raise SigningError(
            f"found {len(keys)} private keys in {', '.join(map(str, sources))}: give exactly one "
            "key with its certificate and chain (a .p12/.pfx file, or PEM files)"
        )
    return keys[0], certs


def _read_pkcs12(
    path: Path, data: bytes, password: str | None
) -> tuple[PrivateKey | None, list[x509.Certificate]]:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None
        )
    except ValueError as exc:
        raise SigningError(
            f"cannot open {path}: wrong import passphrase or not a PKCS#12 file "
            "(give the file's own passphrase when asked for the source passphrase)"
        ) from exc
    if key is not None and not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"{path} holds a {type(key).__name__}: use an RSA or ECDSA key")
    return key, ([cert] if cert else []) + list(extra)


def _pem_keys(path: Path, data: bytes, password: str | None) -> list[PrivateKey]:
    if b"PRIVATE KEY-----" not in data:
        return []
    try:
        key = serialization.load_pem_private_key(data, password.encode("utf-8") if password else None)
    except TypeError as exc:
        raise SigningError(f"the key in {path} is encrypted: give its passphrase as the source passphrase") from exc
    except ValueError as exc:
        raise SigningError(f"cannot read the key in {path}: wrong source passphrase or damaged PEM") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"{path} holds a {type(key).__name__}: use an RSA or ECDSA key")
    return [key]


def _certificate_for_key(key: PrivateKey, certs: list[x509.Certificate], sources: list[Path]) -> x509.Certificate:
    wanted = public_der(key.public_key())
    for cert in certs:
        if public_der(cert.public_key()) == wanted:
            return cert
    raise SigningError(
        f"none of the certificates in {', '.join(map(str, sources))} belongs to the private key: "
        "include the signing certificate issued for this key"
    )


def _chain_to_root(cert: x509.Certificate, certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """Issuer certificates from `cert` up to a self-signed root (root last)."""
    path: list[x509.Certificate] = []
    current = cert
    while current.issuer != current.subject:
        issuer = next((c for c in certs if c.subject == current.issuer and signed_by(current, c)), None)
        if issuer is None or len(path) >= _MAX_CHAIN_LENGTH:
            raise SigningError(
                f"the chain of {current.subject.rfc4514_string()} stops before a root: add the "
                f"certificate of {current.issuer.rfc4514_string()} (and up to the organisation's "
                "root CA) to the import"
            )
        path.append(issuer)
        current = issuer
    if not path:
        raise SigningError(
            "the signing certificate is self-signed: import a certificate issued by the "
            "organisation's CA, or use `auditor keys init` to create a seal with its own root"
        )
    return path
