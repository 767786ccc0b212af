"""Whom `verify` trusts, and which signers and timestamps count.

A signer counts only with keyUsage digitalSignature or nonRepudiation, a document-signing
extended key usage where the certificate has an EKU at all, and when it is neither a CA nor a
trust anchor itself. A timestamp counts only when its token is intact and its authority chains
to the trusted roots; otherwise the signature is reported without proof of time (B-B, not B-T).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import pdf as asn1_pdf  # renames Adobe's key purpose as pyHanko sees it: import it first
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import InvalidCertificateError
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, FreshnessReqType, RevocationCheckingPolicy

from auditor.errors import SigningError
from auditor.keys import ROOT_FILE, SIGNING_EKUS, default_keys_dir, read_certificates, revocation_of
from auditor.keys.certificates import subject_text
from auditor.verify.status import Findings, SignatureSummary, TimeJudgement

S = TypeVar("S", bound=SignatureStatus)

SIGNING_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})
SIGNER_USAGE = KeyUsageConstraints(
    key_usage=SIGNING_KEY_USAGE,
    # id-kp-documentSigning (RFC 9336), Microsoft and Adobe document signing, emailProtection, any
    extd_key_usage={asn1_pdf.KeyPurposeId.map(oid.dotted_string) for oid in SIGNING_EKUS},
    explicit_extd_key_usage_required=False,  # no EKU at all: any purpose (certificates before RFC 9336)
)
# What pyHanko's validation gets: its status classes rebuild the constraints from key_usage and
# extd_key_usage alone, dropping explicit_extd_key_usage_required, so with an EKU list they would
# refuse every certificate without an EKU. The EKU is checked by `signer_problem` instead.
VALIDATION_USAGE = KeyUsageConstraints(key_usage=SIGNING_KEY_USAGE)
TSA_REVINFO_POLICY = CertRevTrustPolicy(
    RevocationCheckingPolicy.from_legacy("soft-fail"),
    freshness=timedelta(days=100 * 366),
    freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
)
"""A timestamp authority's revocation data counts however old: offline, years later, nothing
fresher can be had for the newest timestamp of an archive. A CRL that lists the TSA still counts."""
CRL_FILE = "revoked.crl"  # the root's CRL (`auditor keys revoke`), read beside the root certificate
MAX_CRL_BYTES = 4_000_000
MAX_REVINFO = 64  # CRLs and OCSP responses taken from one file's DSS


@dataclass(frozen=True)
class TrustAnchors:
    """The root certificates trusted in one verification run, and where they came from."""

    certs: tuple[x509.Certificate, ...]
    description: str
    crls: tuple[bytes, ...] = ()  # DER; from the trust folder, and from the file being checked
    ocsps: tuple[bytes, ...] = ()  # DER OCSP responses from the file being checked
    moment: datetime | None = None  # `verify --at`: validate as of then, not now

    def context(self) -> ValidationContext:
        """A pyHanko validation context that trusts exactly these roots, offline, with the
        revocation data at hand (checked where it exists)."""
        roots = [asn1_x509.Certificate.load(der) for der in self.ders()]
        return ValidationContext(
            trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail", moment=self.moment,
            crls=list(self.crls), ocsps=list(self.ocsps),
        )

    def timestamp_context(self) -> ValidationContext:
        """`context`, for timestamp authorities: their revocation data may be old (`TSA_REVINFO_POLICY`)."""
        roots = [asn1_x509.Certificate.load(der) for der in self.ders()]
        return ValidationContext(
            trust_roots=roots, allow_fetching=False, revinfo_policy=TSA_REVINFO_POLICY, moment=self.moment,
            crls=list(self.crls), ocsps=list(self.ocsps),
        )

    def ders(self) -> list[bytes]:
        """The anchors' certificates, DER."""
        return [c.public_bytes(serialization.Encoding.DER) for c in self.certs]

    def with_revinfo(self, crls: Sequence[bytes], ocsps: Sequence[bytes]) -> TrustAnchors:
        """These anchors, with revocation data a file carries added (at most MAX_REVINFO of each)."""
        return dataclasses.replace(
            self, crls=self.crls + tuple(crls[:MAX_REVINFO]), ocsps=self.ocsps + tuple(ocsps[:MAX_REVINFO])
        )

    def holds_key_of(self, cert: x509.Certificate) -> bool:
        """Whether `cert` is an anchor, or carries an anchor's public key."""
        key = _public_der(cert)
        return any(_public_der(anchor) == key for anchor in self.certs)


