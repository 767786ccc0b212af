"""What to report on: the detections `auditor scan` wrote, or the operator's own alert log.

Both are read by `read_requests`. A file of detections is `scan`'s JSON Lines output. An alert log
is a CSV file with a header row, or JSON Lines of objects, with these columns or keys:

    video   the video file (a path relative to the log's own folder, or absolute)   required
    frame   the first frame of the explained window                                  one of frame
    time    or the time it starts: seconds (70.5), M:SS (1:10.5) or H:MM:SS          and time
    class   the class to explain (default: the class the detector predicts)         optional
    source  the camera or source id to record                                        optional

The explained window starts at that frame or time, as `auditor report --start/--at` would take
it. Logs are bounded (16 MiB, 100 000 rows) and every bad row is named by its line number.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from auditor.detections import DETECTION_FORMAT, Detection
from auditor.errors import ArchiveError, first_problem
from auditor.video import parse_time

MAX_LOG_BYTES: Final = 16 << 20
MAX_ROWS: Final = 100_000
COLUMNS: Final = ("video", "frame", "time", "class", "source")


@dataclass(frozen=True)
class ReportRequest:
    """One report to write: a window of a video (by frame or time), optionally the class to explain."""

    video: Path
    start: int | None = None
    at: float | None = None
    class_name: str | None = None
    source_id: str | None = None
    detection: Detection | None = None

    @property
    def where(self) -> str:
        """`frame 120` or `time 1:10.5`, for messages."""
        return f"frame {self.start}" if self.at is None else f"time {self.at:g} s"


def request_for(detection: Detection, base: Path) -> ReportRequest:
    """The report request of one of `scan`'s detections (its best window, its class)."""
    return ReportRequest(
        video=_resolved(detection.video, base), start=detection.first_frame, class_name=detection.class_name,
        source_id=detection.source_id, detection=detection,
    )


def read_requests(path: Path) -> list[ReportRequest]:
    """The report requests of a detections file or an alert log (CSV or JSON Lines)."""
    text = _read_bounded(Path(path))
    base = Path(path).parent
    if Path(path).suffix.lower() == ".csv":
        rows = list(enumerate(csv.DictReader(io.StringIO(text)), start=2))
        _check_header(path, rows)
    else:
        rows = [(number, _json_row(path, number, line)) for number, line in _lines(text)]
    if len(rows) > MAX_ROWS:
        raise ArchiveError(f"{path} holds {len(rows)} rows, more than {MAX_ROWS}; split it into smaller files")
    if not rows:
        raise ArchiveError(f"{path} lists no detection or alert; give a file with at least one row")
    return [_request(path, number, row, base) for number, row in rows]


def _read_bounded(path: Path) -> str:
    if not path.is_file():
        raise ArchiveError(f"detections file {path} does not exist or is not a file; check the path")
    if path.stat().st_size > MAX_LOG_BYTES:
        raise ArchiveError(f"{path} is larger than {MAX_LOG_BYTES >> 20} MiB; split it into smaller files")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


def _lines(text: str) -> list[tuple[int, str]]:
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _json_row(path: Path, number: int, line: str) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"{path} line {number} is not JSON ({exc.msg}); one JSON object per line") from exc
    if not isinstance(row, dict):
        raise ArchiveError(f"{path} line {number} is not a JSON object; one object per line")
    return row


def _check_header(path: Path, rows: list[tuple[int, dict[str | None, object]]]) -> None:
    header = set(rows[0][1]) if rows else set()
    if "video" not in header or not header & {"frame", "time"}:
        raise ArchiveError(
            f"{path}: the CSV header must name a video column and a frame or time column (columns: {', '.join(COLUMNS)})"
        )


def _request(path: Path, number: int, row: dict, base: Path) -> ReportRequest:
    where = f"{path} line {number}"
    if row.get("format") == DETECTION_FORMAT:
        try:
            return request_for(Detection.model_validate(row), base)
        except ValidationError as exc:
            raise ArchiveError(f"{where}: {first_problem(exc, 'detection')}; rewrite it with `auditor scan`") from exc
    unknown = sorted(str(key) for key in row if key not in COLUMNS)
    if unknown:
        raise ArchiveError(f"{where}: unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}")
    video, frame, time = (_text(row.get(key)) for key in ("video", "frame", "time"))
    if not video:
        raise ArchiveError(f"{where}: no video; give the video file of each alert")
    if bool(frame) == bool(time):
        raise ArchiveError(f"{where}: give either a frame or a time where the window starts, not {'both' if frame else 'neither'}")
    return ReportRequest(
        video=_resolved(video, base), start=_frame(where, frame) if frame else None,
        at=_time(where, time) if time else None, class_name=_text(row.get("class")) or None,
        source_id=_text(row.get("source")) or None,
    )


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _frame(where: str, text: str) -> int:
    if not text.isdigit():
        raise ArchiveError(f"{where}: frame {text!r} is not a frame number (0, 1, 2, ...)")
    return int(text)


def _time(where: str, text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ArchiveError(f"{where}: {exc}") from exc


def _resolved(video: str, base: Path) -> Path:
    path = Path(video)
    return path if path.is_absolute() else base / path
