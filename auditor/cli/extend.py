"""`auditor archive extend OUT|REPORT`: renew the archive's proof of time (PAdES B-LTA)."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.ledger import archive_settings, profile_settings_option
from auditor.cli.output import escaped
from auditor.errors import ArchiveError
from auditor.signing.seal import TSA_ENV


def _require_intact(folder: Path, trust: Path | None) -> None:
    """A standalone report is extended only when it verifies (within verify's limits on hostile
    input): a timestamp over an altered report proves nothing. In a batch the ledger decides."""
    from auditor.verify import verify_paths

    bad = [v for v in verify_paths([folder], trust) if v.status == "invalid"]
    if bad:
        reason = bad[0].reasons[0] if bad[0].reasons else bad[0].status
        raise ArchiveError(f"{Path(bad[0].path).name} in {folder} does not verify ({reason}); only an intact report is extended")


@click.command("extend")
@click.argument("target", metavar="OUT_OR_REPORT", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tsa-url", envvar=TSA_ENV, metavar="URL", default=None,
              help=f"RFC 3161 timestamp authority of the document timestamps (env {TSA_ENV}, else the profile's tsa_url); required.")
@click.option("--trust", type=click.Path(exists=True, path_type=Path), default=None,
              help="Roots (PEM) of the seal and of the timestamp authorities, or a keys folder; a revoked.crl "
              "beside it is used too (default: your keys folder's root).")
@profile_settings_option
def extend_command(target: Path, tsa_url: str | None, trust: Path | None, profile_path: Path | None) -> None:
    """Add to every report PDF of the batch folder OUT (or to the one of a report folder) a
    revision with fresh validation data for its signatures and a document timestamp over it all
    (PAdES B-LTA), then timestamp OUT's ledger. Run it again, before the newest timestamp's
    authority certificate ends, to carry the archive further. Needs no seal key: each extension
    is a ledger amendment that only adds to the registered PDF; a report folder is extended only
    when it verifies. Exit 1 when a PDF was left as it was (each one is named, with why)."""
    from auditor.archive.chain import LEDGER_NAME
    from auditor.archive.extend import ExtensionTrust, extend_archive, extend_report_folder
    from auditor.names import PDF_NAME
    from auditor.verify import load_trust

    tsa_url, _ = archive_settings(profile_path, tsa_url, None)
    if not tsa_url:
        raise ArchiveError(f"no timestamp authority: give --tsa-url URL (or set {TSA_ENV}, or tsa_url in --profile)")
    anchors = load_trust(trust)
    trust_data = ExtensionTrust(anchors.certs, anchors.crls)
    if (target / LEDGER_NAME).is_file():
        results = extend_archive(target, tsa_url, trust_data)
    elif (target / PDF_NAME).is_file():
        _require_intact(target, trust)
        results = [extend_report_folder(target, tsa_url, trust_data)]
    else:
        raise ArchiveError(f"{target} is neither a batch folder (no {LEDGER_NAME}) nor a report folder (no {PDF_NAME})")
    for done in results:
        line = f"extended {done.pdf} ({done.field})" if done.field else f"NOT EXTENDED {done.pdf}: {done.problem}"
        click.echo(escaped(line))
    failed = sum(done.field is None for done in results)
    click.echo(f"{len(results) - failed} of {len(results)} PDFs extended" + (f"; the ledger of {target} timestamped" if (target / LEDGER_NAME).is_file() else ""))
    if failed:
        raise click.exceptions.Exit(1)
