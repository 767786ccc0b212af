"""Record a review: sign it into the report's PDF, write `review-N.json` (+ `.p7s`) beside it, and
register both in the batch ledger when the report folder belongs to a batch.

The report folder must verify first, under the root that issued the reviewer's certificate: a
review is never added to an altered report, or on top of a review that does not verify.

The PDF revision comes first (it is the evidence); the JSON repeats it for scripts and the queue.
A run killed between the two leaves a signed review in the PDF without its JSON: `auditor verify`
names it, and the review itself stands.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from auditor.archive import LEDGER_NAME, Ledger
from auditor.archive.chain import REPORTS_DIR
from auditor.desk.index import refresh_index
from auditor.desk.reviews import VerifiedFolders
from auditor.errors import ReportError
from auditor.evidence import load_record
from auditor.files import atomic_write_text, sha256_file
from auditor.keys import SigningIdentity
from auditor.names import PDF_NAME, RECORD_NAME, review_name
from auditor.review.fill import sign_review
from auditor.review.model import ReviewInput, ReviewRecord
from auditor.signing.seal import sign_detached
from auditor.verify import TrustAnchors, verify_folder


def review_report(
    folder: Path, identity: SigningIdentity, review: ReviewInput, slot: int | None = None, *, tsa_url: str | None = None,
    verified: VerifiedFolders | None = None,
) -> ReviewRecord:
    """Sign `review` into `folder`'s report.pdf as a new revision and record it beside the report.
    `verified`: the caller's verified batch folders (the desk's), so that rewriting a batch's index
    verifies again only the folder that changed, not every report."""
    folder = Path(folder)
    for name in (PDF_NAME, RECORD_NAME):
        if not (folder / name).is_file():
            raise ReportError(f"{folder} holds no {name}: give a report folder (the --out of `auditor report`)")
    anchors = TrustAnchors((identity.root,), f"the root of {identity.subject}")
    _require_valid(folder, anchors)
    record = load_record(folder / RECORD_NAME)
    signed = sign_review(folder / PDF_NAME, identity, review, slot, tsa_url=tsa_url)
    entry = ReviewRecord(
        report_id=record.report.report_id, record_sha256=sha256_file(folder / RECORD_NAME), slot=signed.slot,
        review=review, signer=signed.signer, certificate_sha256=signed.certificate_sha256, signed_at=signed.signed_at,
        pdf_size=signed.pdf_size, pdf_sha256=signed.pdf_sha256,
    )
    path = atomic_write_text(folder / review_name(signed.slot), json.dumps(entry.model_dump(mode="json"), indent=2) + "\n")
    signature = sign_detached(path, identity, tsa_url=tsa_url)
    _register(folder, entry, [PDF_NAME, path.name, signature.name], verified or VerifiedFolders(anchors))
    return entry


def _require_valid(folder: Path, anchors: TrustAnchors) -> None:
    bad = [v for v in verify_folder(folder, anchors) if v.status != "valid"]
    if bad:
        reason = bad[0].reasons[0] if bad[0].reasons else bad[0].status
        raise ReportError(
            f"{Path(bad[0].path).name} in {folder} does not verify ({bad[0].status}: {reason}); "
            "a review is added only to an intact report: check it with `auditor verify`"
        )


def _register(folder: Path, entry: ReviewRecord, files: list[str], verified: VerifiedFolders) -> None:
    """In a batch: a ledger amendment for the review, and the index row's review status."""
    facts: dict[str, object] = {
        "report_id": entry.report_id, "slot": entry.slot, "decision": entry.review.decision,
        "reviewer": entry.review.reviewer, "certificate_sha256": entry.certificate_sha256,
    }
    out = register_amendment(folder, "review", f"{entry.report_id}:{entry.slot}", files, facts)
    if out is not None:
        refresh_index(out, verified, datetime.now(UTC))


def register_amendment(folder: Path, kind: str, name: str, files: list[str], facts: dict[str, object]) -> Path | None:
    """Register `files` (inside the report folder) as a ledger amendment of kind "review" or
    "submission" when the folder is a batch's (OUT/reports/<name> with OUT/ledger.jsonl); the
    batch folder OUT, or None when the report stands alone."""
    out = batch_of(folder)
    if out is None:
        return None
    key = hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()
    Ledger(out).append(kind, key, Path(folder).absolute(), facts, only=files)
    return out


def batch_of(folder: Path) -> Path | None:
    """The batch folder OUT when `folder` is one of its report folders (OUT/reports/<name> with
    OUT/ledger.jsonl), None when the report stands alone."""
    folder = Path(folder).absolute()
    out = folder.parent.parent
    return out if folder.parent.name == REPORTS_DIR and (out / LEDGER_NAME).is_file() else None
