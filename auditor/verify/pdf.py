"""Verify a sealed PDF: every PAdES signature, what changed after it, and the embedded record.

A PDF is valid only if the last revision is covered by a valid signature (no unsigned update at
the end), every earlier signature allows what came after it (only signatures and form filling,
DocMDP level 2), every signature after the seal is a review that changes only its own slot's
fields and chains to the trusted root (`auditor.verify.review`, which also reads what each review
says), no later revision rewrote the document metadata, the hex signature container
is exactly what the signer wrote, and the embedded `evidence.json` is a readable record that
names the certificate that made the first (certifying) signature, and whose listed artifacts
match their SHA-256 when they are present beside the PDF (always required for a report folder).
Size, revision and cross-reference limits are checked on the raw bytes before the PDF is parsed;
parsing is budgeted, and the form's fields and signatures are counted before pyHanko's analysis.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from functools import partial
from pathlib import Path

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from auditor.names import RECORD_NAME
from auditor.verify.cms_strict import container_problem, timestamp_token_problem
from auditor.verify.limits import (
    MAX_PDF_BYTES,
    MAX_REVISIONS,
    PDF_DECODE_LIMITS,
    BudgetedPdf,
    PdfLimitExceeded,
    check_form_limits,
    pdf_structure_problem,
    read_capped,
)
from auditor.verify.pdf_metadata import metadata_changes, tagging_problems
from auditor.verify.pdf_timestamps import check_document_timestamps, embedded_revinfo
from auditor.verify.review import pdf_reviews
from auditor.verify.status import FileVerdict, Findings, PdfReview, SignatureSummary
from auditor.verify.trust import (
    VALIDATION_USAGE,
    TrustAnchors,
    certificate_sha256,
    judge_signature,
    judge_timestamp,
    subject,
    validated,
)
from auditor.verify.when import pdf_judgement

ContainerCheck = Callable[[bytes, TrustAnchors], str | None]
ContentCheck = Callable[[PdfFileReader, Path, SignatureSummary, Findings], bytes | None]  # what a sealed PDF embeds


def verify_pdf(path: Path, anchors: TrustAnchors, *, in_report_folder: bool = False) -> FileVerdict:
    """Check every signature in a PDF, its coverage, its metadata and the embedded evidence record."""
    return check_pdf(path, anchors, in_report_folder=in_report_folder)[0]


def check_pdf(
    path: Path, anchors: TrustAnchors, *, in_report_folder: bool = False, content: ContentCheck | None = None
) -> tuple[FileVerdict, bytes | None]:
    """`verify_pdf`'s verdict, and the embedded record's bytes when the signatures hold. `content`
    checks what the sealed PDF embeds instead of the evidence record (a notice: `verify.notice`)."""
    findings = Findings()
    summaries: list[SignatureSummary] = []
    reviews: list[PdfReview] = []
    record = None
    data = read_capped(path, MAX_PDF_BYTES, findings)
    problem = pdf_structure_problem(data) if data is not None else None
    if problem:
        findings.invalid.append(problem)
    elif data is not None:
        try:
            reader = PdfFileReader(BudgetedPdf(data), decode_limits=PDF_DECODE_LIMITS)
            check_form_limits(reader)  # before pyHanko enumerates the signatures and compares revisions
            signatures = reader.embedded_regular_signatures
            in_file = anchors.with_revinfo(*embedded_revinfo(reader))
            summaries = _check_signatures(reader, signatures, data, in_file, findings)
            stamp_container = partial(_pdf_container_problem, data=data, anchors=in_file, check=timestamp_token_problem)
            check_document_timestamps(reader, in_file, findings, summaries, stamp_container)
            reviews = pdf_reviews(reader, data, anchors, findings, summaries)
            if summaries and not findings.invalid:
                findings.invalid += metadata_changes(reader, signatures[0].signed_revision)
                findings.invalid += tagging_problems(reader, signatures[0].signed_revision)
                check = content or partial(_check_embedded_record, in_report_folder=in_report_folder)
                record = check(reader, path, summaries[0], findings)
        except PdfLimitExceeded as exc:  # the one reason, whatever else failed on the way
            findings = Findings(invalid=[str(exc)])
        except PdfDecodeLimitError as exc:
            findings = Findings(invalid=[f"compressed data in the PDF unpacks to more than a report's ({exc}): refused"])
        except Exception as exc:  # hostile input may break the parser anywhere
            findings.invalid.append(f"cannot read the PDF ({type(exc).__name__}: {exc}); it is damaged or altered")
    return findings.verdict(path, "pdf", summaries, anchors.description, reviews), record


def _check_signatures(
    reader: PdfFileReader,
    signatures: list[EmbeddedPdfSignature],
    data: bytes,
    anchors: TrustAnchors,
    findings: Findings,
) -> list[SignatureSummary]:
    if not signatures:
        findings.invalid.append("no signature: the PDF is unsigned (a draft?) or its signature was removed")
        return []
    revisions = reader.xrefs.total_revisions  # the byte counts should have caught this; a second wall
    if revisions > MAX_REVISIONS:
        findings.invalid.append(f"the PDF has {revisions} revisions, more than the {MAX_REVISIONS} allowed")
        return []
    summaries: list[SignatureSummary] = []
    for sig in signatures:
        problem = _pdf_container_problem(sig, data, anchors)
        if problem:
            findings.invalid.append(f"signature {sig.field_name}: the signature container {problem}")
            return summaries
        status, path_error = validated(partial(_validate, sig), anchors)
        summary = _summary(sig, status)
        summaries.append(summary)
        name = f"signature {summary.field}"
        judge_signature(summary, status, findings, anchors, name, path_error, partial(pdf_judgement, sig, status, anchors))
        judge_timestamp(summary, status, findings, name)
        _judge_coverage(summary, status, sig.field_name == reader.embedded_signatures[-1].field_name, findings)
    return summaries


def _validate(sig: EmbeddedPdfSignature, context: ValidationContext) -> PdfSignatureStatus:
    return validate_pdf_signature(sig, context, key_usage_settings=VALIDATION_USAGE)


def _summary(sig: EmbeddedPdfSignature, status: PdfSignatureStatus) -> SignatureSummary:
    level = status.modification_level
    return SignatureSummary(
        field=sig.field_name,
        signer=subject(status.signing_cert),
        certificate_sha256=certificate_sha256(status.signing_cert),
        signed_at=status.signer_reported_dt,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changes_after=level.name if level is not None else None,
    )


def _judge_coverage(summary: SignatureSummary, status: PdfSignatureStatus, is_last: bool, findings: Findings) -> None:
    if is_last and not summary.covers_whole_file:
        findings.invalid.append(f"content was appended after the last signature ({summary.field}) without a new signature")
    if not is_last and not _later_changes_allowed(status):
        findings.invalid.append(
            f"the revision after signature {summary.field} changes more than signatures and form fields "
            f"({summary.changes_after})"
        )


def _later_changes_allowed(status: PdfSignatureStatus) -> bool:
    level = status.modification_level
    return (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and level is not None
        and level <= ModificationLevel.FORM_FILLING
        and status.docmdp_ok is not False
    )


def _pdf_container_problem(
    sig: EmbeddedPdfSignature, data: bytes, anchors: TrustAnchors, check: ContainerCheck = container_problem
) -> str | None:
    """The unsigned gap must read `<hex(CMS)00…>` in one letter case, and the CMS must pass
    `check` (`container_problem`, `timestamp_token_problem` for a document timestamp): no flipped
    case, padding, junk, extra certificate or unsigned field goes unnoticed."""
    start, length, end = (int(sig.byte_range[i]) for i in range(3))
    raw = sig.pkcs7_content
    der_length = len(cms.ContentInfo.load(raw).dump())
    hex_text = binascii.hexlify(raw)
    if data[start + length : end] not in (b"<" + hex_text + b">", b"<" + hex_text.upper() + b">"):
        return "is not plain hexadecimal"
    if raw[der_length:].strip(b"\0"):
        return "has data after the signature"
    return check(raw[:der_length], anchors)


def _check_embedded_record(
    reader: PdfFileReader, path: Path, seal: SignatureSummary, findings: Findings, *, in_report_folder: bool
) -> bytes | None:
    embedded = embedded_file(reader, RECORD_NAME)
    if embedded is None:
        findings.invalid.append("no embedded evidence.json: this is not a complete auditor report")
        return None
    beside = path.parent / RECORD_NAME
    if (in_report_folder or beside.is_file()) and not _holds(beside, embedded):
        findings.invalid.append(f"{beside} differs from (or is missing next to) the evidence record embedded in the PDF")
    _check_record(embedded, path.parent, in_report_folder, seal, findings)
    return embedded


def embedded_file(reader: PdfFileReader, name: str) -> bytes | None:
    """Bytes of the embedded file `name` in the catalog's EmbeddedFiles name tree."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for index in range(0, len(names) - 1, 2):
        key, spec = names[index], names[index + 1].get_object()
        if str(key) == name or str(spec.get("/UF", "")) == name:
            stream = spec["/EF"]["/F"].get_object()
            return stream.data if isinstance(stream, generic.StreamObject) else None
    return None


