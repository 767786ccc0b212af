"""What a batch is given: video files, folders of recordings (one sub-folder per camera, say), and
alert logs or `scan` detection files; and the keys that say whether a unit of work is done.

A unit's key is the SHA-256 of everything its result depends on: the input's hash, the model's
hash (model file, sidecar, class names, layer) and the settings. The same command run again
finds the same keys in the ledger and skips that work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from auditor.detector.sidecar import sidecar_path
from auditor.errors import ArchiveError
from auditor.files import sha256_file
from auditor.scan.detections import MAX_LABEL_CHARS, MAX_PATH_CHARS, shown, text_problem
from auditor.scan.requests import BadRow, ReportRequest, read_requests

VIDEO_SUFFIXES: Final = frozenset(
    {".avi", ".mp4", ".m4v", ".mkv", ".mov", ".mpg", ".mpeg", ".ts", ".mts", ".webm", ".wmv", ".flv", ".3gp"}
)
LOG_SUFFIXES: Final = frozenset({".csv", ".jsonl", ".ndjson", ".json"})
MAX_VIDEOS: Final = 100_000


@dataclass(frozen=True)
class VideoInput:
    """One video to scan, with the camera or source id its folder gives it, or why it cannot be
    scanned (a name that cannot go into a record, an index or a folder name)."""

    path: Path
    source_id: str | None
    problem: str | None = None


@dataclass
class BatchInputs:
    """Videos to scan and report requests to fulfil directly (from alert logs or detection files)."""

    videos: list[VideoInput] = field(default_factory=list)
    requests: list[ReportRequest | BadRow] = field(default_factory=list)


def collect_inputs(paths: list[Path]) -> BatchInputs:
    """Sort `paths` into videos (files, or every video under a folder) and report requests (logs)."""
    inputs = BatchInputs()
    for path in map(Path, paths):
        if path.is_dir():
            inputs.videos.extend(_videos_under(path))
        elif path.suffix.lower() in LOG_SUFFIXES:
            inputs.requests.extend(read_requests(path))
        elif path.is_file():
            inputs.videos.append(video_input(path, None))
        elif path.exists():
            raise ArchiveError(f"input {path} is not a regular file (a pipe, device or socket); give video files, folders or logs")
        else:
            raise ArchiveError(f"input {path} does not exist; give video files, folders of videos or alert logs")
    if not inputs.videos and not inputs.requests:
        raise ArchiveError(f"no video or alert found in {', '.join(map(str, paths))}; give video files, folders or logs")
    if len(inputs.videos) > MAX_VIDEOS:
        raise ArchiveError(f"{len(inputs.videos)} videos in one batch, more than {MAX_VIDEOS}; split the batch")
    return inputs


def _videos_under(folder: Path) -> list[VideoInput]:
    """Every video below `folder` (links not followed); the source id is its sub-folder, if any."""
    videos = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file() and not path.is_symlink():
            parent = path.parent.relative_to(folder)
            videos.append(video_input(path, parent.as_posix() if parent.parts else None))
    return videos


def video_input(path: Path, source_id: str | None) -> VideoInput:
    """The video `path` of camera `source_id`, refused when its file or folder name cannot go into
    a record, the index or a report folder's name."""
    names = [("file name", path.name, MAX_PATH_CHARS)] + ([("folder", source_id, MAX_LABEL_CHARS)] if source_id else [])
    for what, text, limit in names:
        problem = text_problem(text, limit)
        if problem is not None:
            return VideoInput(path, None, f"its {what} {shown(text)} {problem}; rename it")
    return VideoInput(path, source_id)


def model_key(model_sha256: str, model_path: Path, class_names: tuple[str, ...] | None, layer: str | None) -> str:
    """The hash of everything about the model that changes a result (`model_sha256`: its file's)."""
    sidecar = sidecar_path(model_path)
    return unit_key(
        model=model_sha256,
        sidecar=sha256_file(sidecar) if sidecar.is_file() else None,
        class_names=list(class_names) if class_names else None,
        layer=layer,
    )


def folder_key(folder: Path | None) -> str | None:
    """The hash of a templates folder's files (names and contents), None without one."""
    if folder is None:
        return None
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return unit_key(**{p.relative_to(folder).as_posix(): sha256_file(p) for p in files})


def unit_key(**facts: object) -> str:
    """SHA-256 of `facts` as canonical JSON."""
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
