"""What to report on: the detections `auditor scan` wrote, or the operator's own alert log.

Both are read by `read_requests`. A file of detections is `scan`'s JSON Lines output. An alert log
is a CSV file with a header row, or JSON Lines of objects, with these columns or keys:

    video   the video file (a path relative to the log's own folder, or absolute)   required
    frame   the first frame of the explained window                                  one of frame
    time    or the time it starts: seconds (70.5), M:SS (1:10.5) or H:MM:SS          and time
    class   the class to explain (default: the class the detector predicts)         optional
    source  the camera or source id to record                                        optional

The explained window starts at that frame or time, as `auditor report --start/--at` would take
it. Logs are bounded (16 MiB, 100 000 rows). A row that cannot be reported (not UTF-8, not CSV or
JSON, an unknown column, no frame number, a control character or an overlong camera id...) becomes
a `BadRow` named by its line number, and the other rows go on: one run names every bad row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from auditor.errors import ArchiveError, first_problem
from auditor.scan.detections import (
    DETECTION_FORMAT,
    MAX_FRAME,
    MAX_LABEL_CHARS,
    MAX_PATH_CHARS,
    Detection,
    shown,
    text_problem,
)
from auditor.video import parse_time

MAX_LOG_BYTES: Final = 16 << 20
MAX_ROWS: Final = 100_000
COLUMNS: Final = ("video", "frame", "time", "class", "source")
_FRAME = re.compile(r"[0-9]{1,10}")
_RAW_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape decodes it


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


@dataclass(frozen=True)
class BadRow:
    """A row of a log that cannot be reported: where it is (`alerts.csv line 7`) and why."""

    log: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.log.name} line {self.line}: {self.problem}"


class _Refused(ValueError):
    """Why a row cannot be reported (it becomes a `BadRow`)."""


def request_for(detection: Detection, base: Path) -> ReportRequest:
    """The report request of one of `scan`'s detections (its best window, its class)."""
    return ReportRequest(
        video=_resolved(detection.video, base), start=detection.first_frame, class_name=detection.class_name,
        source_id=detection.source_id, detection=detection,
    )


def read_requests(path: Path) -> list[ReportRequest | BadRow]:
    """The report requests of a detections file or an alert log (CSV or JSON Lines), a `BadRow`
    for each row that cannot be one; ArchiveError when the file as a whole cannot be read."""
    path = Path(path)
    text = _read_bounded(path)
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _json_rows(text)
    if len(rows) > MAX_ROWS:
        raise ArchiveError(f"{path} holds more than {MAX_ROWS} rows; split it into smaller files")
    if not rows:
        raise ArchiveError(f"{path} lists no detection or alert; give a file with at least one row")
    return [_entry(path, number, row) for number, row in rows]


def _read_bounded(path: Path) -> str:
    if not path.is_file():
        raise ArchiveError(f"detections file {path} does not exist or is not a file; check the path")
    if path.stat().st_size > MAX_LOG_BYTES:
        raise ArchiveError(f"{path} is larger than {MAX_LOG_BYTES >> 20} MiB; split it into smaller files")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")  # a bad byte fails its row only


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict | str]]:
    """Each CSV row by its line number (the last line of a row whose quoted values span lines)."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise ArchiveError(f"{path}: its header line is not CSV ({exc}); columns: {', '.join(COLUMNS)}") from exc
    if "video" not in header or not set(header) & {"frame", "time"}:
        raise ArchiveError(
            f"{path}: the CSV header must name a video column and a frame or time column (columns: {', '.join(COLUMNS)})"
        )
    rows: list[tuple[int, dict | str]] = []
    while len(rows) <= MAX_ROWS:
        try:
            row: dict | str = next(reader)
            number = reader.line_num
        except StopIteration:
            break
        except csv.Error as exc:  # the csv module skips the row's line (uncounted); the next rows are read
            row, number = f"not a CSV row ({exc})", reader.line_num + 1
        rows.append((number, _undecodable(row) or row))
    return rows


def _json_rows(text: str) -> list[tuple[int, dict | str]]:
    """Each non-blank line's object by its line number, or why it is none."""
    lines = ((number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip())
    return [(number, _json_row(line)) for number, line in lines]


def _json_row(line: str) -> dict | str:
    problem = _undecodable(line)
    if problem is not None:
        return problem
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg}); give one JSON object per line"
    except RecursionError:
        return "nested too deeply to be an alert or a detection"
    except ValueError:
        return "holds a number too long to read"
    return row if isinstance(row, dict) else "not a JSON object; give one object per line"


def _undecodable(row: dict | str) -> str | None:
    """Why a row is not UTF-8 text (its first byte that is not), None when it is."""
    texts = row if isinstance(row, str) else " ".join(value for value in row.values() if isinstance(value, str))
    bad = _RAW_BYTE.search(texts)
    if bad is None:
        return None
    return f"not UTF-8 text (byte 0x{ord(bad.group()) - 0xDC00:02X}); save the log as UTF-8"


def _entry(path: Path, number: int, row: dict | str) -> ReportRequest | BadRow:
    """The request of a row, or the `BadRow` saying why there is none (`row`: the reason already)."""
    if isinstance(row, str):
        return BadRow(path, number, row)
    try:
        return _request(row, path.parent)
    except _Refused as refused:
        return BadRow(path, number, str(refused))


def _request(row: dict, base: Path) -> ReportRequest:
    if row.get("format") == DETECTION_FORMAT:
        try:
            return request_for(Detection.model_validate(row), base)
        except ValidationError as exc:
            raise _Refused(f"{first_problem(exc, 'detection')}; rewrite it with `auditor scan`") from exc
    if None in row:  # csv.DictReader's key for values beyond the header
        raise _Refused("more values than the header has columns")
    unknown = sorted(str(key) for key in row if key not in COLUMNS)
    if unknown:
        raise _Refused(f"unknown column {shown(unknown[0])}; the columns are {', '.join(COLUMNS)}")
    video, frame, time = (_text(row, key) for key in ("video", "frame", "time"))
    if not video:
        raise _Refused("no video; give the video file of each alert")
    _check(video, "video", MAX_PATH_CHARS)
    if bool(frame) == bool(time):
        raise _Refused(f"give either a frame or a time where the window starts, not {'both' if frame else 'neither'}")
    return ReportRequest(
        video=_resolved(video, base), start=_frame(frame) if frame else None, at=_time(time) if time else None,
        class_name=_label(row, "class"), source_id=_label(row, "source"),
    )


def _text(row: dict, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _label(row: dict, key: str) -> str | None:
    """The class or source of a row (None when empty), refused when it cannot name one."""
    text = _text(row, key)
    return _check(text, key) if text else None


def _check(text: str, what: str, limit: int = MAX_LABEL_CHARS) -> str:
    problem = text_problem(text, limit)
    if problem is not None:
        raise _Refused(f"the {what} {shown(text)} {problem}; write it as plain text of at most {limit} characters")
    return text


def _frame(text: str) -> int:
    if not _FRAME.fullmatch(text) or int(text) > MAX_FRAME:
        raise _Refused(f"frame {shown(text, 20)} is not a frame number (0, 1, 2, ... up to {MAX_FRAME})")
    return int(text)


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise _Refused(str(exc)) from exc


def _resolved(video: str, base: Path) -> Path:
    path = Path(video)
    return path if path.is_absolute() else base / path
