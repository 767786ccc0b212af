"""Render a sealed report again, e.g. with new templates or under a new seal (`auditor render`).

A record is hostile input until its origin is proven: the source record's own signature (its
`evidence.json.p7s`, or the sealed PDF it is embedded in) must verify under the trusted root,
or the caller must allow an unverified source explicitly, and the new report then says on its
first page that its origin is not proven. The new report is a report of its own: a new report
id and creation (render) time, `rendered_from` naming the source report, seal facts taken from
the identity that signs it, and a copy of the checked artifacts, so that its folder verifies on
its own. Submissions of the person concerned logged in the source folder (`auditor submission`)
that verify under the same trust are added to the new record's redress section.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import ReportError
from auditor.evidence import (
    SCHEMA_VERSION,
    CheckedArtifacts,
    EvidenceRecord,
    RenderedFrom,
    ReportIdentity,
    Review,
    SealInfo,
    Submission,
    load_record,
    new_report_id,
    read_artifacts,
    read_record_bytes,
    refresh_completeness,
    write_record,
)
from auditor.files import atomic_directory, atomic_write_bytes, check_new_folder, sha256_bytes
from auditor.i18n import available, check_language
from auditor.keys import SigningIdentity
from auditor.names import PDF_NAME, RECORD_NAME
from auditor.report.document import ReportResult, write_report
from auditor.review.model import ReviewRecord
from auditor.review.state import review_state
from auditor.review.submissions import report_submission
from auditor.signing.seal import seal_fields, sign_report_folder
from auditor.verify import load_trust, verify_paths
from auditor.verify.batch_index import review_records, sealed_time
from auditor.verify.submissions import trusted_submissions
from auditor.version import VERSION

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderSource:
    """A record to render again, with its checked artifacts and what is known of its origin."""

    record: EvidenceRecord
    record_sha256: str
    artifacts: CheckedArtifacts
    sealed_by: str | None  # the verified signer; None when the origin is not proven
    submissions: tuple[Submission, ...] = field(default=())  # logged in the source folder since
    reviews: tuple[ReviewRecord, ...] = field(default=())  # signed into the source's PDF since, verified
    sealed_at: datetime | None = None  # when the source PDF's seal was signed (its review deadline counts from it)


def read_source(path: Path, trust: Path | None, *, allow_unverified: bool = False) -> RenderSource:
    """The record at `path` (a report folder, its evidence.json, or its report.pdf), verified.

    Raise `ReportError` unless the record's signature verifies under `trust` (see
    `auditor.verify.load_trust`), or `allow_unverified` is set.
    """
    record_path, signed_file = _locate(Path(path))
    sealed_by = None
    verdict = verify_paths([signed_file], trust)[0]
    if verdict.status == "valid":
        sealed_by = verdict.signer
    elif not allow_unverified:
        reason = verdict.reasons[0] if verdict.reasons else verdict.status
        raise ReportError(
            f"{signed_file} does not verify ({verdict.status}: {reason}); only sealed records are rendered "
            "again: give the trusted root with --trust, or pass --unverified-source to render it marked as unproven"
        )
    data = read_record_bytes(record_path)
    record = load_record(data, name=str(record_path))
    in_folder = record_path.name == RECORD_NAME
    submissions = _submissions(record_path, trust) if in_folder else ()
    proven = in_folder and sealed_by is not None  # reviews count only on a report whose origin is proven
    reviews, sealed_at = _reviews(record_path.parent / PDF_NAME, trust, record, sha256_bytes(data)) if proven else ((), None)
    return RenderSource(
        record, sha256_bytes(data), read_artifacts(record, record_path.parent), sealed_by, submissions, reviews, sealed_at
    )


def _reviews(
    pdf: Path, trust: Path | None, record: EvidenceRecord, record_sha256: str
) -> tuple[tuple[ReviewRecord, ...], datetime | None]:
    """The reviews signed into the source's PDF and when its seal was signed, when the PDF verifies
    under `trust` (else none, with a warning)."""
    if not pdf.is_file():
        return (), None
    verdict = verify_paths([pdf], trust)[0]
    if verdict.status != "valid":
        logger.warning("reviews left out: %s does not verify (%s)", pdf, verdict.reasons[0] if verdict.reasons else verdict.status)
        return (), None
    return tuple(review_records(record, record_sha256, verdict)), sealed_time(verdict)


def _submissions(record_path: Path, trust: Path | None) -> tuple[Submission, ...]:
    """The submissions logged beside `record_path` that verify under `trust`; those that do not
    are left out, each with a warning naming why."""
    entries, refused = trusted_submissions(record_path.parent, load_trust(trust))
    for verdict in refused:
        reason = verdict.reasons[0] if verdict.reasons else verdict.status
        logger.warning("left out of the redress section: %s (%s: %s)", verdict.path, verdict.status, reason)
    return tuple(report_submission(entry) for entry in entries)


def rerender(
    source: RenderSource,
    out: Path,
    *,
    identity: SigningIdentity | None,
    templates_dir: Path | None = None,
    tsa_url: str | None = None,
    now: datetime | None = None,
    language: str | None = None,
) -> ReportResult:
    """Write a new report folder `out` from `source`, in `language` (default: the source's);
    sealed by `identity`, a draft without one."""
    out = check_new_folder(Path(out))
    record = rendered_record(source, identity, now or datetime.now(UTC), language)
    with atomic_directory(out) as staging:
        for relative, data in source.artifacts.files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(staging / relative, data)
        write_record(staging, record)
        write_report(record, staging, templates_dir=templates_dir, draft=identity is None)
        if identity is not None:
            sign_report_folder(staging, identity, tsa_url=tsa_url)
    return ReportResult(out, record, signed=identity is not None)


def rendered_record(
    source: RenderSource, identity: SigningIdentity | None, now: datetime, language: str | None = None
) -> EvidenceRecord:
    """The new report's record: the source's facts, a new identity, seal facts of `identity`, and
    `language` (checked) as the deployment's report_language when given."""
    original = source.record
    deployment = original.deployment
    if language is None and deployment.report_language not in available():
        raise ReportError(
            f"the source record asks for reports in {deployment.report_language!r}, which has no catalog here; "
            f"give --language (one of {', '.join(available())})"
        )
    if language is not None:
        deployment = deployment.model_copy(update={"report_language": check_language(language)})
    update = {
        "deployment": deployment,
        "schema_version": SCHEMA_VERSION,
        "report": ReportIdentity(report_id=new_report_id(now), generator_version=VERSION, created_at=now),
        "rendered_from": RenderedFrom(
            report_id=original.report.report_id,
            created_at=original.report.created_at,
            generator_version=original.report.generator_version,
            record_sha256=source.record_sha256,
            origin_verified=source.sealed_by is not None,
            sealed_by=source.sealed_by,
        ),
        "seal": SealInfo(**seal_fields(identity)),
        "system_log": None,
        "review": _reviewed(original.review, source, now).model_copy(
            update={"submissions": [*original.review.submissions, *source.submissions]}
        ),
    }
    return refresh_completeness(EvidenceRecord.model_validate({**original.model_dump(), **update}))


def _reviewed(review: Review, source: RenderSource, now: datetime) -> Review:
    """The source record's review section with the source PDF's signed reviews: the last one as
    the decision, the one before as the second verifier, and the review status."""
    if not source.reviews:
        return review
    last, before = source.reviews[-1], source.reviews[:-1]
    state = review_state(source.record, list(source.reviews), now, source.sealed_at)
    return review.model_copy(update={
        "reviewer": last.review.reviewer, "role": last.review.role, "authority": last.review.authority or None,
        "reviewed_at": last.signed_at, "decision": last.review.decision, "reasons": last.review.reasons,
        "data_considered": last.review.data_considered or None, "minutes_spent": last.review.minutes,
        "automation_bias_acknowledged": last.review.automation_bias_acknowledged,
        "second_verifier": _summary(before[-1]) if before else None, "status": state.describe(),
    })


def _summary(entry: ReviewRecord) -> str:
    r = entry.review
    return f"{r.reviewer} ({r.role}), {entry.signed_at:%Y-%m-%d %H:%M} UTC: {r.decision}, because {r.reasons}"


def _locate(path: Path) -> tuple[Path, Path]:
    """The record file and the file whose signature proves it."""
    if path.is_dir():
        return path / RECORD_NAME, path / RECORD_NAME
    if path.suffix.lower() == ".pdf":
        return path.parent / RECORD_NAME, path  # verify checks that the two records are equal
    return path, path
