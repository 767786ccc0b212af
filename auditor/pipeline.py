"""One clip → one complete report folder: explain, record, render, sign.

This is the last stage of the flow and the only module that imports all the others. The report
folder is built in a temporary folder beside its destination and renamed into place only when
every file is written (and signed, unless it is a draft).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from auditor.detector import Detector
from auditor.display import DISPLAY_PARAMETERS, write_explanation_images
from auditor.errors import ArchiveError, VideoError
from auditor.evidence import (
    RECORD_NAME,
    ModelIdentity,
    SealInfo,
    build_record,
    save_arrays,
    write_record,
)
from auditor.explain import DEFAULT_FRAME_METHODS
from auditor.files import atomic_directory
from auditor.keys import SigningIdentity
from auditor.profile import DeploymentProfile
from auditor.report import write_report
from auditor.report_folder import ReportResult
from auditor.signing import seal_fields, sign_report_folder
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


def report_video(
    video: Path,
    detector: Detector,
    out: Path,
    *,
    profile: DeploymentProfile | None = None,
    identity: SigningIdentity | None = None,
    start: int = 0,
    source_id: str | None = None,
    templates_dir: Path | None = None,
    tsa_url: str | None = None,
    overwrite: bool = False,
    progress: Progress = log.info,
) -> ReportResult:
    """Explain the window of `video` starting at `start` and write a report folder to `out`.

    Without an `identity` the report is an unsigned draft, marked so on every page.
    """
    _check_destination(Path(out), overwrite)
    progress(f"reading {Path(video).name}")
    frames = detector.frames_per_clip
    clip = read_video(video, max_frames=start + frames if frames else None)
    window = select_window(clip, frames or len(clip), start)
    progress(f"explaining frames {window.frame_indices[0]}–{window.frame_indices[-1]}")
    explanation = detector.explain(window.frames, frame_methods=_frame_methods(len(window)))
    explanation = replace(explanation, parameters={**explanation.parameters, **DISPLAY_PARAMETERS})
    with atomic_directory(Path(out)) as staging:
        progress("writing images and evidence record")
        images = write_explanation_images(explanation, staging)
        arrays = save_arrays(staging, explanation)
        record = build_record(
            explanation,
            window,
            model=ModelIdentity.from_detector(detector),
            profile=profile,
            images=images,
            arrays=arrays,
            threshold=detector.sidecar.threshold,
            window=(window.frame_indices.tolist(), window.timestamps.tolist()),
            source_id=source_id,
            seal=SealInfo(**seal_fields(identity)),
        )
        write_record(staging, record)
        progress("rendering HTML and PDF/A")
        write_report(record, staging, templates_dir=templates_dir, draft=identity is None)
        if identity is not None:
            progress("signing")
            sign_report_folder(staging, identity, tsa_url=tsa_url)
    return ReportResult(Path(out), record, signed=identity is not None)


def _frame_methods(frames: int) -> tuple[str, ...]:
    """The default frame-importance methods; occlusion needs a neighbour, so not on a single frame."""
    return tuple(m for m in DEFAULT_FRAME_METHODS if m != "occlusion" or frames > 1)


def _check_destination(out: Path, overwrite: bool) -> None:
    if (out / RECORD_NAME).exists() and not overwrite:
        raise ArchiveError(f"{out} already holds a report; choose another output folder or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise ArchiveError(f"{out} exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not (out / RECORD_NAME).exists():
        raise ArchiveError(f"{out} is not empty and holds no report; choose an empty or new folder")
