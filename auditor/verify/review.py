"""Reviews after the seal: what each signed review slot says, and whether its revisions may stand.

A report PDF with a review form may grow after the seal only by reviews: every later signature
must sit in a review slot's signature field (`review{N}.signature`), be made by a signer that
chains to the trusted root (a signer outside it makes the file invalid, not merely untrusted,
when the seal itself is trusted), and the revisions it covers may change only the fields of its
own slot. `check_pdf` has already required that pyHanko's diff analysis rates everything after the
seal at most FORM_FILLING and that the last revision is signed; this module adds the per-slot
rule, which pyHanko cannot know. A PDF without a review form (older reports) may still carry
later approval signatures by trusted signers, as long as they change no field but their own.

`review-N.json` beside a report (`check_review_file`) must be signed by the same certificate as
slot N's PDF signature and repeat exactly what the PDF's fields say.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import ValidationError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from auditor.report_folder import RECORD_NAME
from auditor.review.form import CHECKBOX
from auditor.review.model import FIELDS, SLOTS, ReviewInput, ReviewRecord, field_name
from auditor.verify.detached import check_detached
from auditor.verify.limits import MAX_FILE_BYTES
from auditor.verify.status import FileVerdict, Findings, PdfReview, SignatureSummary
from auditor.verify.trust import TrustAnchors

__all__ = ["PdfReview", "check_review_file", "pdf_reviews"]

MAX_FIELDS = 512  # fields read per revision; a form is ~20
MAX_DEPTH = 8
_SLOT_SIGNATURE = re.compile(r"review([1-9][0-9]?)\.signature")
_SKIPPED_KEYS = frozenset({"/Parent", "/P", "/Kids"})


def pdf_reviews(
    reader: PdfFileReader,
    data: bytes,
    anchors: TrustAnchors,
    findings: Findings,
    summaries: list[SignatureSummary],
) -> list[PdfReview]:
    """Each signed review slot after the seal; what is wrong with them goes into `findings`."""
    signatures = reader.embedded_signatures
    if len(signatures) < 2 or len(summaries) != len(signatures):
        return []
    with_form = field_name(1, "signature") in fields_at(reader, signatures[0].signed_revision)
    seal_trusted = summaries[0].trusted
    reviews: list[PdfReview] = []
    previous = signatures[0].signed_revision
    for sig, summary in zip(signatures[1:], summaries[1:], strict=True):
        match = _SLOT_SIGNATURE.fullmatch(sig.field_name or "")
        slot = int(match.group(1)) if match and int(match.group(1)) <= SLOTS else None
        own = f"review{slot}." if slot is not None else f"{sig.field_name}"
        if with_form and slot is None:
            findings.invalid.append(
                f"signature {sig.field_name} after the seal is not in a review slot's signature field "
                f"(review1.signature … review{SLOTS}.signature): only reviews may follow the seal"
            )
        foreign = [n for n in changed_fields(reader, previous, sig.signed_revision) if not _owned(n, own)]
        if foreign:
            whose = f"review slot {slot}" if slot is not None else f"signature {sig.field_name}"
            findings.invalid.append(
                f"{whose}: its signed revision also changes {', '.join(foreign[:5])}, fields outside its own slot"
            )
        if seal_trusted and summary.intact and not summary.trusted:
            findings.invalid.append(
                f"signature {sig.field_name}: {summary.signer} does not chain to the trusted root that issued the "
                "seal; a review must be signed with a reviewer certificate issued under it"
            )
        if slot is not None:
            reviews.append(_review(reader, data, sig, summary, slot, findings))
        previous = sig.signed_revision
    return reviews


def _owned(name: str, own: str) -> bool:
    return name.startswith(own) if own.endswith(".") else name == own


def _review(
    reader: PdfFileReader, data: bytes, sig: EmbeddedPdfSignature, summary: SignatureSummary, slot: int, findings: Findings
) -> PdfReview:
    review, problem = review_at(reader, slot, sig.signed_revision)
    if problem:
        findings.invalid.append(f"review slot {slot}: the fields do not form a valid review ({problem})")
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


def fields_at(reader: PdfFileReader, revision: int) -> dict[str, generic.DictionaryObject]:
    """Every terminal form field of `revision` by full name (bounded in count and depth)."""
    root = reader.get_historical_root(revision)
    try:
        top = root["/AcroForm"]["/Fields"]
    except (KeyError, TypeError):
        return {}
    found: dict[str, generic.DictionaryObject] = {}
    stack = [(ref, "", 0) for ref in reversed(list(top)[:MAX_FIELDS])]
    while stack and len(found) < MAX_FIELDS:
        ref, prefix, depth = stack.pop()
        field = ref.get_object()
        if not isinstance(field, generic.DictionaryObject):
            continue
        name = ".".join(p for p in (prefix, str(field.get("/T", ""))) if p)
        kids = field.get("/Kids")
        if isinstance(kids, generic.ArrayObject) and depth < MAX_DEPTH and any("/T" in k.get_object() for k in kids):
            stack += [(kid, name, depth + 1) for kid in reversed(list(kids)[:MAX_FIELDS])]
        else:
            found.setdefault(name, field)
    return found


def changed_fields(reader: PdfFileReader, before: int, after: int) -> list[str]:
    """Full names of the fields added, removed or changed (value, state, appearance, any other
    entry) between two revisions."""
    old = {name: _state(field) for name, field in fields_at(reader, before).items()}
    new = {name: _state(field) for name, field in fields_at(reader, after).items()}
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def _state(field: generic.DictionaryObject) -> tuple[tuple[str, str], ...]:
    """What a field dictionary says, its appearance streams by content hash."""
    return tuple(
        (str(key), _appearance_digest(field["/AP"]) if key == "/AP" else str(field.raw_get(key)))
        for key in sorted(field)
        if key not in _SKIPPED_KEYS
    )


def _appearance_digest(appearance: generic.PdfObject) -> str:
    digest = hashlib.sha256()
    for stream in _streams(appearance.get_object(), 0):
        digest.update(stream.encoded_data)
        digest.update(str(sorted((str(k), str(stream.raw_get(k))) for k in stream)).encode())
    return digest.hexdigest()


def _streams(value: generic.PdfObject, depth: int) -> list[generic.StreamObject]:
    if isinstance(value, generic.StreamObject):
        return [value]
    if isinstance(value, generic.DictionaryObject) and depth < 3:
        return [s for key in sorted(value) for s in _streams(value[key], depth + 1)]
    return []


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

