"""`auditor archive add`: a standalone report folder brought under a batch archive's ledger.

The report must verify first. It is copied into OUT's staging area, moved under `OUT/reports/`
in one rename and registered with its index row, under the batch lock; the caller seals the
ledger (a checkpoint) when it holds the seal. From then on, removing the report or one of its
reviews from OUT shows, as for any report the batch wrote.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from auditor.archive import IndexRow, Ledger, LedgerEntry
from auditor.archive.chain import LEDGER_NAME, LOCK_NAME, REPORTS_DIR, STAGING_DIR
from auditor.batch.folder import locked
from auditor.batch.rows import record_row, safe
from auditor.desk.index import refresh_index
from auditor.desk.reviews import VerifiedFolders
from auditor.errors import ArchiveError
from auditor.evidence import EvidenceRecord, load_record
from auditor.files import sha256_file
from auditor.names import RECORD_NAME
from auditor.verify import TrustAnchors, verify_folder
from auditor.verify.batch_index import reviews_of

MAX_NAME_CHARS = 120


def add_report(report: Path, out: Path, anchors: TrustAnchors) -> LedgerEntry:
    """Copy the report folder `report` under OUT/reports and register it in OUT's ledger."""
    report, out = Path(report), Path(out).absolute()
    if not (out / LEDGER_NAME).is_file():
        raise ArchiveError(f"{out} holds no {LEDGER_NAME}: give the --out folder of a batch")
    verdicts = verify_folder(report, anchors)
    bad = [v for v in verdicts if v.status != "valid"]
    if bad:
        reason = bad[0].reasons[0] if bad[0].reasons else bad[0].status
        raise ArchiveError(f"{Path(bad[0].path).name} in {report} does not verify ({reason}); only an intact report is added")
    record = load_record(report / RECORD_NAME)
    key = hashlib.sha256(f"added:{sha256_file(report / RECORD_NAME)}".encode()).hexdigest()
    _lock_file(out)
    with locked(out):
        final = out / REPORTS_DIR / _folder_name(record, key)
        if os.path.lexists(final):
            raise ArchiveError(f"{final.relative_to(out)} exists already: this report was added before")
        staging = out / STAGING_DIR / final.name
        shutil.copytree(report, staging, symlinks=True)
        os.rename(staging, final)
        row = record_row(_row(record, key), record, final, out, reviews_of(report, verdicts).sealed_at)
        entry = Ledger(out).append("report", key, final, {"row": row.model_dump(mode="json")})
        refresh_index(out, VerifiedFolders(anchors), datetime.now(UTC))
    return entry


def _lock_file(out: Path) -> None:
    """The batch lock file of OUT, made when an archived copy of a batch folder lost it (never through a link)."""
    try:
        os.close(os.open(out / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
    except OSError as exc:
        raise ArchiveError(f"cannot lock {out} ({exc.strerror or exc}); it must be a batch folder you may write to") from exc


def _row(record: EvidenceRecord, key: str) -> IndexRow:
    """The row `record_row` completes: the report's own identity."""
    facts = record.input
    return IndexRow(
        detection_id=key[:16], source=safe(facts.source_id or ""), video=safe(facts.file_name), video_sha256=facts.sha256,
        class_name=record.decision.predicted_class, status="pending",
    )


def _folder_name(record: EvidenceRecord, key: str) -> str:
    """`added_<report id>_<key>`, in the characters a registered path allows."""
    report_id = re.sub(r"[^A-Za-z0-9._-]+", "-", record.report.report_id)[:MAX_NAME_CHARS]
    return f"added_{report_id}_{key[:8]}"
