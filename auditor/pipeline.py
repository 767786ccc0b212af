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
from auditor.errors import ArchiveError, VideoError
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
from auditor.files import atomic_directory
from auditor.profile import DeploymentProfile
from auditor.report import ReportResult, write_report
from auditor.signing import SealSettings, seal_fields, sign_report_folder
from auditor.video import Clip, read_video

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def select_window(clip: Clip, frames: int, start: int = 0) -> Clip:
    """The `frames` consecutive frames of `clip` from frame `start` (the model's input window)."""
    if start < 0 or start + frames > len(clip):
        raise VideoError(
            f"{clip.source_name} has {len(clip)} frames; the model needs {frames} from frame {start}: "
            f"choose a start between 0 and {max(len(clip) - frames, 0)}"
        )
    window = slice(start, start + frames)
    return Clip(
        frames=clip.frames[window],
        frame_indices=clip.frame_indices[window],
        timestamps=clip.timestamps[window],
        fps=clip.fps,
        source_name=clip.source_name,
        source_sha256=clip.source_sha256,
    )


@dataclass(frozen=True)
class ReportOptions:
    """How one clip becomes a report: the deployment it is for, where the explained window
    starts, the camera or source id, the frame-importance methods (those the clip is long enough
    for), the operator's templates, and whether to replace a report."""

    profile: DeploymentProfile = field(default_factory=DeploymentProfile)
    start: int = 0
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
    _check_destination(Path(out), options.overwrite)
    progress(f"reading {Path(video).name}")
    frames = detector.frames_per_clip
    clip = read_video(video, max_frames=options.start + frames if frames else None)
    window = select_window(clip, frames or len(clip), options.start)
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


def _check_destination(out: Path, overwrite: bool) -> None:
    if (out / RECORD_NAME).exists() and not overwrite:
        raise ArchiveError(f"{out} already holds a report; choose another output folder or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise ArchiveError(f"{out} exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not (out / RECORD_NAME).exists():
        raise ArchiveError(f"{out} is not empty and holds no report; choose an empty or new folder")
