"""What a notice may say about a report: read only from a report folder that verifies.

The report folder must verify under the trusted root (as `auditor verify` reads it); its reviews
count only as far as they verify, in the order they were signed (`verify.batch_index`, the rule
the desk and the index follow), so the notice states the review outcome the archive can prove.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import ReportError
from auditor.evidence import EvidenceRecord
from auditor.files import sha256_file
from auditor.names import PDF_NAME, RECORD_NAME
from auditor.review.state import ReviewState
from auditor.verify import TrustAnchors, verify_folder
from auditor.verify.batch_index import reviews_of, state_of


@dataclass(frozen=True)
class NoticeFacts:
    """A verified report's record, the SHA-256 of its evidence.json and where its review stands."""

    record: EvidenceRecord
    record_sha256: str
    review: ReviewState


def read_facts(folder: Path, anchors: TrustAnchors, now: datetime | None = None) -> NoticeFacts:
    """The facts of the report in `folder`; a ReportError when it is no report folder or does not verify."""
    folder = Path(folder)
    if not (folder / RECORD_NAME).is_file() or not (folder / PDF_NAME).is_file():
        raise ReportError(f"{folder} holds no {RECORD_NAME} and {PDF_NAME}; give a report folder (the --out of `auditor report`)")
    found = reviews_of(folder, verify_folder(folder, anchors))
    if found.record is None or not found.report_valid or found.problem:
        raise ReportError(
            f"the report in {folder} does not verify ({found.problem}); a notice is written only for an intact, "
            "sealed report: check it with `auditor verify`"
        )
    state = state_of(found, now or datetime.now(UTC))
    return NoticeFacts(found.record, sha256_file(folder / RECORD_NAME), state)
