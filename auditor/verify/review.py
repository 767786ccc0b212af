"""Reviews after the seal: what each signed review slot says, and whether its revisions may stand.

A report PDF may grow after the seal only by reviews. Every later signature must:
- sit in a review slot's signature field (`review{N}.signature`) and lock nothing (no
  `/Reference` FieldMDP or DocMDP entry that would make later honest reviews invalid);
- be made with a reviewer certificate (`keys.REVIEWER_POLICY`: never the seal, never the root)
  issued by the same CA that issued this report's seal, not merely by some trusted root;
- name, in the slot's reviewer and role fields, the certificate's subject name and title;
- claim a signing time after the seal's and the earlier reviews', and not after now;
- cover a revision that changes only its own slot's fields, as filling does
  (`auditor.verify.revision`), each field drawing exactly its value (`auditor.verify.appearance`);
- on a report sealed with page-1 lines, write its own line (`review{N}.outcome`) as
  `outcome_text` of what the slot says, in the report's language (the sealed `/Lang`) or in
  English (every line was, before issue 25), at a time within `FILL_WINDOW` before its signature: a
  review may not leave page 1 saying "awaiting human review", nor say there another decision.
`check_pdf` has already required that pyHanko's diff analysis rates everything after the seal at
most FORM_FILLING and that the last revision is signed. The certifying seal itself must not be a
reviewer certificate.

`review-N.json` beside a report (`check_review_file`) must be signed by the same certificate as
slot N's PDF signature and repeat exactly what the PDF's fields say.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from auditor import i18n
from auditor.errors import ReportError
from auditor.keys import is_reviewer_certificate, signed_by
from auditor.keys.certificates import subject_attribute
from auditor.names import RECORD_NAME, REVIEW_FILE
from auditor.review.form import CHECKBOX, FormFont, form_font_in
from auditor.review.model import (
    FIELDS,
    OUTCOME,
    SLOTS,
    ReviewInput,
    ReviewRecord,
    field_name,
    outcome_text,
    outcome_time,
)
from auditor.review.text import report_language
from auditor.verify.appearance import appearance_problem
from auditor.verify.detached import check_detached
from auditor.verify.limits import MAX_FILE_BYTES
from auditor.verify.revision import changed_fields, fields_at, foreign_changes
from auditor.verify.status import FileVerdict, Findings, PdfReview, SignatureSummary
from auditor.verify.trust import TrustAnchors

__all__ = ["PdfReview", "check_review_file", "pdf_reviews"]

CLOCK_SKEW = timedelta(minutes=5)  # signing times this far after now or before the seal still count
FILL_WINDOW = timedelta(hours=1)  # a page-1 line may give a time this far before its signature (filled, then signed)
_SLOT_SIGNATURE = re.compile(r"review([1-9][0-9]?)\.signature")


@dataclass(frozen=True)
class _Sealed:
    """What the sealed revision fixes for every review after it."""

    revision: int
    signed_at: datetime | None
    trusted: bool
    issuer: x509.Certificate | None  # the CA certificate that issued the seal, when known
    form_font: tuple[generic.PdfObject, FormFont] | None
    language: str  # of the page-1 lines: the sealed catalog's /Lang (`auditor.review.text.report_language`)


def pdf_reviews(
    reader: PdfFileReader,
    data: bytes,
    anchors: TrustAnchors,
    findings: Findings,
    summaries: list[SignatureSummary],
    now: datetime | None = None,
) -> list[PdfReview]:
    """Each signed review slot after the seal; what is wrong with them goes into `findings`."""
    signatures = reader.embedded_regular_signatures
    if not signatures or len(summaries) != len(signatures):
        return []
    seal_cert = _cert(signatures[0].signer_cert)
    if summaries[0].intact and is_reviewer_certificate(seal_cert):
        findings.invalid.append(
            f"the seal signature was made with a reviewer certificate ({summaries[0].signer}); only the "
            "organisation's seal may seal a report"
        )
    if len(signatures) < 2:
        return []
    sealed = _sealed(reader, signatures[0], summaries[0], anchors)
    reviews: list[PdfReview] = []
    previous, previous_time = sealed.revision, sealed.signed_at
    with_form = field_name(1, "signature") in fields_at(reader, sealed.revision)
    for sig, summary in zip(signatures[1:], summaries[1:], strict=True):
        slot = _slot(sig)
        if slot is None:
            findings.invalid += _approval_problems(reader, sig, summary, previous, sealed, with_form)
            previous = sig.signed_revision
            continue
        problems = _signature_problems(sig, summary, sealed, previous_time, now or anchors.moment or datetime.now(UTC))
        problems += [
            f"its signed revision also changes {', '.join(foreign[:5])}, outside its own slot's fields"
            for foreign in [foreign_changes(reader, previous, sig.signed_revision, f"review{slot}.")] if foreign
        ]
        review, review_problems = _review(reader, sig, slot, sealed, seal_cert, summary)
        findings.invalid += [f"review slot {slot}: {problem}" for problem in problems + review_problems]
        reviews.append(_pdf_review(data, sig, summary, slot, review))
        previous, previous_time = sig.signed_revision, summary.proven_at or summary.signed_at or previous_time
    return reviews


def _approval_problems(
    reader: PdfFileReader, sig: EmbeddedPdfSignature, summary: SignatureSummary, previous: int, sealed: _Sealed,
    with_form: bool,
) -> list[str]:
    """A signature outside the review slots: refused on a report with a review form; on an older
    report without one, a trusted approval signature that changes no field but its own."""
    if with_form:
        return [
            f"signature {sig.field_name} after the seal is not in a review slot's signature field "
            f"(review1.signature … review{SLOTS}.signature): only reviews may follow the seal"
        ]
    foreign = [name for name in changed_fields(reader, previous, sig.signed_revision) if name != sig.field_name]
    problems = [f"signature {sig.field_name}: its signed revision also changes {', '.join(foreign[:5])}"] if foreign else []
    if sealed.trusted and summary.intact and not summary.trusted:
        problems.append(f"signature {sig.field_name}: {summary.signer} does not chain to the trusted root that issued the seal")
    return problems


def _slot(sig: EmbeddedPdfSignature) -> int | None:
    match = _SLOT_SIGNATURE.fullmatch(sig.field_name or "")
    return int(match.group(1)) if match and int(match.group(1)) <= SLOTS else None


def _sealed(reader: PdfFileReader, seal: EmbeddedPdfSignature, summary: SignatureSummary, anchors: TrustAnchors) -> _Sealed:
    seal_cert = _cert(seal.signer_cert)
    candidates = [*anchors.certs, *(_cert(c) for c in seal.other_embedded_certs)]
    issuer = next((c for c in candidates if signed_by(seal_cert, c)), None)
    try:
        form_font: tuple[generic.PdfObject, FormFont] | None = form_font_in(reader.get_historical_root(seal.signed_revision))
    except ReportError:
        form_font = None
    language = report_language(reader.get_historical_root(seal.signed_revision))
    return _Sealed(seal.signed_revision, summary.proven_at or summary.signed_at, summary.trusted, issuer, form_font, language)


def _signature_problems(
    sig: EmbeddedPdfSignature, summary: SignatureSummary, sealed: _Sealed, previous_time: datetime | None, now: datetime
) -> list[str]:
    """Who signed the slot, when, and whether the signature locks anything."""
    if not summary.intact:
        return []  # `check_pdf` has said the signature is altered
    cert = _cert(sig.signer_cert)
    problems = []
    if not is_reviewer_certificate(cert):
        problems.append(
            f"{summary.signer} is not a reviewer certificate (issued by `auditor keys add-reviewer`); "
            "the seal, the root or any other signer may not sign a review"
        )
    if sealed.issuer is not None and not signed_by(cert, sealed.issuer):
        problems.append(
            f"{summary.signer} was not issued by the CA that issued this report's seal "
            f"({sealed.issuer.subject.rfc4514_string()}); a review must come from the same organisation"
        )
    if sealed.trusted and not summary.trusted and not summary.time_unproven:
        problems.append(
            f"{summary.signer} does not chain to the trusted root that issued the seal; a review must be "
            "signed with a reviewer certificate issued under it"
        )
    if "/Reference" in sig.sig_object:
        problems.append("its signature locks fields or the document (/Reference); a review may not restrict later reviews")
    problems += _time_problems(summary.proven_at or summary.signed_at, sealed.signed_at, previous_time, now)
    return problems


def _time_problems(
    signed_at: datetime | None, sealed_at: datetime | None, previous: datetime | None, now: datetime
) -> list[str]:
    if signed_at is None:
        return ["its signature states no signing time"]
    if signed_at > now + CLOCK_SKEW:
        return [f"it claims to be signed on {signed_at:%Y-%m-%d %H:%M} UTC, after the time of this verification"]
    if sealed_at is not None and signed_at < sealed_at - CLOCK_SKEW:
        return [f"it claims to be signed on {signed_at:%Y-%m-%d %H:%M} UTC, before the report was sealed"]
    if previous is not None and signed_at < previous - CLOCK_SKEW:
        return [f"it claims to be signed on {signed_at:%Y-%m-%d %H:%M} UTC, before the review signed before it"]
    return []


def _review(
    reader: PdfFileReader, sig: EmbeddedPdfSignature, slot: int, sealed: _Sealed, seal_cert: x509.Certificate,
    summary: SignatureSummary,
) -> tuple[ReviewInput | None, list[str]]:
    """What the slot says, and why it is no valid review: fields, their appearances, the signer's names."""
    review, problem = review_at(reader, slot, sig.signed_revision)
    if problem:
        return review, [f"the fields do not form a valid review ({problem})"]
    problems = _appearance_problems(reader, slot, sig.signed_revision, sealed)
    if review is not None:
        problems += _outcome_problems(reader, slot, sig.signed_revision, sealed, review, summary)
    cert = _cert(sig.signer_cert)
    name, title = subject_attribute(cert, NameOID.COMMON_NAME), subject_attribute(cert, NameOID.TITLE)
    if review is not None and summary.intact and (review.reviewer, review.role) != (name, title):
        problems.append(
            f"it names reviewer {review.reviewer!r} with role {review.role!r}, but it was signed by {name!r} "
            f"whose certificate names the role {title!r}: the reviewer and role must be the signer's own"
        )
    return review, problems


