"""Verify a file against the detached CMS signature in `FILE.p7s`."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from asn1crypto import cms
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.status import StandardCMSSignatureStatus
from pyhanko_certvalidator import ValidationContext

from auditor.names import SIGNATURE_SUFFIX
from auditor.verify.cms_strict import container_problem
from auditor.verify.limits import MAX_FILE_BYTES, MAX_P7S_BYTES, read_capped
from auditor.verify.status import FileVerdict, Findings, SignatureSummary
from auditor.verify.trust import (
    VALIDATION_USAGE,
    TrustAnchors,
    certificate_sha256,
    judge_signature,
    judge_timestamp,
    subject,
    validated,
)
from auditor.verify.when import cms_judgement


def verify_detached(path: Path, anchors: TrustAnchors) -> FileVerdict:
    """Check `path` against the detached CMS signature in `path.p7s`.

    The cheap checks come first: both sizes, then the container's structure and certificate
    count, and only then the signature and the signer's path.
    """
    return check_detached(path, anchors)[0]


def check_detached(
    path: Path, anchors: TrustAnchors, max_bytes: int = MAX_FILE_BYTES
) -> tuple[FileVerdict, bytes | None]:
    """`verify_detached`'s verdict, and the bytes it checked (None when unread)."""
    findings = Findings()
    summaries: list[SignatureSummary] = []
    signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
    data = read_capped(path, max_bytes, findings)
    signature = read_capped(signature_path, MAX_P7S_BYTES, findings)
    if data is not None and signature is not None:
        try:
            summaries = check_signature_bytes(data, signature, signature_path.name, anchors, findings)
        except Exception as exc:  # hostile input may break the parser anywhere
            findings.invalid.append(f"cannot read {signature_path.name} ({type(exc).__name__}: {exc}); it is damaged")
    return findings.verdict(path, "detached", summaries, anchors.description), data


def check_signature_bytes(
    data: bytes, signature: bytes, name: str, anchors: TrustAnchors, findings: Findings
) -> list[SignatureSummary]:
    """Check a detached CMS `signature` (DER) over `data`; `name` names it in the findings.

    The container's structure first, then the signature, the signer and its time (as
    `check_detached` does for a file and its `.p7s`)."""
    problem = container_problem(signature, anchors)  # before any signature is verified
    if problem:
        findings.invalid.append(f"{name}: the signature container {problem}")
        return []
    signed_data = cms.ContentInfo.load(signature, strict=True)["content"]

    def validate(context: ValidationContext) -> StandardCMSSignatureStatus:
        validation = async_validate_detached_cms(
            data, signed_data, signer_validation_context=context, key_usage_settings=VALIDATION_USAGE
        )
        return asyncio.run(validation)

    status, path_error = validated(validate, anchors)
    summary = _summary(status)
    judge_signature(summary, status, findings, anchors, name, path_error, partial(cms_judgement, data, signed_data, status, anchors))
    judge_timestamp(summary, status, findings, name)
    return [summary]


def _summary(status: StandardCMSSignatureStatus) -> SignatureSummary:
    return SignatureSummary(
        signer=subject(status.signing_cert),
        certificate_sha256=certificate_sha256(status.signing_cert),
        signed_at=status.signer_reported_dt,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=bool(status.intact),
    )
