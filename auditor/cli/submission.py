"""`auditor submission REPORT --from … --text FILE`: log what the person concerned submitted
about a report (and `--answer N`: the answer), signed with the organisation seal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.cli.keys import keys_dir_option, load_signing_identity
from auditor.cli.ledger import archive_settings, profile_settings_option, witness_option

if TYPE_CHECKING:
    from auditor.keys import SigningIdentity


@click.command("submission")
@click.argument("report", metavar="REPORT_FOLDER", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from", "sender", metavar="NAME", default=None, help="Who submitted it: a name or a case reference.")
@click.option("--answer", "answer", type=click.IntRange(1), metavar="N", default=None, help="Log the answer to submission N.")
@click.option(
    "--text", "text_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="UTF-8 text file: what the person wrote (or the answer), at most 20 000 characters.",
)
@click.option(
    "--attach", "attachments", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="A file that came with the submission (repeat; at most 20, 50 MiB each).",
)
@keys_dir_option
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority.")
@witness_option
@profile_settings_option
def submission(
    report: Path, sender: str | None, answer: int | None, text_file: Path, attachments: tuple[Path, ...],
    keys_dir: Path | None, tsa_url: str | None, witness: Path | None, profile_path: Path | None,
) -> None:
    """Log a submission of the person concerned by the report in REPORT_FOLDER, or its answer.

    The entry goes to REPORT_FOLDER/submissions/ as JSON signed with the organisation seal
    (passphrase from AUDITOR_KEY_PASSPHRASE or a prompt); `auditor verify` checks it and the next
    `auditor render` of the folder shows it in the report's redress section.
    """
    from auditor.review.submissions import log_answer, log_submission, read_text_file

    if (sender is None) == (answer is None):
        raise click.UsageError("give either --from NAME (a new submission) or --answer N (the answer to submission N)")
    if answer is not None and attachments:
        raise click.UsageError("--attach goes with a submission (--from), not with an answer")
    _check_report_folder(report)
    text = read_text_file(text_file)
    tsa_url, witness = archive_settings(profile_path, tsa_url, witness)
    identity = load_signing_identity(keys_dir)
    if answer is not None:
        path = log_answer(report, answer, text, identity, tsa_url=tsa_url)
        _register(report, path, identity, tsa_url, witness)
        click.echo(f"logged the answer to submission {answer}: {path} (signed: {path.name}.p7s)")
    elif sender is not None:
        path = log_submission(report, sender, text, list(attachments), identity, tsa_url=tsa_url)
        _register(report, path, identity, tsa_url, witness)
        number = path.stem.split("-")[1]
        click.echo(f"logged submission {number} from {' '.join(sender.split())}: {path} (signed: {path.name}.p7s)")
        click.echo(f"answer it with: auditor submission {report} --answer {number} --text FILE")
    click.echo(f"it appears in the report's redress section at the next `auditor render {report} --out NEW`")


def _check_report_folder(report: Path) -> None:
    """ArchiveError, before any passphrase is asked, unless REPORT_FOLDER holds a report."""
    from auditor.errors import ArchiveError
    from auditor.names import PDF_NAME, RECORD_NAME

    remedy = "give a report folder (the --out of `auditor report`, or a folder under a batch's reports/)"
    if not report.is_dir():
        raise ArchiveError(f"{report} does not exist: {remedy}")
    missing = [name for name in (RECORD_NAME, PDF_NAME) if not (report / name).is_file()]
    if missing:
        raise ArchiveError(f"{report} is not a report folder (it holds no {' and no '.join(missing)}): {remedy}")


def _register(report: Path, entry: Path, identity: SigningIdentity, tsa_url: str | None, witness: Path | None) -> None:
    """In a batch folder: a ledger amendment registering the new entry, its signature and
    attachments, sealed at once by a checkpoint (the seal signed the entry)."""
    from auditor.archive.checkpoint import write_checkpoint
    from auditor.desk.record import register_amendment
    from auditor.review.submission_records import submission_files

    area = entry.parent.relative_to(Path(report)).as_posix()
    number = entry.stem.split("-")[1]
    files = sorted(
        name for name in submission_files(report)
        if name in (f"{area}/{entry.name}", f"{area}/{entry.name}.p7s") or name.startswith(f"{area}/attachments/{number}-")
    )
    if entry.stem.startswith("answer"):
        files = [name for name in files if "/attachments/" not in name]
    out = register_amendment(report, "submission", f"{entry.parent.name}/{entry.name}", files, {"entry": entry.name})
    if out is not None:
        write_checkpoint(out, identity, tsa_url=tsa_url, witness=witness)


COMMANDS = [submission]
