"""`auditor demo` and `auditor report`: explain a clip into a report folder."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.keys import load_signing_identity, signing_options
from auditor.cli.output import print_result, progress_printer
from auditor.demo_settings import CLASS_NAMES, DEMO_LABEL, DEMO_SEED


@click.command()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True,
              help="Folder for the clip, the throwaway keys and the report.")
@click.option("--label", type=click.Choice(CLASS_NAMES), default=DEMO_LABEL, show_default=True,
              help="Kind of synthetic incident to generate.")
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True, help="Seed of the generated clip.")
@click.option("--no-sign", is_flag=True, help="Write an UNSIGNED DRAFT instead of a sealed report.")
@click.option("--overwrite", is_flag=True, help="Replace the contents of a non-empty --out folder.")
def demo(out: Path, label: str, seed: int, no_sign: bool, overwrite: bool) -> None:
    """Run the demo detector on a generated incident clip and write a signed report."""
    from auditor.demo import run_demo

    result = run_demo(out, label=label, seed=seed, sign=not no_sign, overwrite=overwrite, progress=progress_printer())
    print_result(result)
    if result.signed:
        click.echo(f"check it:  auditor verify {result.folder} --trust {out / 'demo-keys' / 'root.cert.pem'}")


@click.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True,
              help="Keras .keras or .h5 detector; its sidecar JSON is read from beside it.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Report folder to create.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path),
              help="Deployment profile (TOML) that fills the legal fields.")
@click.option("--start", type=int, default=0, show_default=True, help="First frame of the explained window.")
@click.option("--classes", help="Comma-separated class names (overrides the sidecar).")
@click.option("--layer", help="Grad-CAM target layer (default: the last spatial map of the CNN).")
@click.option("--source-id", help="Camera or source identifier to record.")
@click.option("--templates", "templates_dir", type=click.Path(path_type=Path),
              help="Own Jinja2 templates folder (default: the profile's templates_dir, else the built-in ones).")
@signing_options
@click.option("--overwrite", is_flag=True, help="Replace an existing report in --out.")
def report(
    video: Path, model_path: Path, out: Path, profile_path: Path | None, start: int, classes: str | None,
    layer: str | None, source_id: str | None, keys_dir: Path | None, tsa_url: str | None,
    templates_dir: Path | None, no_sign: bool, overwrite: bool,
) -> None:
    """Explain one clip of VIDEO with a detector and write a signed evidence report."""
    from auditor.detector import load_detector
    from auditor.pipeline import ReportOptions, report_video
    from auditor.profile import DeploymentProfile, read_profile
    from auditor.report import check_templates_dir
    from auditor.signing import SealSettings

    local = read_profile(profile_path) if profile_path else None
    templates = check_templates_dir(templates_dir or (local.templates_dir if local else None))
    identity = None if no_sign else load_signing_identity(keys_dir)
    detector = load_detector(model_path, class_names=classes.split(",") if classes else None, layer=layer)
    options = ReportOptions(
        profile=local.profile if local else DeploymentProfile(), start=start, source_id=source_id,
        templates_dir=templates, overwrite=overwrite,
    )
    result = report_video(video, detector, out, options, SealSettings(identity, tsa_url), progress_printer())
    print_result(result)


COMMANDS = [demo, report]
