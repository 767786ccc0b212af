"""Signing identities: the organisation seal's private key, its certificate and the trust root.

Key type: RSA-3072 by default (`key_type="rsa3072"`), ECDSA P-256 on request (`"p256"`).
RSA-3072 is the default because every verifier a court or archive is likely to use (Adobe
Reader, poppler's `pdfsig`, OpenSSL, NSS, EU DSS) checks it, it is the ETSI/ANSSI/BSI
recommendation for seals used beyond 2030, and signing with it keeps the PDF at version 1.7 as
PDF/A-3 requires. P-256 is smaller and faster; `auditor.signing` keeps its PDFs at 1.7 too.

A keys folder (`default_keys_dir()` unless told otherwise) holds:

- `seal.key.pem`   the signing key, encrypted with the seal's passphrase, mode 0600
- `seal.cert.pem`  the signing certificate
- `chain.pem`      intermediate certificates between the seal and the root (may be empty)
- `root.cert.pem`  the trust anchor `auditor verify` uses when no `--trust` is given
- `root.key.pem`   (only after `create_identity`) the root's key, encrypted with its own
  passphrase (never the seal's), mode 0600. Only `issue_identity` uses it, to give reviewers
  certificates under the same root: move it offline; `load_identity` never reads it
- `identity.json`  what reports say about the seal (subject, organisation, key type, throwaway)

Key files are PKCS#8 "ENCRYPTED PRIVATE KEY" PEM: PBES2 with PBKDF2-HMAC-SHA256 at 600 000
iterations (OWASP 2023) and AES-256-CBC. scrypt at N=2^17 was the other candidate, but OpenSSL
3.0 refuses scrypt above 32 MiB (N=2^14 at r=8), so `openssl pkey` could not read such files.
Files written with fewer iterations (2 048 before this version) still load; `key_protection`
tells, and `rekey_key_file` re-encrypts them in place.

The seal's passphrase comes from `AUDITOR_KEY_PASSPHRASE`, the root's from
`AUDITOR_ROOT_PASSPHRASE`, or a prompt; never from a command-line argument. `load_identity`
caches the parsed key: a second load of the same unchanged folder with the same passphrase
returns the same `SigningIdentity` without decrypting the key again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.padding import PKCS7
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, ConfigDict

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes, atomic_write_text

KeyType = Literal["rsa3072", "p256"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

PASSPHRASE_ENV = "AUDITOR_KEY_PASSPHRASE"
ROOT_PASSPHRASE_ENV = "AUDITOR_ROOT_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 8
KEY_FILE = "seal.key.pem"
CERT_FILE = "seal.cert.pem"
CHAIN_FILE = "chain.pem"
ROOT_FILE = "root.cert.pem"
ROOT_KEY_FILE = "root.key.pem"
INFO_FILE = "identity.json"
_CLOCK_SKEW = dt.timedelta(minutes=5)
KDF_ITERATIONS = 600_000  # PBKDF2-HMAC-SHA256, OWASP 2023; also the floor below which a key file is weak
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning, RFC 9336
SIGNING_EKUS = frozenset(
    {
        DOCUMENT_SIGNING_EKU,
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
        x509.ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe Authentic Documents Trust
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)
"""Extended key usages that let a certificate seal documents (when it has an EKU at all)."""


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
    root_passphrase: str,
    common_name: str,
    organisation: str,
    key_type: KeyType = "rsa3072",
    valid_days: int = 3650,
    throwaway: bool = False,
) -> IdentityPaths:
    """Create a self-signed root and a signing certificate under it in `folder`.

    The seal key is encrypted with `passphrase`, the root key with `root_passphrase`, which
    must differ: the daily seal's passphrase never opens the root key.
    """
    _check_new_passphrase(passphrase)
    _check_new_passphrase(root_passphrase, ROOT_PASSPHRASE_ENV)
    check_passphrases_apart(passphrase, root_passphrase)
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
    atomic_write_bytes(paths.folder / ROOT_KEY_FILE, _encrypted_pem(root_key, root_passphrase), 0o600)
    _write_identity(paths, passphrase, seal_key, cert, (), root, info)
    return paths


def issue_identity(
    ca_folder: Path,
    root_passphrase: str,
    folder: Path,
    passphrase: str,
    *,
    common_name: str,
    root_key: Path | None = None,
    key_type: KeyType = "rsa3072",
    valid_days: int = 825,
) -> IdentityPaths:
    """Issue a new signing identity (e.g. a reviewer's) under the root created in `ca_folder`.

    The root key is read from `root_key` (its offline copy) or `ca_folder/root.key.pem` and
    opened with `root_passphrase`; the seal's passphrase is not needed.
    """
    _check_new_passphrase(passphrase)
    check_passphrases_apart(passphrase, root_passphrase)
    ca_paths = IdentityPaths.of(ca_folder)
    root = _read_root_certificate(ca_paths)
    ca_key = _read_root_key(Path(root_key) if root_key else ca_paths.folder / ROOT_KEY_FILE, root_passphrase)
    check_key_matches(ca_key, root, ca_paths.root)
    ca_info = _read_info(ca_paths, root)
    paths = _fresh_paths(folder)
    key = _new_key(key_type)
    start = dt.datetime.now(dt.timezone.utc) - _CLOCK_SKEW
    end = min(start + dt.timedelta(days=valid_days), root.not_valid_after_utc)
    cert = _leaf_certificate(key, _name(common_name, ca_info.organisation), ca_key, root, start, end)
    info = IdentityInfo(
        common_name=common_name,
        organisation=ca_info.organisation,
        key_type=key_type,
        throwaway=ca_info.throwaway,
        source="issued",
    )
    _write_identity(paths, passphrase, key, cert, (), root, info)
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
    check_signing_certificate(cert)
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


def check_passphrases_apart(passphrase: str, root_passphrase: str) -> None:
    """Raise `SigningError` if the root key's passphrase equals the signing key's."""
    if hmac.compare_digest(passphrase.encode("utf-8"), root_passphrase.encode("utf-8")):
        raise SigningError(
            "the root key's passphrase must differ from the signing key's: choose another one "
            f"({ROOT_PASSPHRASE_ENV} or the prompt) and keep it apart, with the root key, offline"
        )


def check_signing_certificate(cert: x509.Certificate) -> None:
    """Raise `SigningError` unless `cert` may seal documents (what `auditor verify` requires).

    It must not be a CA, must allow digitalSignature or nonRepudiation, and, when it has an
    extended key usage, list one of `SIGNING_EKUS`.
    """
    subject = cert.subject.rfc4514_string()
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:  # type: ignore[attr-defined]
        raise SigningError(
            f"the certificate {subject} is a CA certificate: import the seal's own end-entity "
            "certificate, not its issuer's"
        )
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not (usage.digital_signature or usage.content_commitment):
        raise SigningError(
            f"the certificate {subject} does not allow signing (key usage lacks digitalSignature "
            "and nonRepudiation): ask the CA for a document-signing certificate"
        )
    purposes = _extension(cert, x509.ExtendedKeyUsage)
    if purposes is not None and not SIGNING_EKUS.intersection(purposes):
        listed = ", ".join(p.dotted_string for p in purposes)  # type: ignore[attr-defined]
        raise SigningError(
            f"the certificate {subject} is not for signing documents (extended key usage: {listed}): "
            "ask the CA for one with id-kp-documentSigning (1.3.6.1.5.5.7.3.36) or emailProtection"
        )


@dataclass(frozen=True)
class KeyProtection:
    """How a key file is encrypted, and whether that resists offline guessing."""

    description: str
    strong: bool


def key_protection(path: Path) -> KeyProtection:
    """Read the encryption parameters of the PEM key file at `path` (no passphrase needed)."""
    try:
        kind, headers, der = asn1_pem.unarmor(Path(path).read_bytes())
        if kind != "ENCRYPTED PRIVATE KEY":
            legacy = "ENCRYPTED" in headers.get("Proc-Type", "")
            return KeyProtection("legacy PEM encryption (one MD5 round)" if legacy else "NOT ENCRYPTED", False)
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
        if algorithm["algorithm"].native != "pbes2" or algorithm.kdf != "pbkdf2":
            return KeyProtection(f"{algorithm['algorithm'].native} with {algorithm.kdf}", False)
        iterations, prf = algorithm.kdf_iterations, algorithm.kdf_hmac
        cipher = f"{algorithm.encryption_cipher}-{algorithm.key_length * 8}-{algorithm.encryption_mode}".upper()
    except OSError as exc:
        raise SigningError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SigningError(f"{path} is not a readable PEM key file ({exc}): restore it from a backup") from exc
    text = f"PBKDF2-HMAC-{prf.upper()}, {iterations} iterations, {cipher}"
    return KeyProtection(text, iterations >= KDF_ITERATIONS and prf != "sha1")


def rekey_key_file(path: Path, passphrase: str, new_passphrase: str | None = None) -> None:
    """Re-encrypt the key file at `path` in place (atomically, mode 0600) with the strong KDF.

    It keeps `passphrase` unless `new_passphrase` is given (used to give a root key written
    before this version, which shares the seal's passphrase, its own).
    """
    key = _read_key(Path(path), passphrase)
    if new_passphrase is not None:
        _check_new_passphrase(new_passphrase, ROOT_PASSPHRASE_ENV)
    atomic_write_bytes(Path(path), _encrypted_pem(key, new_passphrase or passphrase), 0o600)


# --- creation helpers -------------------------------------------------------------------------


def _check_new_passphrase(passphrase: str, env: str = PASSPHRASE_ENV) -> None:
    if not passphrase or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise SigningError(
            f"the key passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters: "
            f"set {env} or type a longer one at the prompt"
        )


def _fresh_paths(folder: Path) -> IdentityPaths:
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
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _encrypted_pem(key: PrivateKey, passphrase: str) -> bytes:
    """PKCS#8 EncryptedPrivateKeyInfo, PBES2: PBKDF2-HMAC-SHA256 (`KDF_ITERATIONS`), AES-256-CBC."""
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, KDF_ITERATIONS).derive(passphrase.encode("utf-8"))
    padder = PKCS7(128).padder()
    plain = padder.update(_plain_der(key)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": KDF_ITERATIONS,
                            "prf": {"algorithm": "sha256", "parameters": asn1_core.Null()},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encryptor.update(plain) + encryptor.finalize(),
        }
    )
    return asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())


