"""`auditor verify`: check signed reports, print a short verdict per file, exit 0 / 1 / 8."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import click

from auditor.archive.chain import LEDGER_NAME
from auditor.cli.output import escaped
from auditor.verify import EXIT_INVALID, EXIT_UNTRUSTED, FileVerdict, exit_code, load_trust, verify_paths
from auditor.verify.status import PdfReview

_LABELS = {"valid": "VALID", "invalid": "INVALID", "untrusted": "UNTRUSTED"}


class MomentType(click.ParamType):
    """An ISO 8601 time; without a zone it is UTC."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{str(value)[:40]!r} is not an ISO 8601 time; give e.g. 2031-05-01T12:00:00Z", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class VerificationFailed(click.ClickException):
    """Something is altered or invalid (exit 1); the verdicts are already printed."""

    exit_code = EXIT_INVALID

    def show(self, file: object = None) -> None:
        click.echo(f"auditor: verify: {escaped(self.message)}", err=True)


class SignedByUntrustedKey(VerificationFailed):
    """Everything is intact but signed by a key outside the trusted root (exit 8)."""

    exit_code = EXIT_UNTRUSTED


@click.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--trust",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Root certificate (PEM/DER) or keys folder to trust (default: the root set up by `auditor keys`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")
@click.option("--head", metavar="SHA256", default=None,
              help="A batch ledger's checkpoint hash kept elsewhere (`auditor ledger head`): fail unless the ledger holds it.")
@click.option("--witness", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Witness folder of checkpoint copies: fail unless the ledger holds the newest one it witnessed.")
@click.option("--at", "at", metavar="TIME", type=MomentType(), default=None,
              help="Validate as of TIME (ISO 8601, e.g. 2031-05-01T12:00:00Z; no zone means UTC), not now.")
@click.pass_context
def verify_command(
    ctx: click.Context, paths: tuple[Path, ...], trust: Path | None, as_json: bool, head: str | None,
    witness: Path | None, at: dt.datetime | None,
) -> None:
    """Check signed report files: a PDF, an HTML/JSON file with its .p7s, a report folder (a
    folder that holds report folders, such as the demo's, stands for each of them), or the
    output folder of `auditor batch` (it holds ledger.jsonl).

    For each file: the signature is intact, the signer may sign documents and chains to the
    trusted root, the signature covers the whole file (later revisions only if validly signed,
    e.g. a review, and without changing the document metadata), and the evidence record embedded
    in the PDF names that signer and matches the hashes of the files it lists. For a folder, the
    signed manifest.json binds every file to one report and one seal: a file that is missing,
    altered, foreign (from another report) or not listed is named. A timestamp counts only when
    its authority chains to the trusted roots. For a batch output folder: the ledger's hash
    chain (the first broken entry is named), every file each entry registers, every registered
    report folder as above, and anything in reports/ or scans/ that the ledger does not register;
    the last checkpoint must be signed by the seal and cover every entry (entries after it are
    "not sealed yet" and fail: `auditor ledger seal OUT`); index.csv and index.html must show the
    rows rebuilt from the ledger and the verified reviews. A folder with batch files but no ledger
    fails. A cut back to an earlier checkpoint shows only with --head or --witness. Past the seal's
    end, a checkpoint and the registered signatures without a proof of time of their own are
    judged as of the first archive timestamp of the ledger after them. A report folder outside
    a batch cannot prove that none of its reviews was removed (a note says so). A notice folder
    (`auditor notice`) or its notice.pdf: its seal, its HTML, and, when its report folder is given
    too (`auditor verify NOTICE REPORT`), that the notice names that report's record (SHA-256).

    Time: each signature is validated at the time its timestamp proves it existed (a signature
    timestamp, B-T; or document timestamps after it, B-LTA), so a timestamped report stays valid
    after its certificates expired, and the note says so. An expired certificate without a
    timestamp gives UNTRUSTED ("no proof of time"): the signature is intact, but when it was made
    cannot be established. A signer revoked before the time its timestamp proves (or without a
    timestamp at all) gives INVALID. Revocation data comes only from the files and the trust
    folder (revoked.crl beside the root); nothing is fetched.

    \b
    Exit codes:
      0  all files valid and signed by a trusted key
      1  something is altered, unsigned, missing or invalid (or signed after revocation)
      8  intact, but signed by a key that does not chain to the trusted root, or whose
         certificate expired with no timestamp proving the signature older
    """
    if not (ctx.obj or {}).get("debug"):
        for name in ("pyhanko", "pyhanko_certvalidator"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    anchors = load_trust(trust, at)
    verdicts = verify_paths(paths, trust, head=head, witness=witness, at=at)
    code = exit_code(verdicts)
    if as_json:
        result = {
            "exit_code": code,
            "trusted_root": anchors.description,
            "files": [v.model_dump(mode="json") for v in verdicts],
        }
        click.echo(json.dumps(result, indent=2))
    else:
        for verdict in verdicts:
            _print_verdict(verdict)
        click.echo(f"trusted root: {escaped(anchors.description)}")
    if code:
        bad = sum(v.status != "valid" for v in verdicts)
        what = "altered or invalid" if code == EXIT_INVALID else "signed by an untrusted key"
        failure = VerificationFailed if code == EXIT_INVALID else SignedByUntrustedKey
        raise failure(_ledger_problem(verdicts) + f"{bad} of {len(verdicts)} files {what}")


def _ledger_problem(verdicts: list[FileVerdict]) -> str:
    """The first problem of a batch folder's ledger, to lead the one line on stderr ("" if none)."""
    for verdict in verdicts:
        if verdict.kind == "ledger" and Path(verdict.path).name == LEDGER_NAME and verdict.reasons:
            return f"{verdict.reasons[0]}; "
    return ""


def _print_verdict(verdict: FileVerdict) -> None:
    """The verdict's lines; every name, path and reason escaped (`escaped`), so that each stays on its line."""
    label = _LABELS[verdict.status]
    signed = ""
    if verdict.signatures:
        first = verdict.signatures[0]
        when = f" on {first.signed_at:%Y-%m-%d %H:%M} UTC" if first.signed_at else ""
        signed = f"  signed by {first.signer}{when}"
        if len(verdict.signatures) > 1:
            signed += f" (+{len(verdict.signatures) - 1} later signature(s))"
    click.echo(escaped(f"{label:<10} {verdict.path}{signed}"))
    for review in verdict.reviews:
        _print_review(review)
    for reason in verdict.reasons:
        click.echo(f"  - {escaped(reason)}")
    for note in verdict.notes:
        click.echo(f"  · {escaped(note)}")


def _print_review(review: PdfReview) -> None:
    when = f" on {review.signed_at:%Y-%m-%d %H:%M} UTC" if review.signed_at else ""
    said = review.review
    if said is None:
        click.echo(escaped(f"  review {review.slot}: signed by {review.signer}{when}; its fields are no valid review"))
        return
    minutes = f", {said.minutes:g} min" if said.minutes is not None else ""
    click.echo(escaped(
        f"  review {review.slot}: {said.decision.upper()} by {said.reviewer} ({said.role}){minutes}, "
        f"signed by {review.signer}{when}"
    ))
    click.echo(f"    reasons: {escaped(said.reasons)}")


COMMANDS = [verify_command]
