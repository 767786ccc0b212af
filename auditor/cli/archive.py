"""`auditor archive add REPORT --to OUT`: bring a standalone report under a batch archive."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.extend import extend_command
from auditor.cli.keys import keys_dir_option
from auditor.cli.ledger import archive_settings, profile_settings_option, seal_if_possible, witness_option
from auditor.cli.output import escaped


@click.group("archive")
def archive_group() -> None:
    """Keep a batch archive provable: add standalone reports to it, extend its proof of time."""


@archive_group.command("add")
@click.argument("report", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "out", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The batch folder (the --out of `auditor batch`) whose ledger registers the report.")
@click.option("--trust", type=click.Path(exists=True, path_type=Path), default=None,
              help="Root certificate (PEM) or keys folder the report must verify under (default: your keys folder's root).")
@keys_dir_option
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority.")
@witness_option
@profile_settings_option
def add_command(
    report: Path, out: Path, trust: Path | None, keys_dir: Path | None, tsa_url: str | None, witness: Path | None,
    profile_path: Path | None,
) -> None:
    """Register the report folder REPORT in the batch folder OUT: it is verified, copied to
    OUT/reports/ and registered in OUT's ledger and index. A standalone folder cannot prove that
    none of its reviews was removed; under the ledger and its next checkpoint it can. With the
    seal's passphrase in $AUDITOR_KEY_PASSPHRASE the ledger is sealed at once."""
    from auditor.batch.add import add_report
    from auditor.verify import load_trust

    tsa_url, witness = archive_settings(profile_path, tsa_url, witness)
    entry = add_report(report, out, load_trust(trust))
    click.echo(escaped(f"added {report} to {out} as {entry.path} (ledger entry {entry.sequence})"))
    click.echo(escaped(seal_if_possible(out, keys_dir, tsa_url, witness)))


archive_group.add_command(extend_command)

COMMANDS = [archive_group]
