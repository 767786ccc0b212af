"""Reading and checking X.509 certificates: who signed what, when it is valid, what it may do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from auditor.errors import SigningError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_Extension = TypeVar("_Extension", bound=x509.ExtensionType)

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
REVIEWER_POLICY = x509.ObjectIdentifier("2.25.94300289852723986668716678575710069504")
"""Certificate policy of a reviewer certificate (`auditor keys add-reviewer`): only such a
certificate may sign a review slot. A UUID-based OID (ITU-T X.667), needing no registration."""


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


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` names and signs `cert` directly."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_reviewer_certificate(cert: x509.Certificate) -> bool:
    """Whether the root issued `cert` to a reviewer (its certificate policies name REVIEWER_POLICY)."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return False
    return any(policy.policy_identifier == REVIEWER_POLICY for policy in policies)


def check_key_matches(key: PrivateKey, cert: x509.Certificate, where: Path) -> None:
    """Raise `SigningError` if `cert` does not certify `key`'s public key."""
    if public_der(key.public_key()) != public_der(cert.public_key()):
        raise SigningError(
            f"the certificate {where} does not belong to the private key next to it: "
            "import the matching key and certificate again with `auditor keys import`"
        )


def check_signing_certificate(cert: x509.Certificate) -> None:
    """Raise `SigningError` unless `cert` may seal documents (what `auditor verify` requires).

    It must not be a CA, must allow digitalSignature or nonRepudiation, and, when it has an
    extended key usage, list one of `SIGNING_EKUS`.
    """
    subject = cert.subject.rfc4514_string()
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
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
        listed = ", ".join(p.dotted_string for p in purposes)
        raise SigningError(
            f"the certificate {subject} is not for signing documents (extended key usage: {listed}): "
            "ask the CA for one with id-kp-documentSigning (1.3.6.1.5.5.7.3.36) or emailProtection"
        )


def check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    """Raise `SigningError` unless `cert` is valid at `now`."""
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


def check_validity_all(certs: Sequence[x509.Certificate], now: dt.datetime) -> None:
    """Raise `SigningError` at the first of `certs` not valid at `now`."""
    for cert in certs:
        check_validity(cert, now)


def subject_attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    """The first value of `oid` in the subject of `cert`, if any."""
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def key_type_name(key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """The key type as identity.json states it: `rsa<bits>`, `p256` or the curve's name."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa{key.key_size}"
    return {"secp256r1": "p256"}.get(key.curve.name, key.curve.name)


def public_der(public_key: object) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key, for comparing keys."""
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _extension(cert: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def subject_text(name: x509.Name) -> str:
    """A subject as RFC 4514 text, the reviewer's role named `title` (not its bare OID 2.5.4.12)."""
    return name.rfc4514_string({NameOID.TITLE: "title"})
