"""Where a report stands in its human review: awaiting, overdue, reviewed, overturned, escalated.

The rules (GDPR Art. 22(3), WP251rev.01, AI Act Art. 14):
- A report that raised no alert needs no review ("no alert"), unless someone reviewed it anyway.
- Without a review, a flagged report is "awaiting review", and "overdue" once the profile's
  `review_deadline_hours` have passed since it was created.
- The last review decides. "escalate" hands the decision on: the report is "escalated" until a
  later review confirms or overturns it.
- Where the deployment profile requires a second verifier, a confirmation or an overturn counts
  only when two reviews by distinct reviewers (distinct certificates) agree on it; one review is
  "awaiting second review", two that disagree are a "disagreement" (escalate it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal

from pydantic import ValidationError

from auditor.evidence import EvidenceRecord
from auditor.report_folder import REVIEW_FILE
from auditor.review.model import ReviewRecord

Status = Literal[
    "no alert", "awaiting review", "overdue", "awaiting second review", "reviewed", "overturned", "escalated",
    "disagreement",
]
STATUSES: Final[tuple[str, ...]] = (
    "awaiting review", "overdue", "awaiting second review", "disagreement", "escalated", "reviewed", "overturned",
    "no alert",
)
MAX_REVIEW_BYTES: Final = 256 * 1024


@dataclass(frozen=True)
class ReviewState:
    """A report's review status, the reviews it rests on, and when its review is (or was) due."""

    status: Status
    reviews: tuple[ReviewRecord, ...]
    due: datetime | None  # created + the profile's deadline; None when no deadline is set
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


def review_state(record: EvidenceRecord, reviews: list[ReviewRecord], now: datetime) -> ReviewState:
    """The state of the report `record` describes, given its reviews in slot order and the time now."""
    deadline = record.deployment.review_deadline_hours
    due = record.report.created_at + timedelta(hours=deadline) if deadline else None
    two = bool(record.deployment.second_verifier_required)
    state = ReviewState(_status(record, reviews, two), tuple(reviews), due, two)
    if state.status == "awaiting review" and due is not None and now > due:
        return ReviewState("overdue", state.reviews, due, two)
    return state


def _status(record: EvidenceRecord, reviews: list[ReviewRecord], two: bool) -> Status:
    if not reviews:
        return "awaiting review" if record.decision.flagged else "no alert"
    last = reviews[-1].review.decision
    if last == "escalate":
        return "escalated"
    outcome: Status = "reviewed" if last == "confirm" else "overturned"
    if not two:
        return outcome
    decided = [r for r in reviews if r.review.decision != "escalate"]
    if len(decided) < 2 or decided[-2].certificate_sha256 == decided[-1].certificate_sha256:
        return "awaiting second review"
    return outcome if decided[-2].review.decision == last else "disagreement"


def read_reviews(folder: Path) -> list[ReviewRecord]:
    """The `review-N.json` records beside a report, by slot (shape checked; `auditor verify` checks
    their signatures and that they match the PDF)."""
    found: list[ReviewRecord] = []
    for path in sorted(Path(folder).iterdir()):
        if not REVIEW_FILE.match(path.name) or not path.is_file() or path.stat().st_size > MAX_REVIEW_BYTES:
            continue
        try:
            found.append(ReviewRecord.model_validate_json(path.read_bytes()))
        except ValidationError:
            continue
    return sorted(found, key=lambda r: r.slot)
