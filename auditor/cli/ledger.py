"""`auditor ledger head OUT` and `auditor ledger seal OUT`: the checkpoints of a batch ledger."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.keys import keys_dir_option, load_signing_identity
from auditor.cli.output import escaped

WITNESS_ENV = "AUDITOR_WITNESS_DIR"
MAX_LISTED = 10  # newly sealed entries named by `ledger seal`

witness_option = click.option(
    "--witness", type=click.Path(file_okay=False, path_type=Path), envvar=WITNESS_ENV, default=None,
    help=f"Folder that receives a copy of every checkpoint (default: ${WITNESS_ENV}, else the profile's "
    "witness_dir); keep it on another disk.",
)
profile_settings_option = click.option(
    "--profile", "profile_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Deployment profile (TOML) whose machine settings apply where no option gives them: tsa_url, witness_dir.",
)


def archive_settings(profile_path: Path | None, tsa_url: str | None, witness: Path | None) -> tuple[str | None, Path | None]:
    """The timestamp authority and the witness folder: the options (or their environment
    variables), else the profile's machine settings."""
    if profile_path is None:
        return tsa_url, witness
    from auditor.profile import read_profile

    local = read_profile(profile_path)
    return tsa_url or local.tsa_url, witness or local.witness_dir


@click.group("ledger")
def ledger_group() -> None:
    """The sealed checkpoints of a batch folder's ledger."""


@ledger_group.command("head")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
def head_command(out: Path) -> None:
    """Print the SHA-256 of the last checkpoint of OUT's ledger. Keep it elsewhere (a ticket, a
    second disk): `auditor verify OUT --head HASH` then fails when the ledger was cut back to an
    earlier checkpoint, or replaced by another."""
    from auditor.archive.checkpoint import last_checkpoint

    entry, digest = last_checkpoint(out)
    click.echo(digest)
    click.echo(f"checkpoint at ledger entry {entry.sequence} ({entry.recorded_at})", err=True)


@ledger_group.command("seal")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@keys_dir_option
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority.")
@witness_option
@profile_settings_option
def seal_command(
    out: Path, keys_dir: Path | None, tsa_url: str | None, witness: Path | None, profile_path: Path | None
) -> None:
    """Append a checkpoint to OUT's ledger, signed by the seal: it covers every entry so far, so
    that `auditor verify OUT` notices any later removal. Run it after reviews or submissions
    recorded without the seal, and once on a batch folder written before checkpoints. Seal only a
    folder you know to be intact: a checkpoint vouches for what the ledger holds now.
    Passphrase: $AUDITOR_KEY_PASSPHRASE or a prompt."""
    from auditor.archive.chain import read_chain
    from auditor.archive.checkpoint import write_checkpoint

    tsa_url, witness = archive_settings(profile_path, tsa_url, witness)
    identity = load_signing_identity(keys_dir)
    entry = write_checkpoint(out, identity, tsa_url=tsa_url, witness=witness)
    if entry is None:
        click.echo("nothing to seal: the last ledger entry is a checkpoint already")
        return
    click.echo(escaped(f"sealed {entry.sequence - 1} ledger entries of {out} (checkpoint: entry {entry.sequence})"))
    entries = read_chain(out).entries[: entry.sequence - 1]
    start = max((e.sequence for e in entries if e.kind == "checkpoint"), default=0)
    fresh = [f"{e.sequence} ({e.kind} {e.path})" for e in entries[start:]]
    more = f" and {len(fresh) - MAX_LISTED} more" if len(fresh) > MAX_LISTED else ""
    click.echo(escaped(f"newly sealed: {', '.join(fresh[:MAX_LISTED])}{more}; if you did not write them, run `auditor verify {out}`"))


COMMANDS = [ledger_group]


def seal_if_possible(out: Path, keys_dir: Path | None, tsa_url: str | None, witness: Path | None) -> str:
    """Seal OUT's ledger when the seal's key and its passphrase (in the environment: no prompt) are
    at hand; one line saying so, or that the change awaits a checkpoint."""
    from auditor.archive.checkpoint import write_checkpoint
    from auditor.errors import AuditorError
    from auditor.keys import PASSPHRASE_ENV, IdentityPaths, default_keys_dir
    from auditor.keys.protection import passphrase_from_env

    awaits = f"it awaits a checkpoint: run `auditor ledger seal {out}` with the seal"
    if passphrase_from_env() is None or not IdentityPaths.of(keys_dir or default_keys_dir()).key.is_file():
        return f"{awaits} (or give --keys and {PASSPHRASE_ENV} next time)"
    try:
        entry = write_checkpoint(out, load_signing_identity(keys_dir), tsa_url=tsa_url, witness=witness)
    except AuditorError as exc:
        return f"{awaits} (the seal could not seal it: {exc})"
    return f"ledger sealed (checkpoint: entry {entry.sequence})" if entry else "ledger sealed already"
