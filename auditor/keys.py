"""Signing identities: the organisation seal's private key, its certificate and the trust root.

Key type: RSA-3072 by default (`key_type="rsa3072"`), ECDSA P-256 on request (`"p256"`).
RSA-3072 is the default because every verifier a court or archive is likely to use (Adobe
Reader, poppler's `pdfsig`, OpenSSL, NSS, EU DSS) checks it, it is the ETSI/ANSSI/BSI
recommendation for seals used beyond 2030, and signing with it keeps the PDF at version 1.7 as
PDF/A-3 requires. P-256 is smaller and faster; `auditor.signing` keeps its PDFs at 1.7 too.

A keys folder (`default_keys_dir()` unless told otherwise) holds:

- `seal.key.pem`   the signing key, PKCS#8 encrypted with the passphrase, mode 0600
- `seal.cert.pem`  the signing certificate
- `chain.pem`      intermediate certificates between the seal and the root (may be empty)
- `root.cert.pem`  the trust anchor `auditor verify` uses when no `--trust` is given
- `root.key.pem`   (only after `create_identity`) the root's key, encrypted, mode 0600, used by
  `issue_identity` to give reviewers certificates under the same root; move it offline if your
  policy wants the root key away from the signing host
- `identity.json`  what reports say about the seal (subject, organisation, key type, throwaway)

The passphrase comes from `AUDITOR_KEY_PASSPHRASE` or a prompt, never from a command-line
argument. `load_identity` caches the parsed key: a second load of the same unchanged folder with
the same passphrase returns the same `SigningIdentity` without decrypting the key again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes, atomic_write_text

KeyType = Literal["rsa3072", "p256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

PASSPHRASE_ENV = "AUDITOR_KEY_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 8
KEY_FILE = "seal.key.pem"
CERT_FILE = "seal.cert.pem"
CHAIN_FILE = "chain.pem"
ROOT_FILE = "root.cert.pem"
ROOT_KEY_FILE = "root.key.pem"
INFO_FILE = "identity.json"
_CLOCK_SKEW = dt.timedelta(minutes=5)


class IdentityInfo(BaseModel):
    """What a report may say about the identity that sealed it."""

    model_config = ConfigDict(frozen=True)

    common_name: str
    organisation: str
    key_type: str
    throwaway: bool = False
    source: Literal["created", "imported", "issued"] = "created"


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
        return self.cert.subject.rfc4514_string()

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
        now = now or dt.datetime.now(dt.timezone.utc)
        _check_validity_all((self.cert, *self.chain), now)


def default_keys_dir() -> Path:
    """`$AUDITOR_HOME/keys`, or `~/.config/auditor/keys`."""
    home = os.environ.get("AUDITOR_HOME")
    if home:
        return Path(home) / "keys"
    return Path.home() / ".config" / "auditor" / "keys"


def passphrase_from_env() -> str | None:
    """The passphrase in `AUDITOR_KEY_PASSPHRASE`, or None when unset or empty."""
    return os.environ.get(PASSPHRASE_ENV) or None


def create_identity(
    folder: Path,
    passphrase: str,
    *,
    common_name: str,
    organisation: str,
    key_type: KeyType = "rsa3072",
    valid_days: int = 3650,
    throwaway: bool = False,
) -> IdentityPaths:
    """Create a self-signed root and a signing certificate under it in `folder`."""
    _check_new_passphrase(passphrase)
    paths = _fresh_paths(folder)
    root_key, seal_key = _new_key(key_type), _new_key(key_type)
    start = dt.datetime.now(dt.timezone.utc) - _CLOCK_SKEW
    end = start + dt.timedelta(days=valid_days)
    root_name = _name(f"{organisation} evidence seal root", organisation)
    root = _root_certificate(root_key, root_name, start, end)
    cert = _leaf_certificate(seal_key, _name(common_name, organisation), root_key, root, start, end)
    info = IdentityInfo(
        common_name=common_name, organisation=organisation, key_type=key_type, throwaway=throwaway
    )
    _write_identity(paths, passphrase, seal_key, cert, (), root, info)
    atomic_write_bytes(paths.folder / ROOT_KEY_FILE, _encrypted_pem(root_key, passphrase), 0o600)
    return paths


def issue_identity(
    ca_folder: Path,
    ca_passphrase: str,
    folder: Path,
    passphrase: str,
    *,
    common_name: str,
    key_type: KeyType = "rsa3072",
    valid_days: int = 825,
) -> IdentityPaths:
    """Issue a new signing identity (e.g. a reviewer's) under the root created in `ca_folder`."""
    _check_new_passphrase(passphrase)
    ca = load_identity(ca_folder, ca_passphrase)
    root_key = _read_key(ca.paths.folder / ROOT_KEY_FILE, ca_passphrase)
    check_key_matches(root_key, ca.root, ca.paths.root)
    paths = _fresh_paths(folder)
    key = _new_key(key_type)
    start = dt.datetime.now(dt.timezone.utc) - _CLOCK_SKEW
    end = min(start + dt.timedelta(days=valid_days), ca.root.not_valid_after_utc)
    cert = _leaf_certificate(key, _name(common_name, ca.info.organisation), root_key, ca.root, start, end)
    info = IdentityInfo(
        common_name=common_name,
        organisation=ca.info.organisation,
        key_type=key_type,
        throwaway=ca.info.throwaway,
        source="issued",
    )
    _write_identity(paths, passphrase, key, cert, (), ca.root, info)
    return paths


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
    _check_new_passphrase(passphrase)
    sources = [Path(source)] if isinstance(source, (str, Path)) else [Path(s) for s in source]
    key, certs = _read_import_sources(sources, source_passphrase)
    cert = _certificate_for_key(key, certs, sources)
    path = _chain_to_root(cert, certs)
    _check_validity_all((cert, *path), dt.datetime.now(dt.timezone.utc))
    organisation = _attribute(cert, NameOID.ORGANIZATION_NAME) or _attribute(cert, NameOID.COMMON_NAME)
    info = IdentityInfo(
        common_name=_attribute(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        organisation=organisation or "unknown",
        key_type=_key_type_name(key),
        source="imported",
    )
    paths = _fresh_paths(folder)
    _write_identity(paths, passphrase, key, cert, tuple(path[:-1]), path[-1], info)
    return paths


_CACHE: dict[tuple[object, ...], SigningIdentity] = {}
_CACHE_SIZE = 16


def load_identity(folder: Path | None, passphrase: str | None) -> SigningIdentity:
    """Load and check the identity in `folder` (default: `default_keys_dir()`), cached."""
    paths = IdentityPaths.of(Path(folder) if folder is not None else default_keys_dir())
    if not paths.key.is_file():
        raise SigningError(
            f"no signing key at {paths.key}: run `auditor keys init` (or `auditor keys import`) "
            "first, or point --keys at the folder that holds seal.key.pem"
        )
    if not passphrase:
        raise SigningError(
            f"no passphrase for signing key {paths.key}: set {PASSPHRASE_ENV} to the passphrase "
            "used at `auditor keys init`"
        )
    cache_key = _cache_key(paths, passphrase)
    identity = _CACHE.get(cache_key)
    if identity is None:
        identity = _parse_identity(paths, passphrase)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[cache_key] = identity
    identity.check_usable()
    return identity


def check_key_matches(key: PrivateKey, cert: x509.Certificate, where: Path) -> None:
    """Raise `SigningError` if `cert` does not certify `key`'s public key."""
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise SigningError(
            f"the certificate {where} does not belong to the private key next to it: "
            "import the matching key and certificate again with `auditor keys import`"
        )


def read_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates in a PEM or DER file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read certificate file {path}: {exc.strerror or exc}") from exc
    if not data.strip():
        return []
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SigningError(f"{path} holds no readable X.509 certificate: {exc}") from exc


# --- creation helpers -------------------------------------------------------------------------


def _check_new_passphrase(passphrase: str) -> None:
    if not passphrase or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise SigningError(
            f"the key passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters: "
            f"set {PASSPHRASE_ENV} or type a longer one at the prompt"
        )


def _fresh_paths(folder: Path) -> IdentityPaths:
    paths = IdentityPaths.of(folder)
    if paths.key.exists():
        raise SigningError(
            f"{paths.key} already exists: choose another folder (--keys) or move the old "
            "identity away first; keys are never overwritten"
        )
    try:
        paths.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise SigningError(f"cannot create keys folder {paths.folder}: {exc.strerror or exc}") from exc
    return paths


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise SigningError(f"unknown key type {key_type!r}: use 'rsa3072' or 'p256'")


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, start: dt.datetime, end: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def _root_certificate(
    key: PrivateKey, name: x509.Name, start: dt.datetime, end: dt.datetime
) -> x509.Certificate:
    return (
        _builder(name, name, key, start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    key: PrivateKey,
    name: x509.Name,
    ca_key: PrivateKey,
    ca: x509.Certificate,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.Certificate:
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        _builder(name, ca.subject, key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _encrypted_pem(key: PrivateKey, passphrase: str) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def _pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write_identity(
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
    atomic_write_bytes(paths.key, _encrypted_pem(key, passphrase), 0o600)


# --- import helpers ---------------------------------------------------------------------------


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
    wanted = _public_der(key.public_key())
    for cert in certs:
        if _public_der(cert.public_key()) == wanted:
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
        issuer = next((c for c in certs if c.subject == current.issuer and _signed_by(current, c)), None)
        if issuer is None or len(path) >= 8:
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


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _key_type_name(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa{key.key_size}"
    return {"secp256r1": "p256"}.get(key.curve.name, key.curve.name)


# --- loading helpers --------------------------------------------------------------------------


def _cache_key(paths: IdentityPaths, passphrase: str) -> tuple[object, ...]:
    stamps = tuple(
        (p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None
        for p in (paths.key, paths.cert, paths.chain, paths.root, paths.info)
    )
    secret = hashlib.sha256(passphrase.encode("utf-8")).digest()
    return (paths.folder.resolve(), stamps, secret)


def _parse_identity(paths: IdentityPaths, passphrase: str) -> SigningIdentity:
    key = _read_key(paths.key, passphrase)
    certs = read_certificates(paths.cert)
    roots = read_certificates(paths.root)
    if not certs or not roots:
        missing = paths.cert if not certs else paths.root
        raise SigningError(f"{missing} holds no certificate: restore it or re-run `auditor keys import`")
    intermediates = tuple(read_certificates(paths.chain)) if paths.chain.exists() else ()
    info = _read_info(paths, key, certs[0])
    return SigningIdentity(paths, key, certs[0], intermediates, roots[0], info)


def _read_key(path: Path, passphrase: str) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"wrong passphrase for key {path} (or the key file is damaged): set {PASSPHRASE_ENV} "
            "to the passphrase used at `auditor keys init`"
        ) from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"{path} holds a {type(key).__name__}: use an RSA or ECDSA key")
    return key


def _read_info(paths: IdentityPaths, key: PrivateKey, cert: x509.Certificate) -> IdentityInfo:
    if paths.info.exists():
        try:
            return IdentityInfo.model_validate(json.loads(paths.info.read_text("utf-8")))
        except ValueError as exc:
            raise SigningError(f"{paths.info} is damaged ({exc}); restore it from a backup") from exc
    return IdentityInfo(
        common_name=_attribute(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        organisation=_attribute(cert, NameOID.ORGANIZATION_NAME) or "unknown",
        key_type=_key_type_name(key),
        source="imported",
    )


def _check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    subject = cert.subject.rfc4514_string()
    if now < cert.not_valid_before_utc:
        raise SigningError(
            f"certificate {subject} is not valid yet (valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC): "
            "check the system clock or wait until then"
        )
    if now > cert.not_valid_after_utc:
        raise SigningError(
            f"certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}: create or import "
            "a new seal (`auditor keys init` / `auditor keys import`)"
        )


def _check_validity_all(certs: Sequence[x509.Certificate], now: dt.datetime) -> None:
    for cert in certs:
        _check_validity(cert, now)


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