def load_trust(trust: Path | None, at: datetime | None = None) -> TrustAnchors:
    """The roots in `trust` (a PEM/DER file or a keys folder), else the `auditor keys` root, and
    the root's CRL beside them; signatures are validated as of `at` (default: now)."""
    source = Path(trust) if trust is not None else default_keys_dir() / ROOT_FILE
    if source.is_dir():
        source = source / ROOT_FILE
    if not source.is_file():
        if trust is not None:
            raise SigningError(f"trust certificate {source} does not exist; give a root certificate (PEM) with --trust")
        return TrustAnchors((), f"none (no {source}; run `auditor keys init` or pass --trust ROOT.pem)", moment=at)
    certs = _certificates(source)
    names = "; ".join(f"{c.subject.rfc4514_string()} (SHA-256 {c.fingerprint(hashes.SHA256()).hex()[:16]}…)" for c in certs)
    crls = _crls_beside(source)
    listed = f" (with the CRL {source.parent / CRL_FILE})" if crls else ""
    as_of = f"; validated as of {at:%Y-%m-%d %H:%M:%S} UTC" if at else ""
    return TrustAnchors(certs, f"{names} from {source}{listed}{as_of}", crls, moment=at)


def _crls_beside(source: Path) -> tuple[bytes, ...]:
    """The root's CRL (DER or PEM) beside the trusted root file, if there is one."""
    path = source.parent / CRL_FILE
    if not path.is_file():
        return ()
    if path.stat().st_size > MAX_CRL_BYTES:
        raise SigningError(f"{path} is larger than {MAX_CRL_BYTES} bytes: not a CRL of this root; remove or replace it")
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----"):
        try:
            data = pem.unarmor(data)[2]
        except ValueError as exc:
            raise SigningError(f"{path} is not a CRL (PEM without a readable body): replace it") from exc
    try:
        readable = bool(asn1_crl.CertificateList.load(data, strict=True).native)  # parsed fully once, here
    except Exception:
        readable = False
    if not readable:
        raise SigningError(f"{path} is not a readable CRL: replace it with the root's CRL (`auditor keys revoke` writes it)")
    return (data,)


def _certificates(source: Path) -> tuple[x509.Certificate, ...]:
    """The certificates in `source`; a file that holds none is named as such, whatever it holds."""
    try:
        certs = tuple(read_certificates(source))
    except SigningError as exc:
        if not isinstance(exc.__cause__, ValueError):  # unreadable: the error says why
            raise
        certs = ()
    if not certs:
        raise SigningError(
            f"{source} holds no certificate (it is not a PEM or DER X.509 certificate file); give the root "
            f"certificate to trust with --trust (root.cert.pem of `auditor keys init`) or its keys folder"
        )
    return certs


def validated(validate: Callable[[ValidationContext], S], anchors: TrustAnchors) -> tuple[S, str | None]:
    """Run `validate` against the anchors; if path building itself crashes (pyHanko asserts on a
    root whose name matches but whose key type differs), check integrity with no roots instead."""
    try:
        return validate(anchors.context()), None
    except Exception as exc:  # any failure to build the path means "not trusted"
        return validate(TrustAnchors((), "none").context()), f"{type(exc).__name__}: {exc}".rstrip(": ")


def signer_problem(cert: asn1_x509.Certificate, anchors: TrustAnchors) -> str | None:
    """Why this certificate may not sign a report, or None."""
    name = subject(cert)
    if anchors.holds_key_of(x509.load_der_x509_certificate(cert.dump())):
        return f"the trust root's own key signed (as {name}); only a seal certificate issued under it may sign"
    if cert.ca:
        return f"signer {name} is a certificate authority (CA:TRUE); a CA certificate must not sign reports"
    try:
        SIGNER_USAGE.validate(cert)
    except InvalidCertificateError as exc:
        return f"signer {name} is not a document-signing certificate: {exc}"
    return None


def judge_signature(
    summary: SignatureSummary,
    status: SignatureStatus,
    findings: Findings,
    anchors: TrustAnchors,
    name: str,
    path_error: str | None = None,
    prove: Callable[[], TimeJudgement] | None = None,
) -> None:
    """Record what one signature's status means: altered, a signer that must not count, untrusted.

    A signer that does not validate now is judged again by `prove` (`auditor.verify.when`): at
    the time a timestamp proves the signature existed."""
    if not summary.intact:
        findings.invalid.append(f"{name}: the signed bytes were altered (digest or signature mismatch)")
        return
    problem = signer_problem(status.signing_cert, anchors) or listed_revocation_problem(status, anchors, findings, name)
    if problem:
        summary.trusted = False
        findings.invalid.append(f"{name}: {problem}")
    elif not summary.trusted and not (prove is not None and path_error is None and _proven(prove(), summary, findings, name)):
        indic = getattr(status, "trust_problem_indic", None)
        detail = f" ({indic.name})" if indic is not None and path_error is None else ""
        detail = f" (path validation failed: {path_error})" if path_error else detail
        findings.untrusted.append(
            f"{name}: signer {summary.signer} does not chain to the trusted root{detail}; trusted: {anchors.description}"
        )


