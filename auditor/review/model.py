"""What a review says, how its PDF form fields are named, and the record written beside the report.

The sealed PDF carries `SLOTS` review slots: slot 1 for the reviewer, slot 2 for a second verifier
(where the deployment profile requires two) or for the person an escalated review goes to. Each
slot has the text and choice fields of `FIELDS` and one empty signature field; a review fills one
slot and signs it in a new revision (`auditor review`, or any PDF reader). `review-N.json` (+
`.p7s`, signed by the reviewer) beside the report repeats what slot N's fields say.

Each slot also has a line at the top of page 1 (`review{N}.outcome`): sealed, it says what the
slot waits for ("Status: awaiting human review. This is not a final decision."); the slot's review
revision replaces it by `outcome_text` (the decision, by whom, when), so the first thing a reader
of a reviewed PDF sees is the human decision, and each slot writes only its own line. The line
speaks the report's language (the sealed PDF's `/Lang`): fill and verify word it inside
`auditor.i18n.speaking` of that language.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor import i18n
from auditor.errors import ReportError, first_problem
from auditor.i18n import _
from auditor.messages import N_
from auditor.names import Sha256

REVIEW_FORMAT: Final = "auditor-review/1"
SLOTS: Final = 2
Decision = Literal["confirm", "overturn", "escalate"]
DECISIONS: Final[tuple[str, ...]] = ("confirm", "overturn", "escalate")
MAX_TEXT: Final = 4000  # characters of one text field

# ReviewInput attribute -> field name suffix in the PDF form; slot N's field is f"review{N}.{suffix}"
FIELDS: Final[dict[str, str]] = {
    "reviewer": "reviewer",
    "role": "role",
    "authority": "authority",
    "data_considered": "considered",
    "decision": "decision",  # a text field holding one of DECISIONS (readers fill it by typing or choosing)
    "reasons": "reasons",
    "minutes": "minutes",
    "automation_bias_acknowledged": "bias",  # a checkbox: /Yes when ticked, /Off otherwise
}
SIGNATURE_SUFFIX_NAME: Final = "signature"
OUTCOME: Final = "outcome"  # slot N's page-1 line, "review{N}.outcome"
_OUTCOMES: Final = {  # (first slot?, decision) -> the page-1 line; an escalation's tail is true before and after
    (True, "confirm"): N_("Confirmed by %(reviewer)s (%(role)s), %(when)s UTC."),
    (True, "overturn"): N_("Overturned by %(reviewer)s (%(role)s), %(when)s UTC."),
    (True, "escalate"): N_("Escalated by %(reviewer)s (%(role)s), %(when)s UTC: another person decides."),
    (False, "confirm"): N_("Second review: confirmed by %(reviewer)s (%(role)s), %(when)s UTC."),
    (False, "overturn"): N_("Second review: overturned by %(reviewer)s (%(role)s), %(when)s UTC."),
    (False, "escalate"): N_("Second review: escalated by %(reviewer)s (%(role)s), %(when)s UTC: another person decides."),
}
_TYPED: Final = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2019": "'", "\u2018": "'",
                                "\u201c": '"', "\u201d": '"', "\u201e": '"'})  # what a reader's keyboard types
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def field_name(slot: int, attribute: str) -> str:
    """The PDF field name of `attribute` in review slot `slot` (1-based), e.g. "review1.reasons";
    "signature" and "outcome" (the page-1 line) name the slot's signature and outcome fields."""
    suffix = attribute if attribute in (SIGNATURE_SUFFIX_NAME, OUTCOME) else FIELDS[attribute]
    return f"review{slot}.{suffix}"


def outcome_text(slot: int, decision: str, reviewer: str, role: str, when: datetime) -> str:
    """Slot `slot`'s page-1 line once signed, in the active language: "Overturned by Jane Doe
    (compliance officer), 7 Dec 2026 09:14 UTC." (slot 2: "Second review: confirmed by …"). `when`
    is shown to the minute, in UTC: in English as reports reviewed before issue 25 wrote it, in
    another language with its locale's long date ("7. Dezember 2026 09:14")."""
    line = _(_OUTCOMES[(slot == 1, decision)])
    return line % {"reviewer": reviewer, "role": role, "when": _format_when(when)}


def outcome_time(slot: int, review: ReviewInput, text: str, near: datetime, before: timedelta, after: timedelta) -> datetime | None:
    """The minute, from `before` ahead of `near` to `after` past it, at which `text` is exactly
    `outcome_text` of `review` in slot `slot` (in the active language) as a keyboard types it (no-break
    and thin spaces as spaces, typographic apostrophes and quotes as straight ones); None when it
    says anything else. At most one line per minute of that span is worded: the work is bounded."""
    if len(text) > MAX_TEXT:
        return None
    typed = text.translate(_TYPED)
    return next((m for m in _minutes(near - before, near + after)
                 if outcome_text(slot, review.decision, review.reviewer, review.role, m).translate(_TYPED) == typed), None)


def _minutes(first: datetime, last: datetime) -> Iterator[datetime]:
    """Every whole minute from `first` to `last`, in UTC."""
    minute = first.astimezone(UTC).replace(second=0, microsecond=0)
    minute += timedelta(minutes=1) if minute < first else timedelta()
    while minute <= last:
        yield minute
        minute += timedelta(minutes=1)


def _format_when(when: datetime) -> str:
    when = when.astimezone(UTC)
    if i18n.active().code == i18n.SOURCE_LANGUAGE:
        return f"{when.day} {_MONTHS[when.month - 1]} {when.year} {when:%H:%M}"
    return f"{i18n.date(when)} {i18n.time(when)}"


class ReviewInput(BaseModel):
    """What a reviewer states. A decision without reasons is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    reviewer: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=200)
    authority: str = Field("", max_length=MAX_TEXT)
    data_considered: str = Field("", max_length=MAX_TEXT)
    decision: Decision
    reasons: str = Field(max_length=MAX_TEXT)
    minutes: float | None = Field(None, ge=0, le=100_000)
    automation_bias_acknowledged: bool = False

    @field_validator("reasons")
    @classmethod
    def _reasons_given(cls, reasons: str) -> str:
        if len(reasons.split()) < 2:
            raise ValueError("a decision needs its reasons (a sentence, not a word); say why you decided so")
        return reasons


class ReviewRecord(BaseModel):
    """`review-N.json`: one signed review of one report, as its PDF revision records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-review/1"] = REVIEW_FORMAT
    report_id: str
    record_sha256: Sha256
    slot: int = Field(ge=1, le=SLOTS)
    review: ReviewInput
    signer: str  # subject of the reviewer's certificate
    certificate_sha256: Sha256
    signed_at: datetime
    pdf_size: int = Field(ge=1)  # bytes of report.pdf up to and including this review's revision
    pdf_sha256: Sha256  # of those bytes


def review_input(**fields: object) -> ReviewInput:
    """A `ReviewInput`, or ReportError naming what is missing (e.g. the reasons)."""
    try:
        return ReviewInput.model_validate(fields)
    except ValidationError as exc:
        raise ReportError(f"the review is incomplete: {first_problem(exc, 'review')}") from exc
