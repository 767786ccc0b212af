"""`auditor render SOURCE --out NEW`: render a sealed report again into a new, sealed report folder."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.keys import load_signing_identity, signing_options
from auditor.cli.output import language_option, print_result


@click.command("render")
@click.argument("source", metavar="SOURCE", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="New report folder to create (absent or empty).",
)
@click.option(
    "--templates", "templates_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder with your own templates (overrides the built-in ones file by file).",
)
@click.option(
    "--trust", type=click.Path(path_type=Path), default=None,
    help="Root certificate (PEM/DER) or keys folder the source must verify under "
    "(default: the root set up by `auditor keys`).",
)
@click.option(
    "--unverified-source", is_flag=True,
    help="Render a record whose signature does not verify; page 1 then says its origin is not proven.",
)
@signing_options
@language_option
def render(
    source: Path, out_dir: Path, templates_dir: Path | None, trust: Path | None, unverified_source: bool,
    keys_dir: Path | None, tsa_url: str | None, no_sign: bool, language: str | None,
) -> None:
    """Render the record of SOURCE (a report folder, its evidence.json or its report.pdf) again.

    The source record must verify under the trusted root. The new folder gets a new report id,
    names the source report, carries a copy of its checked images and arrays, and is sealed with
    the organisation seal unless --no-sign. With --language CODE it is written in that language
    (its record says so); by default in the source's.
    """
    from auditor.files import check_new_folder
    from auditor.i18n import check_language
    from auditor.report.html import check_templates_dir
    from auditor.report.rerender import read_source, rerender

    check_new_folder(out_dir)
    check_templates_dir(templates_dir)
    if language is not None:
        check_language(language)
    identity = None if no_sign else load_signing_identity(keys_dir)
    loaded = read_source(source, trust, allow_unverified=unverified_source)
    result = rerender(loaded, out_dir, identity=identity, templates_dir=templates_dir, tsa_url=tsa_url, language=language)
    print_result(result)


COMMANDS = [render]
