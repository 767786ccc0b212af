"""A report's reviews as far as they verify: the one place that decides which reviews count and in
which order (the order their revisions were signed into the PDF, which no later revision can
change). The queue, the batch index and `auditor render` all read reviews through it; an unsigned,
copied or damaged `review-N.json` never counts, and a damaged report folder is reported, not fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import AuditorError
from auditor.evidence import EvidenceRecord, load_record
from auditor.files import sha256_file
from auditor.report_folder import PDF_NAME, RECORD_NAME, REVIEW_FILE, SUBMISSIONS_DIR
from auditor.review.model import ReviewRecord
from auditor.verify import FileVerdict, TrustAnchors, verify_folder


@dataclass(frozen=True)
class FolderReviews:
    """What a report folder's verification says of its record and reviews."""

    record: EvidenceRecord | None  # None when the folder has no readable record
    reviews: tuple[ReviewRecord, ...]  # verified, in the order they were signed
    problem: str | None  # why the report or a review file does not verify, if so
    report_valid: bool  # the report itself (PDF, record, manifest) verifies; its reviews may not


def folder_reviews(folder: Path, anchors: TrustAnchors) -> FolderReviews:
    """The verified reviews of the report in `folder`, or why there are none to trust."""
    folder = Path(folder)
    if not (folder / RECORD_NAME).is_file() or not (folder / PDF_NAME).is_file():
        return FolderReviews(None, (), f"{folder.name}: the report folder or its files are missing", False)
    try:
        record = load_record(folder / RECORD_NAME)
        verdicts = verify_folder(folder, anchors)
    except (AuditorError, OSError) as exc:
        return FolderReviews(None, (), f"{folder.name}: {exc}", False)
    pdf = next(v for v in verdicts if Path(v.path).name == PDF_NAME)
    broken = [v for v in verdicts if v.status != "valid"]
    report_broken = [v for v in broken if not REVIEW_FILE.match(Path(v.path).name.removesuffix(".p7s"))]
    if report_broken:
        return FolderReviews(record, (), _problem("report invalid", report_broken), False)
    reviews = tuple(review_records(record, sha256_file(folder / RECORD_NAME), pdf))
    return FolderReviews(record, reviews, _problem("review file invalid", broken) if broken else None, True)


class VerifiedFolders:
    """`folder_reviews` of many report folders under one set of trust anchors, each folder verified
    again only when one of its files changed (name, size or modification time): a batch rewrites
    its index after every report without verifying the whole archive each time, and still sees a
    review signed meanwhile."""

    def __init__(self, anchors: TrustAnchors) -> None:
        self.anchors = anchors
        self._found: dict[Path, tuple[tuple[tuple[str, int, int], ...], FolderReviews]] = {}

    def get(self, folder: Path) -> FolderReviews:
        """What verifies of the report in `folder`, now."""
        key, stamp = Path(folder).absolute(), _stamp(Path(folder))
        cached = self._found.get(key)
        if cached is None or cached[0] != stamp:
            cached = (stamp, folder_reviews(folder, self.anchors))
            self._found[key] = cached
        return cached[1]


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of each entry of the folder and of its submissions."""
    entries = []
    for place in (folder, folder / SUBMISSIONS_DIR):
        try:
            with os.scandir(place) as listing:
                for entry in listing:
                    stat = entry.stat(follow_symlinks=False)
                    entries.append((f"{place.name}/{entry.name}", stat.st_size, stat.st_mtime_ns))
        except OSError:
            entries.append((f"{place.name}/", -1, -1))
    return tuple(sorted(entries))


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


def _problem(what: str, verdicts: list[FileVerdict]) -> str:
    first = verdicts[0]
    reason = first.reasons[0] if first.reasons else first.status
    return f"{what}: {Path(first.path).name}: {reason}"