def _check_record(
    record_bytes: bytes, folder: Path, required: bool, seal: SignatureSummary, findings: Findings
) -> None:
    from auditor.errors import ReportError
    from auditor.evidence import load_record, verify_artifacts

    try:
        record = load_record(record_bytes)
    except ReportError as exc:
        findings.invalid.append(f"the embedded evidence record is unreadable: {exc}")
        return
    problem = _seal_problem(record.seal.signed, record.seal.certificate_sha256, seal)
    if problem:
        findings.invalid.append(problem)
    present = any((folder / a.path).exists() for a in record.artifacts)
    if not (required or present):
        findings.notes.append("artifact files are not beside the PDF: their hashes were not checked")
        return
    findings.invalid += [f"artifact {problem}" for problem in verify_artifacts(record, folder)]
    if not findings.invalid:
        findings.notes.append(f"{len(record.artifacts)} artifacts match the SHA-256 in the embedded record")


def _seal_problem(signed: bool, stated: str | None, seal: SignatureSummary) -> str | None:
    """The record must name the certificate that made the certifying signature."""
    if not signed:
        return "the embedded record says the report is unsigned (seal.signed: false), yet the PDF is signed"
    if stated != seal.certificate_sha256:
        named = f"certificate SHA-256 {stated[:16]}…" if stated else "no seal certificate"
        return (
            f"the embedded record names {named}, but {seal.signer} (SHA-256 {(seal.certificate_sha256 or '')[:16]}…) "
            "made the certifying signature: the report names one signer, another signed"
        )
    return None


def _holds(path: Path, expected: bytes) -> bool:
    """Whether `path` holds exactly `expected` (its size is compared before it is read)."""
    try:
        return path.stat().st_size == len(expected) and path.read_bytes() == expected
    except OSError:
        return False
