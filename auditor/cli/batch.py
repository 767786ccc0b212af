"""`auditor batch`: a signed report for every flagged window of whole videos or alert logs, resumable, with a ledger."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.keys import keys_dir_option, load_signing_identity, sanity_cache_key, skip_check_option
from auditor.cli.ledger import witness_option
from auditor.cli.output import class_names, escaped, in_language, language_option, progress_bar

if TYPE_CHECKING:
    from auditor.archive import IndexRow
    from auditor.batch.inputs import BatchInputs

MAX_FAILED_SHOWN = 20  # failed rows named on the terminal; index.csv lists every one


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path), required=True,
              help="Keras .keras or .h5 detector; its sidecar JSON is read from beside it.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Batch folder: reports/, scans/, ledger.jsonl, index.html, index.csv.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Local worker processes (each loads the model once).")
@click.option("--scheduler", metavar="ADDRESS|local",
              help="Run on a Dask cluster (tcp://host:8786), or `local` for a LocalCluster of --workers.")
@click.option("--stride", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Sampled frames between the starts of two windows.")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Deployment profile (TOML) that fills the legal fields.")
@click.option("--classes", help="Comma-separated class names (overrides the sidecar).")
@click.option("--layer", help="Grad-CAM target layer (default: the last spatial map of the CNN).")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Own Jinja2 templates folder (default: the profile's, else the built-in ones).")
@keys_dir_option
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority.")
@skip_check_option
@witness_option
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@language_option
def batch_command(
    inputs: tuple[Path, ...], model_path: Path, out: Path, workers: int, scheduler: str | None, stride: int,
    profile_path: Path | None, classes: str | None, layer: str | None, templates_dir: Path | None,
    keys_dir: Path | None, tsa_url: str | None, skip_checks: tuple[str, ...], witness: Path | None, as_json: bool,
    language: str | None,
) -> None:
    """Scan and report everything: videos, folders of videos (a sub-folder per camera becomes the
    source id), alert logs (CSV or JSON Lines: video, frame or time, class, source) and files of
    `auditor scan` detections.

    Every detection gets one signed report folder under OUT/reports; OUT/index.html and
    OUT/index.csv list them all with their status, OUT/ledger.jsonl registers each file in a hash
    chain sealed by checkpoints (`auditor verify OUT`; a copy of each checkpoint goes to --witness,
    else the profile's witness_dir). Run the same command again to finish an interrupted batch, or
    one whose failures said so (a lost worker, a full disk), or once you corrected the rows or files
    that failed: finished work is skipped. Exit 0 when everything is reported, 9 when something failed.
    """
    from auditor.batch.inputs import collect_inputs
    from auditor.i18n import check_language

    if language is not None:
        check_language(language)  # before the inputs are read: a typo costs nothing
    run_batch_command(
        collect_inputs(list(inputs)), model_path, out, workers=workers, scheduler=scheduler, stride=stride,
        profile_path=profile_path, classes=classes, layer=layer, templates_dir=templates_dir, keys_dir=keys_dir,
        tsa_url=tsa_url, skip_checks=skip_checks, witness=witness, as_json=as_json, language=language,
    )


def run_batch_command(inputs: BatchInputs, model_path: Path, out: Path, *, workers: int = 1, scheduler: str | None = None,
                      stride: int = 1, profile_path: Path | None = None, classes: str | None = None,
                      layer: str | None = None, templates_dir: Path | None = None, keys_dir: Path | None = None,
                      tsa_url: str | None = None, skip_checks: tuple[str, ...] = (), witness: Path | None = None,
                      as_json: bool = False, language: str | None = None) -> None:
    """Check everything cheap, run the batch, print the summary; IncompleteBatch when a unit failed."""
    from auditor.errors import IncompleteBatch, ModelError
    from auditor.profile import DeploymentProfile, read_profile
    from auditor.report.html import check_templates_dir

    local = read_profile(profile_path) if profile_path else None
    profile = in_language(local.profile if local else DeploymentProfile(), language)
    templates = check_templates_dir(templates_dir or (local.templates_dir if local else None))
    identity = load_signing_identity(keys_dir)
    if not Path(model_path).is_file():
        raise ModelError(f"model {model_path} does not exist or is not a file; give the detector's .keras or .h5 file")
    from auditor.batch.executors import open_executor  # TensorFlow: after the quick checks
    from auditor.batch.run import BatchSettings, run_batch
    from auditor.batch.tasks import DetectorSpec
    from auditor.explain.checks import CheckSettings
    from auditor.pipeline import ReportOptions
    from auditor.scan.sliding import ScanSettings
    from auditor.signing.seal import SealSettings

    names = class_names(classes)
    settings = BatchSettings(
        spec=DetectorSpec(str(Path(model_path).absolute()), tuple(names) if names else None, layer),
        scan=ScanSettings(stride=stride),
        report=ReportOptions(profile=profile, templates_dir=templates,
                             checks=CheckSettings.without(skip_checks, cache_key=sanity_cache_key(identity))),
    )
    with progress_bar("batch", None, "units") as update:
        show = (lambda done, known: update(done, f"of {known} known")) if update else None
        executor = functools.partial(open_executor, workers, scheduler)
        seal = SealSettings(identity, tsa_url or (local.tsa_url if local else None))
        summary = run_batch(inputs, out, settings, seal, executor, show, witness or (local.witness_dir if local else None))
    if as_json:
        click.echo(json.dumps(summary.as_json(), indent=2))
    else:
        click.echo(f"{summary.count('reported')} reported, {summary.count('failed')} failed, "
                   f"{summary.count('pending')} pending ({summary.skipped} units already done); "
                   f"index: {escaped(summary.out / 'index.html')}")
        _print_failed(summary.rows)
    failed = summary.count("failed") + summary.count("pending")
    if failed:
        passing = summary.passing + summary.count("pending")  # a pending unit is finished by the next run
        raise IncompleteBatch(_not_reported(failed, len(summary.rows), passing, summary.out / "index.csv"))


def _print_failed(rows: list[IndexRow]) -> None:
    """The failed rows on stderr, each with why: the first MAX_FAILED_SHOWN, then how many more."""
    failed = [row for row in rows if row.status == "failed"]
    for row in failed[:MAX_FAILED_SHOWN]:
        click.echo(escaped(f"  failed: {row.video}{' ' + row.class_name if row.class_name else ''}: {row.reason}"), err=True)
    if len(failed) > MAX_FAILED_SHOWN:
        click.echo(f"  … and {len(failed) - MAX_FAILED_SHOWN} more failed rows (index.csv lists each with why)", err=True)


def _not_reported(missing: int, total: int, passing: int, index: Path) -> str:
    """The last line of a batch that did not report everything: whether running it again may help."""
    told = f"{missing} of {total} detections not reported; see {index} (each failed row says why"
    if passing == missing:
        return f"{told}): run the same command again to finish them"
    if passing:
        return (
            f"{told}): {passing} failed for a reason that may pass (a lost worker, a full disk): run the same command "
            "again once it has; the others say what to change first (a rerun alone gives the same failure)"
        )
    return f"{told} and what to change): a rerun alone gives the same failures; correct the rows or files first"


COMMANDS = [batch_command]
