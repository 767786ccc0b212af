"""Document timestamps after the signatures (PAdES B-LTA) and the revocation data a PDF carries.

A report may grow after its last signature only by validation data (a DSS update) and document
timestamps (`auditor archive extend`); pyHanko's diff analysis rates such updates LTA_UPDATES.
Each document timestamp must be intact; the last revision must be covered by a signature or a
document timestamp, except a DSS update right after the last document timestamp (its validation
data, as PAdES B-LTA adds it): nothing else unsigned stands at the end. A timestamp whose authority no
longer validates now is only noted: the chain of timestamps is judged as proof of existence by
`auditor.verify.when`, signature by signature.
"""

from __future__ import annotations

from collections.abc import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import DocumentTimestampStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from auditor.verify.status import Findings, SignatureSummary
from auditor.verify.trust import MAX_REVINFO, TrustAnchors, subject


def embedded_revinfo(reader: PdfFileReader) -> tuple[list[bytes], list[bytes]]:
    """The CRLs and OCSP responses of the PDF's DSS (DER; at most MAX_REVINFO of each)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return [], []
    return _streams(dss.crls), _streams(dss.ocsps)


def _streams(refs: list[generic.PdfObject]) -> list[bytes]:
    streams = (ref.get_object() for ref in refs[:MAX_REVINFO])
    return [stream.data for stream in streams if isinstance(stream, generic.StreamObject)]


def check_document_timestamps(
    reader: PdfFileReader,
    anchors: TrustAnchors,
    findings: Findings,
    summaries: list[SignatureSummary],
    container_problem: Callable[[EmbeddedPdfSignature], str | None],
) -> None:
    """Judge each document timestamp (its container first, by `container_problem`); say which
    ones extend the report's proof of time."""
    stamps = reader.embedded_timestamp_signatures
    if not stamps or not summaries or findings.invalid:
        return
    last_field = reader.embedded_signatures[-1].field_name
    for stamp in stamps:
        name = f"document timestamp {stamp.field_name}"
        problem = container_problem(stamp)
        if problem:
            findings.invalid.append(f"{name}: the timestamp container {problem}")
            return
        status = _validate(stamp, anchors.timestamp_context())
        trailing = reader.xrefs.total_revisions - 1 - stamp.signed_revision
        findings.invalid += _problems(status, name, stamp.field_name == last_field, trailing)
        if not findings.invalid:
            findings.notes.append(_note(status, name))


def _validate(stamp: EmbeddedPdfSignature, context: ValidationContext) -> DocumentTimestampStatus:
    return validate_pdf_timestamp(stamp, context)


def _problems(status: DocumentTimestampStatus, name: str, is_last: bool, trailing: int) -> list[str]:
    if not (status.intact and status.valid):
        return [f"{name}: the timestamped bytes were altered (digest or signature mismatch)"]
    level = status.modification_level
    if is_last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE and not (trailing == 1 and _validation_data_only(status)):
        return [f"content was appended after the last document timestamp ({name}) without a new signature"]
    if not is_last and (level is None or level > ModificationLevel.FORM_FILLING):
        return [f"the revision after {name} changes more than validation data, timestamps and form fields"]
    return []


def _validation_data_only(status: DocumentTimestampStatus) -> bool:
    """Whether what follows the timestamp is validation data (a DSS update), as pyHanko rates it."""
    return status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and status.modification_level == ModificationLevel.LTA_UPDATES


def _note(status: DocumentTimestampStatus, name: str) -> str:
    when = f"{status.timestamp:%Y-%m-%d %H:%M} UTC"
    if status.trusted:
        return f"{name} by {subject(status.signing_cert)} on {when} (B-LTA: proof of existence of what it covers)"
    return (
        f"{name} by {subject(status.signing_cert)} on {when} does not validate now on its own; it counts only "
        "through a later document timestamp that proves it"
    )
