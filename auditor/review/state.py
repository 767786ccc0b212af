"""Where a report stands in its human review: awaiting, overdue, reviewed, overturned, escalated.

The rules (GDPR Art. 22(3), WP251rev.01, AI Act Art. 14):
- A report that raised no alert needs no review ("no alert"), unless someone reviewed it anyway.
- Without a review, a flagged report is "awaiting review", and "overdue" once the profile's
  `review_deadline_hours` have passed since it was sealed (the seal's signing time as `verify`
  reads it; not the record's `created_at`, set when the report began staging). An unsealed draft
  has no due time.
- The last review decides. "escalate" hands the decision on: the report is "escalated" until
  another person confirms or overturns it (the one who escalated cannot take it back alone).
- Where the deployment profile requires a second verifier, a confirmation or an overturn counts
  only when two reviews by distinct persons agree on it (distinct names and certificates: two
  certificates of one person are one person); one review is "awaiting second review", two that
  disagree are a "disagreement" (escalate it).
- Reviews count only when they verify (`auditor.desk.reviews`), in the order they were signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from auditor.evidence import EvidenceRecord
from auditor.review.model import ReviewRecord

Status = Literal[
    "report invalid", "review file invalid", "no alert", "awaiting review", "overdue", "awaiting second review",
    "reviewed", "overturned", "escalated", "disagreement",
]
STATUSES: Final[tuple[str, ...]] = (
    "report invalid", "review file invalid", "awaiting review", "overdue", "awaiting second review", "disagreement",
    "escalated", "reviewed", "overturned", "no alert",
)
UNVERIFIED: Final = frozenset({"report invalid", "review file invalid"})  # no review state can be told


@dataclass(frozen=True)
class ReviewState:
    """A report's review status, the reviews it rests on, and when its review is (or was) due."""

    status: Status
    reviews: tuple[ReviewRecord, ...]
    due: datetime | None  # sealed + the profile's deadline; None without a deadline or a seal
    second_verifier_required: bool

    @property
    def decided(self) -> bool:
        return self.status in ("reviewed", "overturned")

    def describe(self) -> str:
        """One line for people: the status, who decided, and when it is due."""
        if self.status in ("reviewed", "overturned"):
            names = " and ".join(dict.fromkeys(r.review.reviewer for r in self.reviews[-2:]))
            return f"{self.status} by {names}"
        due = f"; due {self.due:%Y-%m-%d %H:%M} UTC" if self.due is not None and self.status != "no alert" else ""
        return f"{self.status}{due}"


def review_due(record: EvidenceRecord, sealed_at: datetime | None) -> datetime | None:
    """When the report's review is due: the seal's signing time + the profile's deadline (None
    without a deadline, or for a report not sealed)."""
    deadline = record.deployment.review_deadline_hours
    return sealed_at + timedelta(hours=deadline) if deadline and sealed_at is not None else None


def review_state(
    record: EvidenceRecord, reviews: list[ReviewRecord], now: datetime, sealed_at: datetime | None = None
) -> ReviewState:
    """The state of the report `record` describes, given its verified reviews in the order they were
    signed, the time now and when its seal was signed (None: not sealed, so nothing is due)."""
    due = review_due(record, sealed_at)
    two = bool(record.deployment.second_verifier_required)
    state = ReviewState(_status(record, reviews, two), tuple(reviews), due, two)
    if state.status == "awaiting review" and due is not None and now > due:
        return ReviewState("overdue", state.reviews, due, two)
    return state


def _status(record: EvidenceRecord, reviews: list[ReviewRecord], two: bool) -> Status:
    if not reviews:
        return "awaiting review" if record.decision.flagged else "no alert"
    last = reviews[-1].review.decision
    if last == "escalate" or _escalated_to_oneself(reviews):
        return "escalated"
    outcome: Status = "reviewed" if last == "confirm" else "overturned"
    if not two:
        return outcome
    decided = [r for r in reviews if r.review.decision != "escalate"]
    if len(decided) < 2 or _same_person(decided[-2], decided[-1]):
        return "awaiting second review"
    return outcome if decided[-2].review.decision == last else "disagreement"


def _escalated_to_oneself(reviews: list[ReviewRecord]) -> bool:
    """Whether the last decision was made by the person who had escalated the report to others."""
    return len(reviews) > 1 and reviews[-2].review.decision == "escalate" and _same_person(reviews[-2], reviews[-1])


def _same_person(first: ReviewRecord, second: ReviewRecord) -> bool:
    return first.certificate_sha256 == second.certificate_sha256 or first.review.reviewer == second.review.reviewer