def listed_revocation_problem(status: SignatureStatus, anchors: TrustAnchors, findings: Findings, name: str) -> str | None:
    """Why a signer whose certificate names no CRL distribution point counts as revoked, or None.

    pyHanko looks a certificate up only in the lists its distribution points name; certificates
    auditor issued before it wrote one have none, so a trusted root's list (`revoked.crl`) is
    searched for them here. A trusted timestamp from before the revocation keeps the signature."""
    cert = status.signing_cert
    if cert.crl_distribution_points:
        return None
    entry = _listed(x509.load_der_x509_certificate(cert.dump()), anchors)
    if entry is None or (anchors.moment is not None and anchors.moment < entry.revocation_date_utc):
        return None
    revoked = f"certificate of {subject(cert)} revoked on {entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC (the trusted root's revocation list)"
    token = getattr(status, "timestamp_validity", None)
    if token is not None and token.intact and token.valid and token.trusted and token.timestamp < entry.revocation_date_utc:
        findings.notes.append(f"{name}: {revoked}; a trusted timestamp proves the signature existed on {token.timestamp:%Y-%m-%d %H:%M} UTC, before")
        return None
    return f"{revoked}; no trusted timestamp proves the signature existed before"


def _listed(cert: x509.Certificate, anchors: TrustAnchors) -> x509.RevokedCertificate | None:
    """The entry for `cert` in a CRL at hand that a trusted root issued and signed."""
    for der in anchors.crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            continue
        if any(_signed_by(crl, root) for root in anchors.certs if root.subject == crl.issuer):
            entry = revocation_of(crl, cert)
            if entry is not None:
                return entry
    return None


def _signed_by(crl: x509.CertificateRevocationList, root: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a key of another type than the list's signature
        return False


def _proven(judgement: TimeJudgement, summary: SignatureSummary, findings: Findings, name: str) -> bool:
    """Whether the time judgement settled the signature (trusted, invalid or untrusted); notes it."""
    if judgement.trusted:
        summary.trusted = summary.timestamped = True
        summary.proven_at = judgement.proven_at
        findings.notes.append(f"{name}: {judgement.note}")
    elif judgement.invalid:
        findings.invalid.append(f"{name}: {judgement.invalid}")
    elif judgement.untrusted:
        summary.time_unproven = True
        findings.untrusted.append(f"{name}: {judgement.untrusted}")
    return bool(judgement.trusted or judgement.invalid or judgement.untrusted)


def judge_timestamp(summary: SignatureSummary, status: SignatureStatus, findings: Findings, name: str) -> None:
    """Mark the signature timestamped, with the time its timestamp proves, when the timestamp counts
    (unless proof of time already did, `judge_signature`)."""
    if summary.timestamped or not summary.intact or not timestamp_counts(status, findings, name):
        return
    summary.timestamped = True
    token = getattr(status, "timestamp_validity", None)
    summary.proven_at = token.timestamp if token is not None else None


def timestamp_counts(status: SignatureStatus, findings: Findings, name: str) -> bool:
    """Whether the signature's timestamp counts (intact and trusted); a damaged one is invalid,
    an untrusted one a note."""
    token = getattr(status, "timestamp_validity", None)
    if token is None:
        return False
    if not (token.intact and token.valid):
        findings.invalid.append(f"{name}: the timestamp token is altered or does not match the signature")
        return False
    if not token.trusted:
        findings.notes.append(
            f"{name}: the timestamp by {subject(token.signing_cert)} is not trusted (its authority "
            "does not chain to the trusted roots): the signature counts as B-B, without proof of time, not B-T"
        )
        return False
    return True


def certificate_sha256(cert: asn1_x509.Certificate) -> str:
    """Hex SHA-256 of a certificate's DER, as the record's `seal.certificate_sha256` states it."""
    return cert.sha256.hex()


def subject(cert: asn1_x509.Certificate) -> str:
    """The RFC 4514 subject of a certificate, as `SigningIdentity.subject` writes it."""
    return subject_text(x509.load_der_x509_certificate(cert.dump()).subject)


def _public_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
