"""One clip → one complete report folder: explain, record, render, sign.

This is the last stage of the flow and the only module that imports all the others. The report
folder is built in a temporary folder beside its destination and renamed into place only when
every file is written (and signed, unless it is a draft).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from auditor.detector import Detector
from auditor.errors import ArchiveError
from auditor.evidence import (
    RECORD_NAME,
    EvidenceRecord,
    ModelIdentity,
    RecordContext,
    SealInfo,
    TrustEvidence,
    build_record,
    masking_record,
    save_arrays,
    write_record,
)
from auditor.explain import DEFAULT_FRAME_IMPORTANCE, frame_importance_for
from auditor.explain.checks import CheckSettings, run_checks
from auditor.explain.key_frames import key_frames
from auditor.files import atomic_directory, check_writable_place
from auditor.profile import DeploymentProfile
from auditor.report.clip import ClipSettings, write_clips
from auditor.report.display import write_explanation_images
from auditor.report.display_trust import write_trust_images
from auditor.report.document import ReportResult, write_report
from auditor.report.shown_frames import ShownFrames
from auditor.scan.sliding import window_length
from auditor.scan.window import check_window as check_window  # importable from here too
from auditor.scan.window import select_window
from auditor.signing.seal import SealSettings, seal_fields, sign_report_folder

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReportOptions:
    """How one clip becomes a report: the deployment it is for, where the explained window
    starts (frame `start`, or the frame shown at `at` seconds when given), the camera or source
    id, the frame-importance methods (those the clip is long enough for), the operator's
    templates, the class to explain (default: the predicted one), and whether to replace a report."""

    profile: DeploymentProfile = field(default_factory=DeploymentProfile)
    start: int = 0
    at: float | None = None
    source_id: str | None = None
    frame_importance: tuple[str, ...] = DEFAULT_FRAME_IMPORTANCE
    templates_dir: Path | None = None
    target_class: str | None = None
    video_sha256: str | None = None  # the hash a batch read earlier: a video that no longer has it is refused
    checks: CheckSettings = field(default_factory=CheckSettings)  # the trust checks that run
    clip: ClipSettings = field(default_factory=ClipSettings)  # the clip's context and width
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
    with atomic_directory(Path(out)) as staging:
        record = stage_report(video, detector, staging, options, SealInfo(**seal_fields(seal.identity)), progress)
        if seal.identity is not None:
            progress("signing")
            sign_report_folder(staging, seal.identity, tsa_url=seal.tsa_url)
    return ReportResult(Path(out), record, signed=seal.identity is not None)


def stage_report(
    video: Path,
    detector: Detector,
    folder: Path,
    options: ReportOptions,
    seal: SealInfo,
    progress: Progress = log.info,
) -> EvidenceRecord:
    """Explain the window `options` names and write every report file into the empty `folder`,
    ready to be signed (by whoever holds the key `seal` describes; unsigned: a draft)."""
    progress(f"reading {Path(video).name}")
    window = select_window(
        video, window_length(detector), options.start, options.at, detector.sidecar.sampling, options.video_sha256
    )
    progress(f"explaining frames {window.frame_indices[0]}–{window.frame_indices[-1]}")
    methods = frame_importance_for(len(window), options.frame_importance)
    explanation = detector.explain(window.frames, target=options.target_class, frame_importance=methods)
    rule = detector.sidecar.decision_rule
    checks = run_checks(detector, window.frames, explanation, rule, options.checks, progress)
    progress("writing images and evidence record")
    shown = ShownFrames.of(window.frames, options.profile.mask_faces)
    drawn = write_explanation_images(explanation, folder, recorded=window.frames, shown=shown.frames)
    found = checks.counterfactuals.found if checks.counterfactuals else ()
    edited = [shown.edited(item.key_frame, item.key_position) for item in found]
    pictures = write_trust_images(checks, explanation.gradcam, shown.frames, edited, drawn.geometry, folder)
    drawn = replace(drawn, images=drawn.images + pictures.artifacts)
    arrays = save_arrays(folder, explanation, checks.arrays())
    progress("writing the clip")
    clip = write_clips(
        video, window, explanation.gradcam, shown, folder,
        key_frames=key_frames(explanation), scale=drawn.scale, settings=options.clip,
    )
    context = RecordContext(profile=options.profile, source_id=options.source_id, seal=seal)
    record = build_record(
        explanation, window, model=ModelIdentity.from_detector(detector), rule=rule, drawn=drawn, arrays=arrays,
        context=context, trust=TrustEvidence(checks, pictures, masking_record(shown.masking)), clip=clip,
    )
    write_record(folder, record)
    progress("rendering HTML and PDF/A")
    write_report(record, folder, templates_dir=options.templates_dir, draft=not seal.signed)
    return record


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
