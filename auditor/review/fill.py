"""Fill one review slot of a sealed report PDF and sign it with the reviewer's key.

The fields' values, their appearance streams (drawn with the form's own font from the AcroForm
`/DR`, so no font is added or rewritten) and the reviewer's approval signature in the slot's
signature field are ONE incremental revision: the seal's revision stays byte-for-byte the prefix
of the file, and the reviewer's signature covers exactly what the reviewer filled. The same
revision writes the slot's page-1 line (`review{N}.outcome`, on reports sealed with one): the
decision, by whom, when (`outcome_text`), in place of what the slot waited for.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from auditor import i18n
from auditor.errors import ArchiveError, SigningError
from auditor.files import atomic_write_bytes
from auditor.i18n import _
from auditor.keys import SigningIdentity, is_reviewer_certificate, reviewer_role
from auditor.keys.certificates import subject_attribute
from auditor.review.form import CHECKBOX, MIN_SIZE, FormFont, form_font_in, review_fields, text_style
from auditor.review.model import FIELDS, OUTCOME, SLOTS, ReviewInput, field_name, outcome_text
from auditor.review.text import FONT_RESOURCE, PADDING, report_language, text_appearance
from auditor.signing.seal import sign_revision, signing_errors


@dataclass(frozen=True)
class SignedReview:
    """One review as `sign_review` signed it into the PDF."""

    slot: int
    signer: str  # subject of the reviewer certificate
    certificate_sha256: str
    signed_at: datetime
    pdf_size: int  # bytes of the PDF after this review revision
    pdf_sha256: str


def sign_review(
    pdf: Path, identity: SigningIdentity, review: ReviewInput, slot: int | None = None, *, tsa_url: str | None = None
) -> SignedReview:
    """Fill review slot `slot` (None: the first empty one) of the sealed report `pdf` with
    `review`, sign it with the reviewer's key as an approval signature, and write the file
    back atomically. Only a reviewer certificate signs, and the review names its holder."""
    identity.check_usable()
    check_reviewer(identity, review)
    pdf = Path(pdf)
    data = _read(pdf)
    with signing_errors(pdf, tsa_url):
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        _require_seal(writer, pdf)
        fields = review_fields(writer.root)
        slot = _choose_slot(fields, slot, pdf)
        font_ref, font = form_font_in(writer.root)
        now = datetime.now(UTC)  # shown to the minute; the signature holds the exact time
        values = field_values(review)
        with i18n.speaking(report_language(writer.root)):
            if field_name(slot, OUTCOME) in fields:  # reports sealed before page 1 had the lines have none
                values[OUTCOME] = outcome_text(slot, review.decision, review.reviewer, review.role, now)
            lines = (_("on %(when)s UTC") % {"when": f"{now:%Y-%m-%d %H:%M}"},
                     _("Decision: %(decision)s") % {"decision": review.decision})
            signed_by = _("Signed by %(signer)s")
        for attribute, value in values.items():
            _fill(writer, fields[field_name(slot, attribute)], attribute, value, font, font_ref)
        stamp = ReviewStampStyle(font=font, font_ref=font_ref, lines=lines, signed_by=signed_by)
        out = sign_revision(
            writer, identity, field_name(slot, "signature"), reason=f"Review {slot}: {review.decision}",
            certify=False, tsa_url=tsa_url, stamp_style=stamp,
        )
    atomic_write_bytes(pdf, out)
    last = PdfFileReader(io.BytesIO(out)).embedded_signatures[-1]
    return SignedReview(
        slot=slot,
        signer=identity.subject,
        certificate_sha256=identity.fingerprint,
        signed_at=last.self_reported_timestamp or now,
        pdf_size=len(out),
        pdf_sha256=hashlib.sha256(out).hexdigest(),
    )


def reviewer_names(identity: SigningIdentity) -> tuple[str, str]:
    """The name and role a reviewer's certificate states; `SigningError` for any other key (the
    seal, the root, a signer without the reviewer policy or role)."""
    name = subject_attribute(identity.cert, NameOID.COMMON_NAME)
    role = reviewer_role(identity)
    if name is None or role is None or not is_reviewer_certificate(identity.cert):
        raise SigningError(
            f"{identity.subject} is not a reviewer certificate: a review is signed with a reviewer's own key "
            "(issued by `auditor keys add-reviewer`), never with the seal or the root"
        )
    return name, role


def check_reviewer(identity: SigningIdentity, review: ReviewInput) -> None:
    """Raise `SigningError` unless `identity` is a reviewer's and `review` names it: the reviewer
    field its subject name, the role field the role its certificate states."""
    name, role = reviewer_names(identity)
    if (review.reviewer, review.role) != (name, role):
        raise SigningError(
            f"the review names {review.reviewer!r} ({review.role}), but the key is {name!r}'s, certified as {role!r}: "
            "a review names the person whose key signs it"
        )


def field_values(review: ReviewInput) -> dict[str, str]:
    """What each field of a slot holds for `review`: text, or "Yes"/"Off" for the checkbox."""
    values = {}
    for attribute in FIELDS:
        value = getattr(review, attribute)
        if attribute == CHECKBOX:
            values[attribute] = "Yes" if value else "Off"
        elif attribute == "minutes":
            values[attribute] = "" if value is None else f"{value:g}"
        else:
            values[attribute] = str(value)
    return values


def _read(pdf: Path) -> bytes:
    try:
        return pdf.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {pdf}: {exc.strerror or exc}") from exc


def _require_seal(writer: IncrementalPdfFileWriter, pdf: Path) -> None:
    signatures = writer.prev.embedded_signatures
    if not signatures or signatures[0].docmdp_level is None:
        raise SigningError(f"{pdf} is not a sealed report (no certifying seal signature); seal it before reviewing")


def _choose_slot(fields: dict[str, generic.IndirectObject], slot: int | None, pdf: Path) -> int:
    """The slot to fill: `slot` if it exists and is free, else the first free one."""
    slots = [s for s in range(1, SLOTS + 1) if field_name(s, "signature") in fields]
    if not slots:
        raise SigningError(f"{pdf} has no review form (rendered before review fields existed?); re-render and seal it")
    free = [s for s in slots if "/V" not in fields[field_name(s, "signature")].get_object()]
    if slot is None:
        if not free:
            raise SigningError(f"every review slot of {pdf} is signed already; nothing left to fill")
        return free[0]
    if slot not in slots:
        raise SigningError(f"{pdf} has no review slot {slot}; choose one of {', '.join(map(str, slots))}")
    if slot not in free:
        raise SigningError(f"review slot {slot} of {pdf} is signed already; a signed review cannot be changed")
    return slot


def _fill(
    writer: IncrementalPdfFileWriter,
    ref: generic.IndirectObject,
    attribute: str,
    value: str,
    font: FormFont,
    font_ref: generic.PdfObject,
) -> None:
    widget = ref.get_object()
    if attribute == CHECKBOX:
        widget["/V"] = widget["/AS"] = pdf_name(f"/{value}")
    else:
        widget["/V"] = generic.TextStringObject(value)
        width, height = _size(widget["/Rect"])
        size, min_size, multiline = text_style(attribute)
        content = text_appearance(font, value, width, height, size, multiline=multiline, min_size=min_size)
        stream = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(generic.FloatObject(v) for v in (0, 0, width, height)),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {pdf_name("/Font"): generic.DictionaryObject({pdf_name(f"/{FONT_RESOURCE}"): font_ref})}
                ),
            },
            stream_data=content,
        )
        stream.compress()
        widget["/AP"] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(stream)})
    writer.mark_update(ref)


def _size(rect: generic.ArrayObject) -> tuple[float, float]:
    x1, y1, x2, y2 = (float(v) for v in rect)
    return round(abs(x2 - x1), 2), round(abs(y2 - y1), 2)


@dataclass(frozen=True)
class ReviewStampStyle(BaseStampStyle):
    """The reviewer's signature appearance: who signed, when, and the decision, drawn with the
    form's own embedded font (pyHanko's default stamp uses a font that is not embedded)."""

    font: FormFont | None = None
    font_ref: generic.PdfObject | None = None
    lines: tuple[str, ...] = field(default=())
    signed_by: str = "Signed by %(signer)s"  # the first line, in the report's language
    border_width: int = 0

    def create_stamp(self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict) -> BaseStamp:
        text = (self.signed_by % {"signer": text_params.get("signer", "")}, *self.lines)
        return _ReviewStamp(writer, self, box, text)


class _ReviewStamp(BaseStamp):
    def __init__(self, writer: BasePdfFileWriter, style: ReviewStampStyle, box: layout.BoxConstraints, text: tuple[str, ...]):
        super().__init__(writer, style, box)
        self.text = text

    def _render_inner_content(self) -> list[bytes]:
        style: ReviewStampStyle = self.style
        assert style.font is not None and style.font_ref is not None
        self.set_resource(ResourceType.FONT, pdf_name(f"/{FONT_RESOURCE}"), style.font_ref)
        width, height = self.box.width, self.box.height
        size = 8.0
        while size > MIN_SIZE and (
            len(self.text) * size * 1.2 > height - 2 * PADDING
            or max(style.font.width(line, size) for line in self.text) > width - 2 * PADDING
        ):
            size -= 0.5
        top = height - PADDING - size
        ops = [f"BT /{FONT_RESOURCE} {size:g} Tf 0 0 0.55 rg {PADDING:g} {top:.2f} Td {size * 1.2:.2f} TL"]
        ops += [f"<{style.font.encode(line).hex()}> Tj T*" for line in self.text]
        ops.append("ET")
        return ["\n".join(ops).encode("ascii")]
