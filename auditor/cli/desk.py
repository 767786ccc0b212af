"""`auditor desk OUT`: the officer's desk, a local web app over a batch folder."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from auditor.cli.keys import keys_dir_option
from auditor.cli.ledger import archive_settings, profile_settings_option, seal_if_possible, witness_option
from auditor.cli.output import escaped

LOOPBACK = "127.0.0.1"


@click.command("desk")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--as", "reviewer_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Your reviewer keys folder (from `auditor keys add-reviewer`); without it the desk only shows.")
@click.option("--host", type=click.Choice([LOOPBACK]), default=LOOPBACK, show_default=True,
              help="The address to listen on: this machine only.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port to listen on (default: a free one).")
@click.option("--trust", type=click.Path(path_type=Path), default=None,
              help="Root certificate (PEM) or keys folder the reports must verify under (default: the root of --as, "
              "else your keys folder's).")
@click.option("--no-browser", is_flag=True, help="Print the desk's address without opening a browser.")
@click.option("--tsa-url", envvar="AUDITOR_TSA_URL", metavar="URL", help="RFC 3161 timestamp authority for reviews.")
@keys_dir_option
@witness_option
@profile_settings_option
def desk_command(
    out: Path, reviewer_dir: Path | None, host: str, port: int, trust: Path | None, no_browser: bool,
    tsa_url: str | None, keys_dir: Path | None, witness: Path | None, profile_path: Path | None,
) -> None:
    """Review the reports of a batch folder OUT in your browser: the queue (most urgent first), each
    report with its clip, and your decision, signed exactly as `auditor review` signs it. The desk
    listens on 127.0.0.1 only, behind a secret token in the address it prints; your key's
    passphrase is asked once in the page and kept in memory only. Each decision is registered in
    the batch ledger, which is sealed at once when the seal's passphrase is in $AUDITOR_KEY_PASSPHRASE
    (seal keys: --keys). Stop it with Ctrl-C."""
    import threading
    import webbrowser

    import uvicorn

    from auditor.archive import LEDGER_NAME
    from auditor.desk.app import Desk, create_app
    from auditor.desk.session import DeskSession, certificate_fingerprint
    from auditor.errors import ArchiveError, SigningError
    from auditor.verify import load_trust

    if not (out / LEDGER_NAME).is_file():
        raise ArchiveError(f"desk: {out} holds no {LEDGER_NAME}: give a batch folder (the --out of `auditor batch`)")
    if reviewer_dir is not None and certificate_fingerprint(reviewer_dir) is None:
        raise SigningError(f"desk: {reviewer_dir} holds no reviewer certificate: give the folder of `auditor keys add-reviewer`")
    tsa_url, witness = archive_settings(profile_path, tsa_url, witness)
    anchors = load_trust(trust if trust is not None else reviewer_dir)
    listener = _listen(host, port)
    port = listener.getsockname()[1]
    session = DeskSession(reviewer_dir)
    desk = Desk(out, session, anchors, lambda folder: seal_if_possible(folder, keys_dir, tsa_url, witness), tsa_url)
    url = f"http://{host}:{port}/?token={session.token}"
    click.echo(escaped(f"auditor desk: serving {out} at {url}"))
    click.echo("open that address in your browser on this machine; stop with Ctrl-C", err=True)
    if not no_browser:
        webbrowser.open(url)
    threading.Thread(target=desk.warm, name="verify-batch", daemon=True).start()
    config = uvicorn.Config(create_app(desk, port), log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C or SIGTERM again once it has stopped
        click.echo("auditor desk: stopped; every decision saved so far is signed and registered", err=True)


def _listen(host: str, port: int) -> socket.socket:
    from auditor.errors import AuditorError

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise AuditorError(f"desk: cannot listen on {host}:{port} ({exc.strerror}); choose another --port, or 0 for any free one") from exc
    listener.listen(64)
    return listener


COMMANDS = [desk_command]
