"""`auditor render RECORD.json`: render an evidence record again into a signed report.html and report.pdf."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from auditor.cli.keys import load_signing_identity, signing_options
from auditor.errors import ArchiveError, ReportError
from auditor.evidence import load_record
from auditor.report import write_report
from auditor.signing import sign_detached, sign_pdf


@click.command("render")
@click.argument("record_path", metavar="RECORD.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--templates", "templates_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder with your own templates (overrides the built-in ones file by file).",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.html and report.pdf (default: the record's folder).",
)
@signing_options
def render(
    record_path: Path, templates_dir: Path | None, out_dir: Path | None, keys_dir: Path | None,
    tsa_url: str | None, no_sign: bool,
) -> None:
    """Render RECORD.json (with its arrays.npz and images/ beside it) into HTML and PDF/A-3b.

    The new files are signed with the organisation seal unless --no-sign; a folder that already
    holds signed files is never overwritten.
    """
    record = load_record(record_path)
    target = out_dir or record_path.parent
    if any(target.glob("*.p7s")) or (target / "report.pdf").exists():
        raise ReportError(
            f"{target} already holds a report; rendering there would replace it. Choose another folder with --out"
        )
    identity = None if no_sign else load_signing_identity(keys_dir)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".render-") as staging:
        written = write_report(record, record_path.parent, templates_dir=templates_dir, draft=no_sign, out_dir=Path(staging))
        if identity is not None:
            sign_pdf(written[1], written[1], identity, tsa_url=tsa_url)
            written.append(sign_detached(written[0], identity, tsa_url=tsa_url))
        for path in written:
            _move(path, target / path.name)
            click.echo(str(target / path.name))


def _move(path: Path, destination: Path) -> None:
    try:
        os.replace(path, destination)
    except OSError as exc:
        raise ArchiveError(f"could not write {destination}: {exc.strerror or exc}") from exc


COMMANDS = [render]