def _appearance_problems(reader: PdfFileReader, slot: int, revision: int, sealed: _Sealed) -> list[str]:
    if sealed.form_font is None:
        return ["the sealed form has no readable form font, so what its fields show cannot be checked"]
    fields = fields_at(reader, revision)
    problems = []
    for attribute in (*FIELDS, OUTCOME):
        name = field_name(slot, attribute)
        problem = appearance_problem(fields[name], *sealed.form_font) if name in fields else None
        if problem:
            problems.append(f"field {name}: {problem}; readers would see other than verify reads")
    return problems


def _outcome_problems(
    reader: PdfFileReader, slot: int, revision: int, sealed: _Sealed, review: ReviewInput, summary: SignatureSummary
) -> list[str]:
    """Whether the slot's page-1 line says the slot's decision, by whom, and when it was signed."""
    name = field_name(slot, OUTCOME)
    if name not in fields_at(reader, sealed.revision):
        return []  # sealed before page 1 had the lines
    field = fields_at(reader, revision).get(name)
    text = "" if field is None or field.get("/V") is None else str(field.get("/V"))
    signed_at = summary.signed_at or summary.proven_at
    if signed_at is None:
        return [f"its page-1 line {name} cannot be checked: the review's signature gives no time"]
    for language in dict.fromkeys((sealed.language, i18n.SOURCE_LANGUAGE)):  # English: lines written before
        with i18n.speaking(language):  # issue 25, when every line was English whatever the report's /Lang
            if outcome_time(slot, review, text, signed_at, FILL_WINDOW, CLOCK_SKEW) is not None:
                return []
    with i18n.speaking(sealed.language):
        example = outcome_text(slot, review.decision, review.reviewer, review.role, signed_at)
    return [
        f"its page-1 line {name} says {text[:120]!r}, not the decision the slot records at the time it was signed "
        f"({signed_at:%Y-%m-%d %H:%M} UTC, e.g. {example!r}): page 1 would tell readers other than the review"
    ]


