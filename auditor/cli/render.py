"""`auditor render RECORD.json`: render an evidence record again into report.html and report.pdf."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.errors import ReportError
from auditor.evidence import load_record
from auditor.report import write_report


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
@click.option("--draft", is_flag=True, help='Mark the report "UNSIGNED DRAFT" on every page.')
def render(record_path: Path, templates_dir: Path | None, out_dir: Path | None, draft: bool) -> None:
    """Render RECORD.json (with its arrays.npz and images/ beside it) into HTML and PDF/A-3b.

    The new files are not signed; a folder holding signed files is never overwritten.
    """
    record = load_record(record_path)
    target = out_dir or record_path.parent
    if any(target.glob("*.p7s")):
        raise ReportError(
            f"{target} holds signed report files; rendering there would replace them with unsigned "
            "copies. Choose another folder with --out"
        )
    written = write_report(record, record_path.parent, templates_dir=templates_dir, draft=draft, out_dir=out_dir)
    for path in written:
        click.echo(str(path))


COMMANDS = [render]
