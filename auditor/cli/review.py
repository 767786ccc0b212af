"""`auditor review`: a person's decision on a report, signed into it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from auditor.cli.keys import keys_dir_option
from auditor.cli.ledger import archive_settings, profile_settings_option, seal_if_possible, witness_option
from auditor.cli.output import escaped
from auditor.keys.reviewers import REVIEWER_PASSPHRASE_ENV
from auditor.names import review_name
from auditor.review.model import DECISIONS


@click.command("review")
@click.argument("report", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--as", "reviewer_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The reviewer's keys folder (from `auditor keys add-reviewer`).")
@click.option("--decision", type=click.Choice(DECISIONS), required=True,
              help="confirm or overturn the system's decision, or escalate it to someone with more authority.")
@click.option("--reason", "reasons", required=True, help="Why you decided so (required: a sentence).")
@click.option("--considered", default="", help="What you looked at: the clip, other cameras, witnesses…")
@click.option("--authority", default="", help="Your authority to change the decision (default: your role).")
@click.option("--minutes", type=click.FloatRange(0, 100_000), help="Minutes spent on the review.")
@click.option("--bias-acknowledged", is_flag=True,
              help="I judged the clip myself and did not rely on the system's output alone.")
@click.option("--slot", type=click.IntRange(1, 2), help="Review slot (default: the first empty one).")
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority.")
@keys_dir_option
@witness_option
@profile_settings_option
def review_command(
    report: Path, reviewer_dir: Path, decision: str, reasons: str, considered: str, authority: str,
    minutes: float | None, bias_acknowledged: bool, slot: int | None, tsa_url: str | None, keys_dir: Path | None,
    witness: Path | None, profile_path: Path | None,
) -> None:
    """Record your review of REPORT (a report folder): fill its PDF's review form and sign it with
    your reviewer key, as a new revision that keeps the seal valid; review-N.json (+ .p7s) is
    written beside it, and a batch's ledger and index are updated. Passphrase: $AUDITOR_REVIEWER_PASSPHRASE
    or a prompt. In a batch the ledger is sealed at once when the seal's passphrase is in
    $AUDITOR_KEY_PASSPHRASE (seal keys: --keys); otherwise the review awaits `auditor ledger seal`."""
    from auditor.desk.record import batch_of, review_report
    from auditor.keys import REVIEWER_KEY, IdentityPaths, load_identity
    from auditor.review.fill import reviewer_names
    from auditor.review.model import review_input

    tsa_url, witness = archive_settings(profile_path, tsa_url, witness)
    has_key = IdentityPaths.of(reviewer_dir).key.is_file()  # a wrong folder is named before any prompt
    identity = load_identity(reviewer_dir, _passphrase(reviewer_dir) if has_key else None, REVIEWER_KEY)
    name, role = reviewer_names(identity)
    review = review_input(
        reviewer=name, role=role, authority=authority or role, data_considered=considered,
        decision=decision, reasons=reasons, minutes=minutes, automation_bias_acknowledged=bias_acknowledged,
    )
    entry = review_report(report, identity, review, slot, tsa_url=tsa_url)
    click.echo(escaped(f"review {entry.slot} signed by {entry.signer}: {entry.review.decision}; {report / review_name(entry.slot)}"))
    out = batch_of(report)
    if out is not None:
        click.echo(escaped(f"{out}: {seal_if_possible(out, keys_dir, tsa_url, witness)}"))


def _passphrase(folder: Path) -> str:
    from auditor.errors import SigningError

    passphrase = os.environ.get(REVIEWER_PASSPHRASE_ENV)
    if passphrase:
        return passphrase
    if not sys.stdin.isatty():
        raise SigningError(f"no passphrase for the reviewer key in {folder}: set {REVIEWER_PASSPHRASE_ENV}")
    return str(click.prompt(f"Passphrase of the reviewer key in {folder}", hide_input=True, err=True))


COMMANDS = [review_command]