def _pdf_review(data: bytes, sig: EmbeddedPdfSignature, summary: SignatureSummary, slot: int, review: ReviewInput | None) -> PdfReview:
    size = int(sig.byte_range[2]) + int(sig.byte_range[3])
    return PdfReview(
        slot=slot,
        review=review,
        signer=summary.signer,
        certificate_sha256=summary.certificate_sha256 or "",
        signed_at=summary.signed_at,
        revision_size=size,
        revision_sha256=hashlib.sha256(data[:size]).hexdigest(),
    )


def _cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def review_at(reader: PdfFileReader, slot: int, revision: int) -> tuple[ReviewInput | None, str | None]:
    """What slot `slot`'s fields say in `revision`, or why they are no review."""
    fields = fields_at(reader, revision)
    values: dict[str, object] = {}
    for attribute in FIELDS:
        field = fields.get(field_name(slot, attribute))
        if field is None:
            return None, f"field {field_name(slot, attribute)} is missing"
        values[attribute] = _value(field, attribute)
    try:
        minutes = str(values["minutes"]).strip()
        values["minutes"] = float(minutes.replace(",", ".")) if minutes else None
    except ValueError:
        return None, f"time spent {values['minutes']!r} is not a number of minutes"
    try:
        return ReviewInput.model_validate(values), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"{where}: {first['msg']}"


