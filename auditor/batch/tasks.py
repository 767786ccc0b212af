"""The work a batch hands to its workers (this process, local processes or Dask workers).

Each worker process loads the model once (`detector_for` keeps it) and returns plain records.
Workers never sign and never touch the ledger: a report task writes an unsigned, complete report
folder into the batch's staging area and returns it; the coordinating process signs it, moves it
into place and registers it.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from auditor.batch.failures import PassingFailure, disk_full, in_row_terms
from auditor.detector import Detector, load_detector
from auditor.errors import AuditorError, VideoError
from auditor.evidence import EvidenceRecord, SealInfo
from auditor.pipeline import ReportOptions, stage_report
from auditor.scan.requests import ReportRequest
from auditor.scan.sliding import ScanResult, ScanSettings, scan_video


@dataclass(frozen=True)
class DetectorSpec:
    """How to load the detector: the model file, class names overriding the sidecar, Grad-CAM layer."""

    model_path: str
    class_names: tuple[str, ...] | None = None
    layer: str | None = None


@functools.cache
def detector_for(spec: DetectorSpec) -> Detector:
    """The detector of `spec`, loaded once per process."""
    names = list(spec.class_names) if spec.class_names else None
    return load_detector(Path(spec.model_path), class_names=names, layer=spec.layer)


@dataclass(frozen=True)
class ScanTask:
    """Scan one video."""

    spec: DetectorSpec
    video: str
    video_sha256: str
    source_id: str | None
    settings: ScanSettings


def run_scan(task: ScanTask) -> ScanResult:
    """The detections of one video."""
    return scan_video(
        Path(task.video), detector_for(task.spec), task.settings, source_id=task.source_id, video_sha256=task.video_sha256
    )


@dataclass(frozen=True)
class ReportTask:
    """Write one report, unsigned, into a new folder under `staging_root`."""

    spec: DetectorSpec
    key: str
    request: ReportRequest
    video_sha256: str  # as the coordinator read it (the scan's): a video that no longer has it is refused
    options: ReportOptions
    seal: SealInfo
    staging_root: str


@dataclass(frozen=True)
class StagedReport:
    """A complete, unsigned report folder waiting for the coordinator's seal."""

    key: str
    folder: str
    record: EvidenceRecord


def run_report(task: ReportTask) -> StagedReport:
    """Explain the requested window and write its report folder into the staging area."""
    request = task.request
    options = replace(
        task.options, start=request.start or 0, at=request.at, source_id=request.source_id,
        target_class=request.class_name, video_sha256=task.video_sha256,
    )
    folder = Path(tempfile.mkdtemp(dir=task.staging_root, prefix=f"{task.key[:16]}."))
    try:
        record = stage_report(request.video, detector_for(task.spec), folder, options, task.seal, _quiet)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, VideoError):
            raise VideoError(in_row_terms(str(exc), request)) from exc
        if isinstance(exc, AuditorError) and disk_full(exc):
            raise PassingFailure(str(exc)) from exc
        raise
    return StagedReport(task.key, str(folder), record)


def _quiet(step: str) -> None:
    """Workers report progress through the coordinator only."""
