"""Verdicts: what `verify` says about each file, and how findings become a verdict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from auditor.review.model import ReviewInput

Status = Literal["valid", "invalid", "untrusted"]
Kind = Literal["pdf", "detached", "ledger"]  # "ledger": the ledger of a batch folder, or a file only it binds
EXIT_VALID, EXIT_INVALID, EXIT_UNTRUSTED = 0, 1, 8


class SignatureSummary(BaseModel):
    """One signature found in a file."""

    field: str | None = None
    signer: str
    certificate_sha256: str | None = None  # hex SHA-256 of the signer's certificate (DER)
    signed_at: dt.datetime | None = None
    intact: bool
    trusted: bool
    covers_whole_file: bool
    changes_after: str | None = None
    timestamped: bool = False  # only when the timestamp is intact and its authority trusted
    proven_at: dt.datetime | None = None  # when a trusted timestamp proves the signature existed
    time_unproven: bool = False  # intact, but its certificate expired and no timestamp proves when it was made


@dataclass(frozen=True)
class TimeJudgement:
    """What proof of time makes of a signature whose signer does not validate now (`verify.when`)."""

    trusted: bool = False
    invalid: str | None = None  # makes the file invalid
    untrusted: str | None = None  # the signature's time cannot be established
    note: str | None = None
    proven_at: dt.datetime | None = None


class PdfReview(BaseModel):
    """One signed review slot of a report PDF, as its fields read in the revision its signature covers."""

    slot: int
    review: ReviewInput | None  # None when the fields do not form a valid review (the PDF is then invalid)
    signer: str  # subject of the reviewer's certificate
    certificate_sha256: str
    signed_at: dt.datetime | None = None
    revision_size: int  # bytes of the PDF up to and including this review's signed revision
    revision_sha256: str  # of those bytes


class FileVerdict(BaseModel):
    """The verdict on one file."""

    path: str
    kind: Kind
    status: Status
    signer: str | None = None
    trusted_root: str
    reasons: list[str] = []
    notes: list[str] = []
    signatures: list[SignatureSummary] = []
    reviews: list[PdfReview] = []

    def with_problems(self, problems: Sequence[str]) -> FileVerdict:
        """A copy with `problems` added as reasons that make the file invalid."""
        if not problems:
            return self
        return self.model_copy(update={"status": "invalid", "reasons": [*self.reasons, *problems]})


@dataclass
class Findings:
    """Problems found while checking one file, split by what they mean."""

    invalid: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.invalid:
            return "invalid"
        return "untrusted" if self.untrusted else "valid"

    def verdict(
        self,
        path: Path,
        kind: Kind,
        summaries: list[SignatureSummary],
        trusted_root: str,
        reviews: Sequence[PdfReview] = (),
    ) -> FileVerdict:
        """The verdict on `path` from these findings."""
        return FileVerdict(
            path=str(path),
            kind=kind,
            status=self.status,
            signer=summaries[0].signer if summaries else None,
            trusted_root=trusted_root,
            reasons=self.invalid + self.untrusted,
            notes=self.notes,
            signatures=summaries,
            reviews=list(reviews),
        )


def exit_code(verdicts: Sequence[FileVerdict]) -> int:
    """0 when all valid and trusted, 1 when anything is altered or invalid, 8 when only untrusted."""
    statuses = {v.status for v in verdicts}
    if "invalid" in statuses or not verdicts:
        return EXIT_INVALID
    return EXIT_UNTRUSTED if "untrusted" in statuses else EXIT_VALID
