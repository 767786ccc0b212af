"""`auditor notice REPORT`: a sealed notice for the person the report's decision is about."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.keys import load_signing_identity, signing_options
from auditor.cli.output import escaped
from auditor.errors import AuditorError


@click.command("notice")
@click.argument("report", metavar="REPORT", type=click.Path(path_type=Path))
@click.option("--language", metavar="CODE", default=None,
              help="Language of the notice (en, de, fr…; default: the report's language, the profile's report_language).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Notice folder to create, absent or empty, outside the report folder "
              "(default: notice-<REPORT ID>-<LANGUAGE> in the current folder).")
@click.option("--trust", type=click.Path(path_type=Path), default=None,
              help="Root certificate (PEM/DER) or keys folder the report must verify under "
              "(default: the root set up by `auditor keys`).")
@signing_options
def notice(
    report: Path, language: str | None, out: Path | None, trust: Path | None, keys_dir: Path | None,
    tsa_url: str | None, no_sign: bool,
) -> None:
    """Write a notice for the person concerned about the sealed report in REPORT: what happened,
    what the system said, who checks it, why in plain words, and their rights with whom to contact.

    The report must verify; only its verified reviews count. The notice folder holds notice.pdf
    (PDF/A, sealed, with notice.json: the report id and its record's SHA-256) and notice.html with
    its signature. Check it with `auditor verify NOTICE REPORT`.
    """
    try:
        written = _write(report, language, out, trust, keys_dir, tsa_url, no_sign)
    except AuditorError as exc:  # one line, `auditor: notice: what is wrong; what to do`
        if (click.get_current_context().obj or {}).get("debug"):
            raise
        click.echo(f"auditor: notice: {escaped(exc)}", err=True)
        raise click.exceptions.Exit(exc.exit_code) from exc
    state = "unsigned draft" if no_sign else "sealed"
    click.echo(escaped(f"notice written ({state}): {written[0].parent}"))
    for path in written:
        click.echo(escaped(f"  {path.name}"))


def _write(
    report: Path, language: str | None, out: Path | None, trust: Path | None, keys_dir: Path | None,
    tsa_url: str | None, no_sign: bool,
) -> list[Path]:
    from auditor.errors import ReportError
    from auditor.evidence import load_record
    from auditor.files import check_new_folder
    from auditor.i18n import check_language
    from auditor.names import RECORD_NAME
    from auditor.notice.document import write_notice
    from auditor.notice.facts import read_facts
    from auditor.verify import load_trust

    if not (report / RECORD_NAME).is_file():
        raise ReportError(f"{report} holds no {RECORD_NAME}; give a report folder (the --out of `auditor report`)")
    record = load_record(report / RECORD_NAME)
    code = check_language(language or record.deployment.report_language)
    target = out or Path(f"notice-{record.report.report_id}-{code}")
    _check_outside(target, report)
    check_new_folder(target)
    identity = None if no_sign else load_signing_identity(keys_dir)
    facts = read_facts(report, load_trust(trust))
    return write_notice(facts, code, target, identity, tsa_url=tsa_url)


def _check_outside(target: Path, report: Path) -> None:
    """A notice in a report folder, or loose in a batch's reports/, would be an unlisted file there."""
    from auditor.archive.chain import LEDGER_NAME, REPORTS_DIR
    from auditor.errors import ArchiveError

    place = target.absolute()
    if place.is_relative_to(report.absolute()):
        raise ArchiveError(f"{target} is inside the report folder, whose seal lists every file; choose a folder outside it")
    if place.parent.name == REPORTS_DIR and (place.parent.parent / LEDGER_NAME).exists():
        raise ArchiveError(f"{target} is in a batch's {REPORTS_DIR}/, which holds registered reports only; choose another folder")


COMMANDS = [notice]