def _plain_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
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


def _key_type_name(key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
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
    info = _read_info(paths, certs[0])
    return SigningIdentity(paths, key, certs[0], intermediates, roots[0], info)


def _read_key(path: Path, passphrase: str, env: str = PASSPHRASE_ENV) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"wrong passphrase for key {path} (or the key file is damaged): set {env} "
            "to the passphrase used at `auditor keys init`"
        ) from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"{path} holds a {type(key).__name__}: use an RSA or ECDSA key")
    return key


def _read_root_certificate(paths: IdentityPaths) -> x509.Certificate:
    roots = read_certificates(paths.root) if paths.root.is_file() else []
    if not roots:
        raise SigningError(
            f"no root certificate at {paths.root}: issue from the keys folder made by `auditor keys init`"
        )
    _check_validity(roots[0], dt.datetime.now(dt.timezone.utc))
    return roots[0]


def _read_root_key(path: Path, passphrase: str) -> PrivateKey:
    if not path.is_file():
        raise SigningError(
            f"no root key at {path}: bring the root key (root.key.pem, kept offline) and give its path"
        )
    return _read_key(path, passphrase, ROOT_PASSPHRASE_ENV)


def _read_info(paths: IdentityPaths, cert: x509.Certificate) -> IdentityInfo:
    if paths.info.exists():
        try:
            return IdentityInfo.model_validate(json.loads(paths.info.read_text("utf-8")))
        except ValueError as exc:
            raise SigningError(f"{paths.info} is damaged ({exc}); restore it from a backup") from exc
    return IdentityInfo(
        common_name=_attribute(cert, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        organisation=_attribute(cert, NameOID.ORGANIZATION_NAME) or "unknown",
        key_type=_key_type_name(cert.public_key()),  # type: ignore[arg-type]
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


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
