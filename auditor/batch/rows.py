"""The index rows a batch writes for its units, and whether a sealed folder is the report a row asks for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditor.archive import IndexRow
from auditor.detections import MAX_PATH_CHARS, Detection, shown, text_problem
from auditor.evidence import EvidenceRecord, InputInfo
from auditor.requests import ReportRequest
from auditor.review.state import review_state
from auditor.video.stream import EPSILON


def safe(text: str) -> str:
    """`text` as the index and messages may show it: itself, or quoted with control characters escaped."""
    return text if text_problem(text, MAX_PATH_CHARS) is None else shown(text)


def failed_row(detection_id: str, source: str, video: str, what: str, reason: str, video_sha256: str = "") -> IndexRow:
    """The row of a unit that failed before its video was scanned or its window known."""
    return IndexRow(
        detection_id=detection_id, source=source, video=video, video_sha256=video_sha256, first_frame=0, last_frame=0,
        start_seconds=0, end_seconds=0, class_name=what, score=0, threshold=0, status="failed", reason=reason,
    )


def other_report(record: EvidenceRecord, request: ReportRequest, video_hash: str, model_hash: str) -> str | None:
    """What in `record` is not the report `request` asks for (its video, model, camera, window or
    class), None when it is that report."""
    facts, decision = record.input, record.decision
    wanted_class = request.class_name or decision.predicted_class
    differences = (
        (facts.sha256 != video_hash, f"video SHA-256 {facts.sha256[:12]}…, not {video_hash[:12]}…"),
        (record.model.sha256 != model_hash, f"model SHA-256 {record.model.sha256[:12]}…, not {model_hash[:12]}…"),
        (facts.source_id != request.source_id, f"source {facts.source_id!r}, not {request.source_id!r}"),
        (not starts_as_asked(facts, request), f"the window from frame {facts.frame_indices[0]}, not from {request.where}"),
        (decision.explained_class != wanted_class, f"class {decision.explained_class!r}, not {wanted_class!r}"),
    )
    return next((text for differs, text in differences if differs), None)


def starts_as_asked(facts: InputInfo, request: ReportRequest) -> bool:
    """Whether a recorded window starts where `request` asks: at its frame, or at the frame shown
    at its time (within one nominal frame interval; or the first frame, when the video starts later)."""
    if request.at is None:
        return facts.frame_indices[0] == (request.start or 0)
    first, interval = facts.timestamps[0], 1 / facts.fps if facts.fps else 0.0
    return first <= request.at + EPSILON < first + interval or (facts.frame_indices[0] == 0 and first > request.at)


def detection_row(detection: Detection) -> IndexRow:
    """A detection's row until its report is written."""
    return IndexRow(
        detection_id=detection.detection_id, source=detection.source_id or Path(detection.video).stem,
        video=Path(detection.video).name, video_sha256=detection.video_sha256,
        first_frame=detection.first_frame, last_frame=detection.last_frame,
        start_seconds=detection.start_seconds, end_seconds=detection.end_seconds,
        class_name=detection.class_name, score=detection.score, threshold=detection.threshold, status="pending",
        note=detection.decoding_stopped,
    )


def request_row(request: ReportRequest) -> IndexRow:
    """An alert-log row's row until its report is written (frames and score are not known yet)."""
    return IndexRow(
        detection_id="", source=request.source_id or request.video.stem, video=request.video.name, video_sha256="",
        first_frame=request.start or 0, last_frame=request.start or 0, start_seconds=request.at or 0.0,
        end_seconds=request.at or 0.0, class_name=request.class_name or "(predicted)", score=0.0, threshold=0.0,
        status="pending",
    )


def record_row(row: IndexRow, record: EvidenceRecord, final: Path, out: Path) -> IndexRow:
    """The row of a written report: what its record states."""
    facts, decision = record.input, record.decision
    return row.model_copy(update={
        "video": facts.file_name, "video_sha256": facts.sha256,
        "first_frame": facts.frame_indices[0], "last_frame": facts.frame_indices[-1],
        "start_seconds": facts.start_seconds, "end_seconds": facts.end_seconds,
        "class_name": decision.predicted_class, "score": decision.predicted_probability,
        "threshold": decision.threshold, "status": "reported", "reason": None, "note": facts.decoding_stopped,
        "review": review_state(record, [], datetime.now(UTC)).describe(),
        "report": final.relative_to(out).as_posix(),
    })
