"""New identities: a self-signed root with its seal, and seals issued under an existing root.

Key type: RSA-3072 by default (`key_type="rsa3072"`), ECDSA P-256 on request (`"p256"`).
RSA-3072 is the default because every verifier a court or archive is likely to use (Adobe
Reader, poppler's `pdfsig`, OpenSSL, NSS, EU DSS) checks it, it is the ETSI/ANSSI/BSI
recommendation for seals used beyond 2030, and signing with it keeps the PDF at version 1.7 as
PDF/A-3 requires. P-256 is smaller and faster; `auditor.signing.seal` keeps its PDFs at 1.7 too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, get_args
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

import auditor.keys.protection as protection  # read_key looked up at call time: one place sees every decryption
from auditor.errors import SigningError
from auditor.files import atomic_write_bytes
from auditor.keys.certificates import (
    DOCUMENT_SIGNING_EKU,
    REVIEWER_POLICY,
    PrivateKey,
    check_key_matches,
    check_validity,
    read_certificates,
)
from auditor.keys.crl import write_crl
from auditor.keys.folder import ROOT_KEY_FILE, IdentityInfo, IdentityPaths, fresh_paths, read_info, write_identity
from auditor.keys.protection import ROOT_PASSPHRASE_ENV, check_new_passphrase, check_passphrases_apart, encrypted_pem

_E = TypeVar("_E", bound=x509.ExtensionType)
KeyType = Literal["rsa3072", "p256"]
KEY_TYPES: tuple[KeyType, ...] = get_args(KeyType)
DEFAULT_KEY_TYPE: KeyType = "rsa3072"
DEFAULT_VALID_DAYS = 3650  # a created seal and its root: ten years
ISSUED_VALID_DAYS = 825  # an issued seal (a reviewer's), capped by the root's own end
_CLOCK_SKEW = dt.timedelta(minutes=5)
_MAX_NAME = 64  # ub-common-name and ub-title of RFC 5280
_MAX_URL = 1024


@dataclass(frozen=True)
class RevocationUrls:
    """Where verifiers fetch an issued certificate's revocation status: a CRL distribution point
    and an OCSP responder (AIA). The operator publishes the CRL (`revoked.crl`) and runs the
    responder; auditor only writes the addresses into the certificates it issues."""

    crl_url: str | None = None
    ocsp_url: str | None = None

    def __post_init__(self) -> None:
        for label, url in (("--crl-url", self.crl_url), ("--ocsp-url", self.ocsp_url)):
            if url is not None:
                check_url(label, url)

    @classmethod
    def of(cls, cert: x509.Certificate) -> RevocationUrls:
        """The URLs `cert` carries (none for a certificate issued without them)."""
        crl = _extension_value(cert, x509.CRLDistributionPoints)
        aia = _extension_value(cert, x509.AuthorityInformationAccess)
        crls = [n.value for dp in crl or [] for n in dp.full_name or [] if isinstance(n, x509.UniformResourceIdentifier)]
        ocsps = [
            d.access_location.value
            for d in aia or []
            if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)
        ]
        return cls(crls[0] if crls else None, ocsps[0] if ocsps else None)

    def extensions(self, issuer: x509.Name) -> list[x509.ExtensionType]:
        """The CRL DP and AIA OCSP extensions of an issued certificate. Without a CRL URL the
        distribution point names the issuing root itself (a directoryName, RFC 5280 4.2.1.13):
        its list, `revoked.crl`, reaches verifiers beside the root. A certificate that declares
        no CRL at all is never checked against one by pyHanko."""
        crl_name = x509.UniformResourceIdentifier(self.crl_url) if self.crl_url else x509.DirectoryName(issuer)
        found: list[x509.ExtensionType] = [x509.CRLDistributionPoints([x509.DistributionPoint([crl_name], None, None, None)])]
        if self.ocsp_url:
            access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.ocsp_url))
            found.append(x509.AuthorityInformationAccess([access]))
        return found


def check_url(label: str, url: str) -> str:
    """`url`, or a `SigningError` unless it is an http(s) URL with a host, without spaces or
    control characters, of at most 1024 characters."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > _MAX_URL
        or any(ord(c) <= 32 or ord(c) == 127 for c in url)
    ):
        raise SigningError(f"{label} {url[:80]!r} is not an http(s) URL: give e.g. http://pki.example.org/seal.crl")
    return url


