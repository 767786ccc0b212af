"""One clip → one complete report folder: explain, record, render, sign.

This is the last stage of the flow and the only module that imports all the others. The report
folder is built in a temporary folder beside its destination and renamed into place only when
every file is written (and signed, unless it is a draft).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from auditor.detector import Detector
from auditor.display import write_explanation_images
from auditor.errors import ArchiveError, ModelError, VideoError
from auditor.evidence import (
    RECORD_NAME,
    ModelIdentity,
    RecordContext,
    SealInfo,
    build_record,
    save_arrays,
    write_record,
)
from auditor.explain import DEFAULT_FRAME_IMPORTANCE, frame_importance_for
from auditor.files import atomic_directory, check_writable_place
from auditor.profile import DeploymentProfile
from auditor.report import ReportResult, write_report
from auditor.sidecar import sidecar_path
from auditor.signing import SealSettings, seal_fields, sign_report_folder
from auditor.video import (
    Clip,
    VideoInfo,
    VideoLength,
    decodes_through,
    format_time,
    frame_at,
    probe_video,
    read_video,
    video_length,
)

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def check_window(video: Path, frames: int, start: int = 0, at: float | None = None) -> int:
    """The first frame of the window of `frames` frames from frame `start`, or from the frame shown
    at `at` seconds; VideoError with the video's true length (`video_length`) and the starts that
    work when it does not fit, or, for a video shorter than the window, saying so. It decodes one
    frame (a seek to the window's last), unless the container's frame count is wrong or missing."""
    return _checked_start(probe_video(video), frames, start, at)


def select_window(video: Path, frames: int, start: int = 0, at: float | None = None) -> Clip:
    """The window `check_window` accepts, decoded: only its frames (and the ones before it, skipped)."""
    info = probe_video(video)
    first = _checked_start(info, frames, start, at)
    clip = read_video(info.path, max_frames=frames, start=first)
    if len(clip) < frames:  # the seek found the window's last frame, reading in order did not
        raise VideoError(_window_problem(info, VideoLength(first + len(clip)), frames, first, at))
    return clip


def _checked_start(info: VideoInfo, frames: int, start: int, at: float | None) -> int:
    first = start if at is None else frame_at(info, at)
    if first < 0 or not decodes_through(info, first + frames):
        raise VideoError(_window_problem(info, video_length(info), frames, first, at))
    return first


def _window_problem(info: VideoInfo, length: VideoLength, frames: int, first: int, at: float | None) -> str:
    """Why the window does not fit, with the video's length and the starts that work."""
    has = f"{info.name} has {length} at {info.fps:g} fps ({format_time(length.frames / info.fps)})"
    if length.frames == 1:
        has = f"{info.name} holds a single image, not a video"
    if length.frames < frames:
        return f"{has}: too short for a {frames}-frame model; give a video of at least {frames} frames"
    asked = f"--at {format_time(at)} (frame {first})" if at is not None else f"--start {first}"
    if first < 0:
        where = "is before its first frame"
    elif first >= length.frames:
        where = "is past its end"
    else:
        where = f"leaves {length.frames - first} frames"
    last = length.frames - frames
    choose = (
        f"choose a start frame between 0 and {last} (a time between 0:00 and {format_time(last / info.fps)})"
        if last else "only a start at frame 0 (0:00) fits"
    )
    return f"{has}; {asked} {where} for a {frames}-frame model: {choose}"


@dataclass(frozen=True)
class ReportOptions:
    """How one clip becomes a report: the deployment it is for, where the explained window
    starts (frame `start`, or the frame shown at `at` seconds when given), the camera or source
    id, the frame-importance methods (those the clip is long enough for), the operator's
    templates, and whether to replace a report."""

    profile: DeploymentProfile = field(default_factory=DeploymentProfile)
    start: int = 0
    at: float | None = None
    source_id: str | None = None
    frame_importance: tuple[str, ...] = DEFAULT_FRAME_IMPORTANCE
    templates_dir: Path | None = None
    overwrite: bool = False


def report_video(
    video: Path,
    detector: Detector,
    out: Path,
    options: ReportOptions | None = None,
    seal: SealSettings | None = None,
    progress: Progress = log.info,
) -> ReportResult:
    """Explain the window of `video` that starts at `options.start` and write a report folder to `out`.

    Without a seal identity the report is an unsigned draft, marked so on every page.
    """
    options, seal = options or ReportOptions(), seal or SealSettings()
    check_destination(Path(out), options.overwrite)
    frames = clip_length(detector)
    progress(f"reading {Path(video).name}")
    window = select_window(video, frames, options.start, options.at)
    progress(f"explaining frames {window.frame_indices[0]}–{window.frame_indices[-1]}")
    methods = frame_importance_for(len(window), options.frame_importance)
    explanation = detector.explain(window.frames, frame_importance=methods)
    with atomic_directory(Path(out)) as staging:
        progress("writing images and evidence record")
        drawn = write_explanation_images(explanation, staging, recorded=window.frames)
        arrays = save_arrays(staging, explanation)
        context = RecordContext(
            profile=options.profile, source_id=options.source_id, seal=SealInfo(**seal_fields(seal.identity))
        )
        record = build_record(
            explanation, window, model=ModelIdentity.from_detector(detector), rule=detector.sidecar.decision_rule,
            drawn=drawn, arrays=arrays, context=context,
        )
        write_record(staging, record)
        progress("rendering HTML and PDF/A")
        write_report(record, staging, templates_dir=options.templates_dir, draft=seal.identity is None)
        if seal.identity is not None:
            progress("signing")
            sign_report_folder(staging, seal.identity, tsa_url=seal.tsa_url)
    return ReportResult(Path(out), record, signed=seal.identity is not None)


def clip_length(detector: Detector) -> int:
    """The frames one explained window holds: the model's fixed clip length, else its sidecar's
    `frames_per_clip` (a model of any clip length is never run on a whole video)."""
    frames = detector.frames_per_clip or detector.sidecar.frames_per_clip
    if frames is None:
        raise ModelError(
            f"{detector.model_path.name}: this model takes clips of any length: set frames_per_clip in its "
            f"sidecar {sidecar_path(detector.model_path).name} (the clip length it was trained on)"
        )
    return frames


def check_destination(out: Path, overwrite: bool) -> None:
    """Raise ArchiveError unless a report folder can be written to `out` (before any work is done)."""
    out = Path(out)
    holds_report = (out / RECORD_NAME).exists()
    if holds_report and not overwrite:
        raise ArchiveError(f"{out} already holds a report; choose another output folder or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise ArchiveError(f"{out} exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not holds_report:
        raise ArchiveError(f"{out} is not empty and holds no report; choose an empty or new folder")
    check_writable_place(out)
