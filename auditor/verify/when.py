"""When a signature counts: at the time its timestamps prove it existed (proof of existence, PoE).

A signature whose signer no longer validates now (its certificate expired or was revoked) is
judged again with pyHanko's AdES machinery (ETSI EN 319 102-1): the signature timestamp, and
for a PDF the document timestamps after it (B-LTA) with the DSS they cover, prove when the
signature existed; the signer is then validated at that time (past signature validation).
Everything is offline: trust anchors and CRLs from the trust folder, revocation data embedded
in the file (DSS, revocation-info attributes). The outcomes:

- proven before expiry or revocation: trusted, with a note saying so;
- revoked, and nothing proves the signature existed before: invalid;
- expired, and nothing proves the signature existed before: untrusted (the signature is
  intact, but when it was made cannot be established).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESSubIndic
from pyhanko.sign.validation.ades import AdESWithTimeValidationResult, ades_lta_validation, ades_with_time_validation
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import SignatureStatus
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from auditor.verify.limits import PdfLimitExceeded
from auditor.verify.status import TimeJudgement
from auditor.verify.trust import TSA_REVINFO_POLICY, VALIDATION_USAGE, TrustAnchors, subject

_EXPIRED = frozenset({AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED})
_BEFORE_REVOCATION = frozenset(
    {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.TRY_LATER, AdESFailure.REVOKED}
)  # pyHanko's verdict at the proven time when the revocation data in the file is older than the CRL
_REVOKED = frozenset(
    {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE, AdESFailure.REVOKED}
)


def validation_time(anchors: TrustAnchors) -> datetime:
    """The time `verify` validates at: `--at`, else now."""
    return anchors.moment or datetime.now(UTC)


def pdf_judgement(sig: EmbeddedPdfSignature, status: SignatureStatus, anchors: TrustAnchors) -> TimeJudgement:
    """Judge a PDF signature at the time its signature timestamp proves (B-T), else at the time
    the document timestamps after it prove (B-LTA)."""
    spec = _spec(anchors)

    def with_time(timing: ValidationTimingInfo) -> Coroutine[Any, Any, AdESWithTimeValidationResult]:
        return ades_with_time_validation(sig.signed_data, spec, timing_info=timing, raw_digest=sig.compute_digest())

    def lta(timing: ValidationTimingInfo) -> Coroutine[Any, Any, AdESWithTimeValidationResult]:
        return ades_lta_validation(sig, PdfSignatureValidationSpec(spec), timing_info=timing)

    judgement = _judge(with_time, status, anchors)
    if judgement.trusted or judgement.invalid or not sig.reader.embedded_timestamp_signatures:
        return judgement
    by_archive = _judge(lta, status, anchors)
    return by_archive if by_archive.trusted or by_archive.invalid else judgement


def cms_judgement(data: bytes, signed_data: cms.SignedData, status: SignatureStatus, anchors: TrustAnchors) -> TimeJudgement:
    """Judge a detached CMS signature over `data` at the time its signature timestamp proves."""

    def run(timing: ValidationTimingInfo) -> Coroutine[Any, Any, AdESWithTimeValidationResult]:
        algorithm = signed_data["signer_infos"][0]["digest_algorithm"]["algorithm"].native
        digest = hashlib.new(algorithm, data).digest()  # inside `_judge`: an odd algorithm is no proof
        return ades_with_time_validation(signed_data, _spec(anchors), timing_info=timing, raw_digest=digest)

    return _judge(run, status, anchors)


def _judge(
    run: Callable[[ValidationTimingInfo], Coroutine[Any, Any, AdESWithTimeValidationResult]],
    status: SignatureStatus,
    anchors: TrustAnchors,
) -> TimeJudgement:
    at = validation_time(anchors)
    timing = ValidationTimingInfo(at, at, point_in_time_validation=anchors.moment is not None)
    try:
        result = asyncio.run(run(timing))
    except (PdfLimitExceeded, PdfDecodeLimitError):
        raise  # the PDF's read budget is spent: that is the verdict (`check_pdf`)
    except Exception:  # hostile input may break the AdES machinery anywhere: no proof of time
        return TimeJudgement()
    return _meaning(result.ades_subindic, result.best_signature_time, status, at)


def _meaning(indication: AdESSubIndic, proven: datetime, status: SignatureStatus, at: datetime) -> TimeJudgement:
    cert = status.signing_cert
    expires = cert["tbs_certificate"]["validity"]["not_after"].native
    revoked = status.revocation_details.revocation_date if status.revocation_details else None
    has_proof = proven < at
    if indication in _BEFORE_REVOCATION and has_proof and revoked is not None and proven < revoked and proven < expires:
        # the signer failed now only for its revocation (a CRL of its root says when); the
        # timestamp, validated now, proves the signature existed before then
        return TimeJudgement(trusted=True, note=_proof_note(expires, revoked, proven, at), proven_at=proven)
    if indication in _REVOKED or (revoked is not None and (revoked <= proven or not has_proof)):
        when = f" on {revoked:%Y-%m-%d %H:%M} UTC" if revoked else ""
        return TimeJudgement(
            invalid=(
                f"the signer's certificate ({subject(cert)}) was revoked{when}, and no timestamp proves the "
                "signature existed before: a report signed after its signer's revocation does not count"
            )
        )
    if indication is AdESPassed.OK and has_proof:
        return TimeJudgement(trusted=True, note=_proof_note(expires, revoked, proven, at), proven_at=proven)
    if indication in _EXPIRED or expires < at:
        return TimeJudgement(
            untrusted=(
                f"signature intact; certificate {subject(cert)} expired on {expires:%Y-%m-%d}; no proof of time "
                "(no trusted timestamp shows the signature existed before then), so its validity cannot be established"
            )
        )
    return TimeJudgement()


def _proof_note(expires: datetime, revoked: datetime | None, proven: datetime, at: datetime) -> str:
    proof = f"a trusted timestamp proves the signature existed on {proven:%Y-%m-%d %H:%M} UTC"
    if revoked is not None:
        return f"certificate revoked on {revoked:%Y-%m-%d %H:%M} UTC; {proof}, before the revocation"
    if expires < at:
        return f"certificate expired on {expires:%Y-%m-%d}; {proof}, while it was valid"
    return f"{proof}; the signer was validated at that time"


def _spec(anchors: TrustAnchors) -> SignatureValidationSpec:
    """AdES validation settings: the anchors, revocation checked where data exists, nothing
    fetched; a signer's revocation data must be fresh for the time it is used at (the time
    slide of past validation needs that), a TSA's may be old (`TSA_REVINFO_POLICY`)."""
    roots = [asn1_x509.Certificate.load(der) for der in anchors.ders()]
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[CertTrustAnchor(root) for root in roots]),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("soft-fail")),
    )
    tsa_policy = dataclasses.replace(policy, revinfo_policy=TSA_REVINFO_POLICY)
    knowledge = LocalKnowledge(
        known_crls=[CRLContainer(crl.CertificateList.load(der)) for der in anchors.crls],
        known_ocsps=[OCSPContainer(ocsp.OCSPResponse.load(der)) for der in anchors.ocsps],
    )
    return SignatureValidationSpec(
        cert_validation_policy=policy,
        ts_cert_validation_policy=tsa_policy,
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
        local_knowledge=knowledge,
        key_usage_settings=VALIDATION_USAGE,
    )
