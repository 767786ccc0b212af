"""The index rows a batch writes for its units, the report folder each gets, and whether a request
can be reported here or a sealed folder is the report a row asks for."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from auditor.archive import IndexRow
from auditor.evidence import EvidenceRecord, InputInfo
from auditor.report.record_words import decoding_text
from auditor.review.state import review_state
from auditor.scan.detections import MAX_PATH_CHARS, Detection, shown, text_problem
from auditor.scan.requests import ReportRequest
from auditor.video.stream import EPSILON

NAME_PART_CHARS: Final = 64  # of each part of a report folder's name (camera, time, class)


def safe(text: str) -> str:
    """`text` as the index and messages may show it: itself, or quoted with control characters escaped."""
    return text if text_problem(text, MAX_PATH_CHARS) is None else shown(text)


def failed_row(detection_id: str, source: str, video: str, reason: str, video_sha256: str = "") -> IndexRow:
    """The row of a unit that failed before its video was scanned or a window found in it: no
    frame, time, class or score, since nobody gave or found any."""
    return IndexRow(
        detection_id=detection_id, source=source, video=video, video_sha256=video_sha256, class_name="",
        status="failed", reason=reason,
    )


def folder_name(key: str, request: ReportRequest, source: str) -> str:
    """`<source>_<time>_<class>_<key>` (the video's name when no source id is stated), each part of
    at most NAME_PART_CHARS characters."""
    if request.detection is not None:
        minutes, seconds = divmod(request.detection.start_seconds, 60)
        when = f"{int(minutes)}m{seconds:04.1f}s"
    else:
        when = request.where
    parts = (source or request.video.stem, when, request.class_name or "", key[:8])
    return "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", part)[:NAME_PART_CHARS] for part in parts if part).strip("-._")


def not_reportable(request: ReportRequest, video_hash: str, model_hash: str) -> str | None:
    """Why a detection from a file of detections cannot be reported with the model `model_hash`:
    another model found it, or its video changed since (None when it can, and for alert-log rows)."""
    found = request.detection
    if found is not None and found.model_sha256 != model_hash:
        return (
            f"the detection was found by {found.model_name} (model SHA-256 {found.model_sha256[:12]}…), not by this "
            f"model ({model_hash[:12]}…); scan the video with this model, or report with the model that found it"
        )
    if found is not None and found.video_sha256 != video_hash:
        return (
            f"video {request.video.name} changed since it was scanned (its SHA-256 is now {video_hash[:12]}…, "
            f"the scan read {found.video_sha256[:12]}…); scan it again"
        )
    return None


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


def detection_row(detection: Detection, source: str) -> IndexRow:
    """A detection's row until its report is written (`source`: the source id its report will state)."""
    return IndexRow(
        detection_id=detection.detection_id, source=source, video=Path(detection.video).name,
        video_sha256=detection.video_sha256, first_frame=detection.first_frame, last_frame=detection.last_frame,
        start_seconds=detection.start_seconds, end_seconds=detection.end_seconds,
        class_name=detection.class_name, score=detection.score, threshold=detection.threshold, status="pending",
        note=detection.decoding_stopped,
    )


def request_row(request: ReportRequest, source: str) -> IndexRow:
    """An alert-log row's row until its report is written: what the row gave (its frame or its time,
    its class if any, `source`: the source id its report will state); no score until a model gives one."""
    return IndexRow(
        detection_id="", source=source, video=request.video.name, video_sha256="", first_frame=request.start,
        start_seconds=request.at, class_name=request.class_name or "", status="pending",
    )


def record_row(row: IndexRow, record: EvidenceRecord, final: Path, out: Path, sealed_at: datetime | None) -> IndexRow:
    """The row of a written report: what its record states; its review is due from `sealed_at`,
    when its seal was signed."""
    facts, decision = record.input, record.decision
    return row.model_copy(update={
        "source": safe(facts.source_id or ""), "video": facts.file_name, "video_sha256": facts.sha256,
        "first_frame": facts.frame_indices[0], "last_frame": facts.frame_indices[-1],
        "start_seconds": facts.start_seconds, "end_seconds": facts.end_seconds,
        "class_name": decision.predicted_class, "score": decision.predicted_probability,
        "threshold": decision.threshold, "status": "reported", "reason": None, "note": decoding_text(facts) or None,
        "review": review_state(record, [], datetime.now(UTC), sealed_at).describe(),
        "report": final.relative_to(out).as_posix(),
    })
