"""`auditor report`: explain one clip (or every row of a detections file) into a signed report folder."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.keys import load_signing_identity, sanity_cache_key, signing_options, skip_check_option
from auditor.cli.output import class_names, in_language, label_option, language_option, print_result, progress_printer


class TimeParam(click.ParamType):
    """A position in a video: `70.5` (seconds), `1:10.5` (minutes:seconds), `01:10:05`."""

    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from auditor.video import parse_time

        try:
            return value if isinstance(value, float) else parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.argument("video", type=click.Path(path_type=Path), required=False)
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True,
              help="Keras .keras or .h5 detector; its sidecar JSON is read from beside it.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Report folder to create (with --detections: the batch folder that holds one per detection).")
@click.option("--detections", "detections", type=click.Path(dir_okay=False, path_type=Path),
              help="Instead of VIDEO: one signed report per row of this file of `auditor scan` detections or "
              "alert log (CSV or JSON Lines: video, frame or time, class, source); see `auditor batch`.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path),
              help="Deployment profile (TOML) that fills the legal fields.")
@click.option("--start", type=int, default=None, help="First frame of the explained window (default 0).")
@click.option("--at", "at", type=TimeParam(),
              help="Start the window at this time instead: seconds (70.5), M:SS (1:10.5) or H:MM:SS (01:10:05).")
@click.option("--classes", help="Comma-separated class names (overrides the sidecar).")
@click.option("--layer", help="Grad-CAM target layer (default: the last spatial map of the CNN).")
@click.option("--source-id", callback=label_option, help="Camera or source identifier to record.")
@click.option("--templates", "templates_dir", type=click.Path(path_type=Path),
              help="Own Jinja2 templates folder (default: the profile's templates_dir, else the built-in ones).")
@signing_options
@skip_check_option
@click.option("--overwrite", is_flag=True, help="Replace an existing report in --out.")
@language_option
def report(
    video: Path | None, model_path: Path, out: Path, detections: Path | None, profile_path: Path | None, start: int | None, at: float | None,
    classes: str | None, layer: str | None, source_id: str | None, keys_dir: Path | None, tsa_url: str | None,
    templates_dir: Path | None, no_sign: bool, skip_checks: tuple[str, ...], overwrite: bool, language: str | None,
) -> None:
    """Explain one clip of VIDEO with a detector and write a signed evidence report.

    Everything that can be checked is checked before the model runs: the video, the profile,
    the templates, the output folder, the keys and passphrase, the model and its class settings.
    With --detections FILE instead of VIDEO, every detection or alert in FILE gets its report, as
    `auditor batch` writes them (resumable, with a ledger and an index in --out).
    """
    if detections is not None:
        if video is not None:
            raise click.UsageError("give either a VIDEO or --detections FILE, not both")
        _report_detections(detections, model_path, out, profile_path, classes, layer, templates_dir, keys_dir,
                           tsa_url, no_sign or start is not None or at is not None or source_id is not None, skip_checks,
                           language)
        return
    if video is None:
        raise click.UsageError("give the VIDEO to explain, or --detections FILE")
    from auditor.profile import DeploymentProfile, read_profile
    from auditor.report.html import check_templates_dir
    from auditor.video import probe_video

    if start is not None and at is not None:
        raise click.UsageError("--start and --at both set where the window starts; give one of them")
    local = read_profile(_not_a_folder(profile_path, "deployment profile")) if profile_path else None
    profile = in_language(local.profile if local else DeploymentProfile(), language)
    probe_video(video)
    templates = check_templates_dir(_a_folder(templates_dir or (local.templates_dir if local else None)))
    identity = None if no_sign else load_signing_identity(keys_dir)
    from auditor.detector import load_detector  # TensorFlow: after the quick checks
    from auditor.explain.checks import CheckSettings
    from auditor.pipeline import ReportOptions, check_destination, check_window, report_video
    from auditor.scan.sliding import window_length
    from auditor.signing.seal import SealSettings

    check_destination(out, overwrite)
    detector = load_detector(model_path, class_names=class_names(classes), layer=layer)
    check_window(video, window_length(detector), start or 0, at, detector.sidecar.sampling)
    options = ReportOptions(
        profile=profile, start=start or 0, at=at, source_id=source_id,
        templates_dir=templates, checks=CheckSettings.without(skip_checks, cache_key=sanity_cache_key(identity)), overwrite=overwrite,
    )
    tsa = tsa_url or (local.tsa_url if local else None)
    result = report_video(video, detector, out, options, SealSettings(identity, tsa), progress_printer())
    print_result(result)


def _report_detections(
    detections: Path, model_path: Path, out: Path, profile_path: Path | None, classes: str | None,
    layer: str | None, templates_dir: Path | None, keys_dir: Path | None, tsa_url: str | None, per_clip: bool,
    skip_checks: tuple[str, ...] = (), language: str | None = None,
) -> None:
    """`report --detections`: the batch machinery over one file of detections or alerts."""
    from auditor.batch.inputs import BatchInputs
    from auditor.cli.batch import run_batch_command
    from auditor.scan.requests import read_requests

    if per_clip:
        raise click.UsageError("--detections takes each window from the file: drop --start, --at, --source-id and --no-sign")
    run_batch_command(
        BatchInputs(requests=read_requests(detections)), model_path, out, profile_path=profile_path, classes=classes,
        layer=layer, templates_dir=templates_dir, keys_dir=keys_dir, tsa_url=tsa_url, skip_checks=skip_checks,
        language=language,
    )


def _not_a_folder(path: Path, what: str) -> Path:
    """`path`, unless it is a folder (ReportError naming `what`)."""
    from auditor.errors import ReportError

    if path.is_dir():
        raise ReportError(f"{what} {path} is a folder, not a file; give the TOML file itself")
    return path


def _a_folder(path: Path | None) -> Path | None:
    """`path` (a templates folder), unless it exists and is no folder."""
    from auditor.errors import ReportError

    if path is not None and path.exists() and not path.is_dir():
        raise ReportError(f"templates folder {path} is a file, not a folder; give the folder that holds your templates")
    return path

COMMANDS = [report]