def _extension_value(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def create_identity(
    folder: Path,
    passphrase: str,
    *,
    root_passphrase: str,
    common_name: str,
    organisation: str,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    valid_days: int = DEFAULT_VALID_DAYS,
    throwaway: bool = False,
    urls: RevocationUrls | None = None,
) -> IdentityPaths:
    """Create a self-signed root and a signing certificate under it in `folder`.

    The seal key is encrypted with `passphrase`, the root key with `root_passphrase`, which
    must differ: the daily seal's passphrase never opens the root key. The seal certificate
    carries `urls` (CRL DP, OCSP) when given. An empty CRL (`revoked.crl`, number 1) is written
    beside the root, so that seals have a revocation source from the start.
    """
    check_new_passphrase(passphrase)
    check_new_passphrase(root_passphrase, ROOT_PASSPHRASE_ENV)
    check_passphrases_apart(passphrase, root_passphrase)
    paths = fresh_paths(folder)
    root_key, seal_key = _new_key(key_type), _new_key(key_type)
    start = dt.datetime.now(dt.UTC) - _CLOCK_SKEW
    end = start + dt.timedelta(days=valid_days)
    root_name = _name(f"{organisation} evidence seal root", organisation)
    root = _root_certificate(root_key, root_name, start, end)
    cert = _leaf_certificate(seal_key, _name(common_name, organisation), root_key, root, start, end, urls=urls)
    info = IdentityInfo(
        common_name=common_name, organisation=organisation, key_type=key_type, throwaway=throwaway
    )
    atomic_write_bytes(paths.folder / ROOT_KEY_FILE, encrypted_pem(root_key, root_passphrase), 0o600)
    if not throwaway:
        write_crl(paths.folder, root_key, root, [])
    write_identity(paths, passphrase, seal_key, cert, (), root, info)
    return paths


def issue_identity(
    ca_folder: Path,
    root_passphrase: str,
    folder: Path,
    passphrase: str,
    *,
    common_name: str,
    root_key: Path | None = None,
    role: str | None = None,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    valid_days: int = ISSUED_VALID_DAYS,
    urls: RevocationUrls | None = None,
) -> IdentityPaths:
    """Issue a new signing identity (e.g. a reviewer's) under the root created in `ca_folder`.

    The root key is read from `root_key` (its offline copy) or `ca_folder/root.key.pem` and
    opened with `root_passphrase`; the seal's passphrase is not needed. With a `role`, the
    identity is a reviewer's: the role goes into the certificate's subject as its `title` (and
    into identity.json), and the certificate carries the reviewer policy (`REVIEWER_POLICY`), the
    mark that lets it sign review slots. `urls` (CRL DP, OCSP) default to the ones the seal
    certificate of `ca_folder` carries.
    """
    common_name = check_subject_text("name", common_name)
    role = check_subject_text("role", role) if role is not None else None
    check_new_passphrase(passphrase)
    check_passphrases_apart(passphrase, root_passphrase)
    ca_paths = IdentityPaths.of(ca_folder)
    root = read_root_certificate(ca_paths)
    ca_key = read_root_key(ca_paths, root, root_key, root_passphrase)
    ca_info = read_info(ca_paths, root)
    if urls is None:
        seals = read_certificates(ca_paths.cert) if ca_paths.cert.is_file() else []
        urls = RevocationUrls.of(seals[0]) if seals else RevocationUrls()
    paths = fresh_paths(folder)
    key = _new_key(key_type)
    start = dt.datetime.now(dt.UTC) - _CLOCK_SKEW
    end = min(start + dt.timedelta(days=valid_days), root.not_valid_after_utc)
    cert = _leaf_certificate(
        key, _name(common_name, ca_info.organisation, role), ca_key, root, start, end, reviewer=role is not None, urls=urls
    )
    info = IdentityInfo(
        common_name=common_name,
        organisation=ca_info.organisation,
        key_type=key_type,
        throwaway=ca_info.throwaway,
        source="issued",
        role=role,
    )
    write_identity(paths, passphrase, key, cert, (), root, info)
    return paths


def read_root_certificate(paths: IdentityPaths) -> x509.Certificate:
    """The root certificate of the keys folder at `paths`, checked valid now."""
    roots = read_certificates(paths.root) if paths.root.is_file() else []
    if not roots:
        raise SigningError(
            f"no root certificate at {paths.root}: issue from the keys folder made by `auditor keys init`"
        )
    check_validity(roots[0], dt.datetime.now(dt.UTC))
    return roots[0]


def read_root_key(paths: IdentityPaths, root: x509.Certificate, root_key: Path | None, passphrase: str) -> PrivateKey:
    """The root key from `root_key` (its offline copy) or the keys folder, opened with
    `passphrase` and checked against `root`."""
    path = Path(root_key) if root_key else paths.folder / ROOT_KEY_FILE
    if not path.is_file():
        raise SigningError(
            f"no root key at {path}: bring the root key (root.key.pem, kept offline) and give its path"
        )
    key = protection.read_key(path, passphrase, protection.ROOT_KEY)
    check_key_matches(key, root, paths.root)
    return key


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise SigningError(f"unknown key type {key_type!r}: use {' or '.join(map(repr, KEY_TYPES))}")


def _name(common_name: str, organisation: str, title: str | None = None) -> x509.Name:
    """CN, O and, for a reviewer, the role as `title`."""
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, check_subject_text("name", common_name)),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    if title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, check_subject_text("role", title)))
    return x509.Name(attributes)


def check_subject_text(label: str, value: str) -> str:
    """`value` stripped, or a `SigningError` unless it has 1 to 64 characters (RFC 5280's bound
    for a common name and a title) and no control characters."""
    value = value.strip()
    if not 1 <= len(value) <= _MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise SigningError(
            f"the {label} {value[:80]!r} must have 1 to {_MAX_NAME} characters and no control characters: shorten it"
        )
    return value


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
    *,
    reviewer: bool = False,
    urls: RevocationUrls | None = None,
) -> x509.Certificate:
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = _builder(name, ca.subject, key, start, end)
    if reviewer:
        builder = builder.add_extension(x509.CertificatePolicies([x509.PolicyInformation(REVIEWER_POLICY, None)]), critical=False)
    for extension in (urls or RevocationUrls()).extensions(ca.subject):
        builder = builder.add_extension(extension, critical=False)
    return (
        builder
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
