"""The batch index as evidence: `index.csv` rebuilt from the ledger and the reviews that verify,
and compared with the file; `index.html` must show the rows of `index.csv`.

A "reported" row is evidence: the ledger registers each report with its row, and the review
column follows from the report's verified reviews (`desk.index` writes it the same way, from
`expected_row`). A row in the index that the ledger does not register is fake, a registered
report without its row is missing, any other difference is a change. Rows "failed" and
"pending" are the operator's record of the last run: no key registers them, so they are counted
in a note, and refused only where they claim a registered report.

The review column is a snapshot: a report "awaiting review" when the index was written may be
"overdue" now; these two count as the same status. A report that does not verify has no review
status to compare: its own verdicts say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor.archive.index import (
    INDEX_CSV,
    INDEX_HTML,
    MAX_INDEX_BYTES,
    IndexRow,
    index_html,
    language_of,
    ordered_rows,
    read_index,
)
from auditor.errors import ArchiveError, AuditorError
from auditor.evidence import EvidenceRecord, load_record
from auditor.files import sha256_file
from auditor.i18n import SOURCE_LANGUAGE
from auditor.names import PDF_NAME, RECORD_NAME, REVIEW_FILE
from auditor.review.model import ReviewRecord
from auditor.review.state import STATUSES, UNVERIFIED, ReviewState, Status, review_due, review_state
from auditor.verify.status import FileVerdict, Findings

MAX_NAMED_ROWS = 20
_SAME = {"overdue": "awaiting review"}  # statuses that differ only by when they are read


@dataclass(frozen=True)
class FolderReviews:
    """What a report folder's verification says of its record and reviews."""

    record: EvidenceRecord | None  # None when the folder has no readable record
    reviews: tuple[ReviewRecord, ...]  # verified, in the order they were signed
    problem: str | None  # why the report or a review file does not verify, if so
    report_valid: bool  # the report itself (PDF, record, manifest) verifies; its reviews may not
    sealed_at: datetime | None = None  # when the seal was signed, as verify reads it (None: no seal read)


def reviews_of(folder: Path, verdicts: list[FileVerdict]) -> FolderReviews:
    """The verified reviews of the report in `folder`, from its verdicts (`verify_folder`)."""
    folder = Path(folder)
    if not (folder / RECORD_NAME).is_file() or not (folder / PDF_NAME).is_file():
        return FolderReviews(None, (), f"{folder.name}: the report folder or its files are missing", False)
    try:
        record = load_record(folder / RECORD_NAME)
    except (AuditorError, OSError) as exc:
        return FolderReviews(None, (), f"{folder.name}: {exc}", False)
    pdf = next(v for v in verdicts if Path(v.path).name == PDF_NAME)
    sealed_at = sealed_time(pdf)
    broken = [v for v in verdicts if v.status != "valid"]
    report_broken = [v for v in broken if not REVIEW_FILE.match(Path(v.path).name.removesuffix(".p7s"))]
    if report_broken:
        return FolderReviews(record, (), _problem("report invalid", report_broken), False, sealed_at)
    reviews = tuple(review_records(record, sha256_file(folder / RECORD_NAME), pdf))
    return FolderReviews(record, reviews, _problem("review file invalid", broken) if broken else None, True, sealed_at)


def sealed_time(pdf: FileVerdict) -> datetime | None:
    """When the seal (the PDF's first signature) was signed, as verify reads it: the time a trusted
    timestamp proves, else the time the signer states (what `verify.review` checks reviews against)."""
    if not pdf.signatures:
        return None
    seal = pdf.signatures[0]
    return seal.proven_at or seal.signed_at


def state_of(found: FolderReviews, now: datetime) -> ReviewState:
    """Where the report stands in its review, from what verifies of it; its review is due the
    profile's deadline after its seal was signed."""
    record = found.record
    if record is None or not found.report_valid or found.problem:
        status: Status = "review file invalid" if found.report_valid else "report invalid"
        due = review_due(record, found.sealed_at) if record is not None else None
        return ReviewState(status, (), due, bool(record and record.deployment.second_verifier_required))
    return review_state(record, list(found.reviews), now, found.sealed_at)


def _problem(what: str, verdicts: list[FileVerdict]) -> str:
    first = verdicts[0]
    reason = first.reasons[0] if first.reasons else first.status
    return f"{what}: {Path(first.path).name}: {reason}"