def _value(field: generic.DictionaryObject, attribute: str) -> object:
    value = field.get("/V")
    if attribute == CHECKBOX:
        return str(value) == "/Yes" or (value is None and str(field.get("/AS")) == "/Yes")
    return "" if value is None else str(value)


def check_review_file(folder: Path, name: str, anchors: TrustAnchors, reviews: list[PdfReview]) -> FileVerdict:
    """`folder/name` (a `review-N.json`) against its `.p7s` and against slot N of the report PDF."""
    verdict, data = check_detached(Path(folder) / name, anchors, MAX_FILE_BYTES)
    if data is None or verdict.status == "invalid":
        return verdict
    try:
        record = ReviewRecord.model_validate_json(data)
    except ValidationError as exc:
        return verdict.with_problems([f"{name} is not a review record ({exc.errors()[0]['msg']})"])
    return verdict.with_problems(_record_problems(Path(folder), name, record, verdict, reviews))


def _record_problems(
    folder: Path, name: str, record: ReviewRecord, verdict: FileVerdict, reviews: list[PdfReview]
) -> list[str]:
    named = REVIEW_FILE.match(name)
    if named is None or int(named.group(1)) != record.slot:
        return [f"{name} holds the review of slot {record.slot}: a review file is named after its slot (renamed or copied?)"]
    pdf = next((r for r in reviews if r.slot == record.slot), None)
    if pdf is None:
        return [f"{name} is review slot {record.slot}, but the PDF holds no signed review in that slot"]
    problems = []
    signer = verdict.signatures[0].certificate_sha256 if verdict.signatures else None
    if signer != pdf.certificate_sha256 or record.certificate_sha256 != pdf.certificate_sha256:
        problems.append(f"{name} is signed or named by another certificate than review slot {record.slot} of the PDF")
    if record.signer != pdf.signer:
        problems.append(f"{name} names signer {record.signer}, the PDF's review slot {record.slot} {pdf.signer}")
    if pdf.review is not None and record.review != pdf.review:
        differing = [a for a in FIELDS if getattr(record.review, a) != getattr(pdf.review, a)]
        problems.append(f"{name} says other than the PDF's review slot {record.slot}: {', '.join(differing)} differ")
    if (record.pdf_size, record.pdf_sha256) != (pdf.revision_size, pdf.revision_sha256):
        problems.append(f"{name} names other PDF bytes (size or SHA-256) than review slot {record.slot}'s revision")
    evidence = folder / RECORD_NAME
    if evidence.is_file() and hashlib.sha256(evidence.read_bytes()).hexdigest() != record.record_sha256:
        problems.append(f"{name} belongs to another evidence record (record_sha256 differs from {RECORD_NAME})")
    return problems

