"""The built-in demo: a generated incident clip, the shipped demo detector, a throwaway seal."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from auditor.demo_settings import DEMO_LABEL, DEMO_SEED
from auditor.detector import load_detector
from auditor.errors import ArchiveError
from auditor.files import atomic_directory
from auditor.i18n import check_language
from auditor.pipeline import Progress, ReportOptions, report_video
from auditor.profile import DeploymentProfile, load_profile
from auditor.report.document import ReportResult
from auditor.signing.seal import SealSettings, create_demo_identity
from auditor.synthetic import make_clip
from auditor.video import write_video

DEMO_FPS = 10.0


def demo_model_path() -> Path:
    """The shipped demo detector (`model.keras`, with its sidecar and model card beside it)."""
    return Path(str(files("auditor") / "data" / "demo_model" / "model.keras"))


def demo_profile() -> DeploymentProfile:
    """The fictional deployment profile the demo reports are written for."""
    return load_profile(Path(str(files("auditor") / "data" / "demo_profile.toml")))


def run_demo(
    out: Path, *, label: str = DEMO_LABEL, seed: int = DEMO_SEED, sign: bool = True, overwrite: bool = False,
    progress: Progress = print, language: str | None = None,
) -> ReportResult:
    """Write `out/incident.avi`, `out/demo-keys/` (unless unsigned) and the report in `out/report/`
    (in `language`, default the demo profile's)."""
    out = Path(out)
    profile = demo_profile()
    if language is not None:
        profile = profile.model_copy(update={"report_language": check_language(language)})
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ArchiveError(f"{out} is not empty; choose a new folder or pass --overwrite")
    detector = load_detector(demo_model_path())
    progress(f"generating a synthetic '{label}' incident clip (seed {seed})")
    clip = make_clip(label, seed, frames=detector.frames_per_clip or 16, size=detector.input_shape[1])
    with atomic_directory(out) as staging:
        video = write_video(staging / "incident.avi", clip.frames, DEMO_FPS)
        identity = create_demo_identity(staging) if sign else None
        options = ReportOptions(profile=profile, source_id="demo-camera-01")
        result = report_video(video, detector, staging / "report", options, SealSettings(identity), progress)
    return ReportResult(out / "report", result.record, result.signed)
