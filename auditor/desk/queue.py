"""The review queue of a batch folder: every report the ledger registers, with where it stands in
its human review, most urgent first. Every report is verified before its reviews count; a
damaged, missing or altered report folder is listed as such and the others go on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor.archive.chain import read_chain
from auditor.desk.reviews import FolderReviews, VerifiedFolders
from auditor.errors import ArchiveError
from auditor.evidence import EvidenceRecord
from auditor.review.state import STATUSES, ReviewState
from auditor.verify.batch_index import state_of


@dataclass(frozen=True)
class QueueItem:
    """One report of the queue."""

    folder: Path
    report_id: str
    predicted_class: str
    score: float
    created_at: datetime | None
    flagged: bool
    state: ReviewState
    problem: str | None  # why the report or a review file does not verify
    record: EvidenceRecord | None = None  # the verified record (None when it cannot be read)


def review_queue(out: Path, verified: VerifiedFolders, now: datetime) -> list[QueueItem]:
    """Every report the batch ledger of `out` registers, with its review state, most urgent first."""
    chain = read_chain(Path(out))
    if chain.problem:
        raise ArchiveError(f"{out}: {chain.problem}; run `auditor verify {out}`")
    folders = dict.fromkeys(Path(out) / entry.path for entry in chain.entries if entry.kind == "report")
    items = [queue_item(folder, verified.get(folder), now) for folder in folders]
    order = {status: rank for rank, status in enumerate(STATUSES)}
    return sorted(items, key=lambda i: (order[i.state.status], i.state.due or now, i.folder.name))


def queue_item(folder: Path, found: FolderReviews, now: datetime) -> QueueItem:
    """One report folder as the queue shows it, from what verifies of it (`folder_reviews`)."""
    record = found.record
    state = state_of(found, now)
    return QueueItem(
        folder=folder,
        report_id=record.report.report_id if record else "",
        predicted_class=record.decision.predicted_class if record else "",
        score=record.decision.predicted_probability if record else 0.0,
        created_at=record.report.created_at if record else None,
        flagged=bool(record and record.decision.flagged),
        state=state,
        problem=found.problem,
        record=record,
    )


def status_counts(items: list[QueueItem]) -> dict[str, int]:
    """How many reports are in each status (every status listed, zeros included)."""
    return {status: sum(item.state.status == status for item in items) for status in STATUSES}