def review_records(record: EvidenceRecord, record_sha256: str, pdf: FileVerdict) -> list[ReviewRecord]:
    """The valid reviews a verified PDF holds, in the order they were signed into it."""
    if pdf.status != "valid":
        return []
    return [
        ReviewRecord(
            report_id=record.report.report_id, record_sha256=record_sha256, slot=r.slot, review=r.review,
            signer=r.signer, certificate_sha256=r.certificate_sha256, signed_at=r.signed_at or record.report.created_at,
            pdf_size=r.revision_size, pdf_sha256=r.revision_sha256,
        )
        for r in pdf.reviews if r.review is not None
    ]


def describe(state: ReviewState, problem: str | None) -> str:
    """An index row's review column: the status, or why it cannot be told."""
    return f"{state.status}: {problem}" if problem else state.describe()


def status_of(review: str | None) -> str | None:
    """The review status a review column starts with (None when it names none)."""
    found = next((s for s in sorted(STATUSES, key=len, reverse=True) if (review or "").startswith(s)), None)
    return _SAME.get(found, found) if found else None


def check_index(out: Path, expected: dict[str, IndexRow], now: datetime) -> Findings:
    """Compare OUT's index with `expected` (the rebuilt row of each registered report, by path)."""
    findings = Findings()
    try:
        rows = read_index(out)
    except ArchiveError as exc:
        findings.invalid.append(f"{INDEX_CSV}: {exc}")
        return findings
    problems = _row_problems(rows, expected)
    findings.invalid += problems[:MAX_NAMED_ROWS]
    if len(problems) > MAX_NAMED_ROWS:
        findings.invalid.append(f"… and {len(problems) - MAX_NAMED_ROWS} more rows that differ")
    if not _html_matches(Path(out) / INDEX_HTML, rows):
        findings.invalid.append(f"{INDEX_HTML} does not show the rows of {INDEX_CSV} (altered, or written apart from it)")
    others = sum(row.status != "reported" for row in rows)
    findings.notes.append(
        f"{len(expected)} reported rows rebuilt from the ledger and the verified reviews on {now:%Y-%m-%d %H:%M} UTC"
        + (f"; {others} failed or pending rows are the last run's record, not sealed" if others else "")
    )
    return findings


def _row_problems(rows: list[IndexRow], expected: dict[str, IndexRow]) -> list[str]:
    problems: list[str] = []
    listed: dict[str, IndexRow] = {}
    claimed = {row.detection_id: path for path, row in expected.items()}
    for row in rows:
        if row.status != "reported":
            if row.detection_id in claimed:
                problems.append(f"{INDEX_CSV}: row {row.detection_id} says {row.status}; the ledger registers its report {claimed[row.detection_id]}")
            continue
        if row.report in listed or row.report is None:
            problems.append(f"{INDEX_CSV}: fake row {row.detection_id}: it lists {row.report} again")
        elif row.report not in expected:
            problems.append(f"{INDEX_CSV}: fake row {row.detection_id}: the ledger registers no report {row.report}")
        else:
            listed[row.report] = row
    for path in sorted(expected.keys() - listed.keys()):
        problems.append(f"{INDEX_CSV}: the row of {path} is missing (the ledger registers it)")
    for path in sorted(listed.keys() & expected.keys()):
        problems += _changes(path, listed[path], expected[path])
    return problems


def _changes(path: str, row: IndexRow, wanted: IndexRow) -> list[str]:
    fields = [name for name in IndexRow.model_fields if name != "review" and getattr(row, name) != getattr(wanted, name)]
    problems = [f"{INDEX_CSV}: the row of {path} was changed ({', '.join(fields)})"] if fields else []
    if status_of(wanted.review) not in UNVERIFIED and status_of(row.review) != status_of(wanted.review):
        problems.append(
            f"{INDEX_CSV}: the row of {path} says {row.review!r}; its verified reviews say {wanted.review!r}"
        )
    return problems


def _html_matches(path: Path, rows: list[IndexRow]) -> bool:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INDEX_BYTES + 1)
    except OSError:
        return False
    try:
        return data == index_html(ordered_rows(rows), language_of(data) or SOURCE_LANGUAGE).encode("utf-8")
    except ArchiveError:
        return False
