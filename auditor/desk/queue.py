"""The review queue of a batch folder: every report with where it stands in its human review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor.archive import IndexRow, read_index, write_index
from auditor.archive.chain import read_chain
from auditor.errors import ArchiveError
from auditor.evidence import load_record
from auditor.report_folder import RECORD_NAME
from auditor.review.state import STATUSES, ReviewState, read_reviews, review_state


@dataclass(frozen=True)
class QueueItem:
    """One report of the queue."""

    folder: Path
    report_id: str
    predicted_class: str
    flagged: bool
    state: ReviewState


def review_queue(out: Path, now: datetime) -> list[QueueItem]:
    """Every report the batch ledger of `out` registers, with its review state, most urgent first."""
    chain = read_chain(Path(out))
    if chain.problem:
        raise ArchiveError(f"{out}: {chain.problem}; run `auditor verify {out}`")
    items = [_item(Path(out) / entry.path, now) for entry in chain.entries if entry.kind == "report"]
    order = {status: rank for rank, status in enumerate(STATUSES)}
    return sorted(items, key=lambda i: (order[i.state.status], i.state.due or now, i.folder.name))


def _item(folder: Path, now: datetime) -> QueueItem:
    record = load_record(folder / RECORD_NAME)
    return QueueItem(folder, record.report.report_id, record.decision.predicted_class, record.decision.flagged,
                     review_state(record, read_reviews(folder), now))


def status_counts(items: list[QueueItem]) -> dict[str, int]:
    """How many reports are in each status (every status listed, zeros included)."""
    return {status: sum(item.state.status == status for item in items) for status in STATUSES}


def refresh_index(out: Path, now: datetime | None = None, items: list[QueueItem] | None = None) -> list[IndexRow]:
    """Rewrite OUT's index with each reported row's current review status (from `items` when the
    caller has the queue already, else read from each report folder)."""
    out, now = Path(out), now or datetime.now(UTC)
    known = {item.folder.absolute(): item.state for item in items or []}
    rows = [_with_review(out, row, now, known) for row in read_index(out)]
    write_index(out, rows)
    return rows


def _with_review(out: Path, row: IndexRow, now: datetime, known: dict[Path, ReviewState]) -> IndexRow:
    if row.report is None or not (out / row.report / RECORD_NAME).is_file():
        return row
    folder = out / row.report
    state = known.get(folder.absolute()) or review_state(load_record(folder / RECORD_NAME), read_reviews(folder), now)
    return row.model_copy(update={"review": state.describe()})
