"""`auditor keys`: create, import, show and re-encrypt the organisation seal; signing options.

Passphrases come from `AUDITOR_KEY_PASSPHRASE` (the seal's), `AUDITOR_ROOT_PASSPHRASE` (the
root key's), `AUDITOR_REVIEWER_PASSPHRASE` (a reviewer's) or a hidden prompt, never from an argument.
Other commands that write reports add `@signing_options` and call `load_signing_identity` before
any rendering, so that a wrong passphrase or an expired certificate fails before work is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from auditor.cli.output import escaped
from auditor.errors import SigningError
from auditor.explain.base import CHECK_NAMES
from auditor.keys import (
    CRL_FILE,
    DEFAULT_KEY_TYPE,
    DEFAULT_VALID_DAYS,
    KEY_TYPES,
    PASSPHRASE_ENV,
    REASONS,
    REVIEWER_PASSPHRASE_ENV,
    ROOT_KEY_FILE,
    ROOT_PASSPHRASE_ENV,
    IdentityPaths,
    KeyType,
    Reason,
    ReviewerPaths,
    RevocationUrls,
    SigningIdentity,
    Target,
    add_reviewer,
    check_passphrases_apart,
    create_identity,
    default_keys_dir,
    find_certificate,
    find_local_crl,
    import_identity,
    key_protection,
    load_identity,
    parse_serial,
    passphrase_from_env,
    read_certificates,
    read_crl,
    rekey_key_file,
    reviewer_paths,
    reviewer_role,
    revocation_of,
    revoke,
)
from auditor.keys.reviewers import check_new_reviewer, read_register
from auditor.signing.seal import TSA_ENV

IMPORT_PASSPHRASE_ENV = "AUDITOR_IMPORT_PASSPHRASE"
F = TypeVar("F", bound=Callable[..., object])

keys_dir_option = click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keys folder (default: $AUDITOR_HOME/keys, else ~/.config/auditor/keys).",
)


def revocation_url_options(func: F) -> F:
    """Add --crl-url and --ocsp-url: where verifiers find an issued certificate's revocation status."""
    func = click.option(
        "--ocsp-url", metavar="URL", default=None,
        help="OCSP responder written into the issued certificate (AIA); you run the responder.",
    )(func)
    return click.option(
        "--crl-url", metavar="URL", default=None,
        help=f"CRL distribution point written into the issued certificate; publish {CRL_FILE} there after every revoke.",
    )(func)


def skip_check_option(func: F) -> F:
    """Add --skip-check NAME (repeatable) to a report-writing command."""
    return click.option(
        "--skip-check", "skip_checks", multiple=True, type=click.Choice(CHECK_NAMES),
        help="Leave out one of the checks of how far the explanation can be trusted (repeatable); the report "
        "says it was not computed. All run by default; on large models the what-if search and the deletion "
        "curves cost the most.",
    )(func)


def signing_options(func: F) -> F:
    """Add --keys, --tsa-url (env AUDITOR_TSA_URL) and --no-sign to a report-writing command."""
    func = click.option(
        "--no-sign",
        is_flag=True,
        help="Write an unsigned draft: no signatures, every page marked UNSIGNED DRAFT.",
    )(func)
    func = click.option(
        "--tsa-url",
        envvar=TSA_ENV,
        default=None,
        metavar="URL",
        help="RFC 3161 timestamp authority: signatures become PAdES B-T (default: none, B-B). "
        f"Env: {TSA_ENV}.",
    )(func)
    return keys_dir_option(func)


def load_signing_identity(keys_dir: Path | None) -> SigningIdentity:
    """The seal in `keys_dir`, with the passphrase from the environment or a prompt."""
    paths = IdentityPaths.of(keys_dir or default_keys_dir())
    passphrase = _seal_passphrase(paths) if paths.key.is_file() else passphrase_from_env()
    return load_identity(paths.folder, passphrase)


def sanity_cache_key(identity: SigningIdentity | None) -> bytes | None:
    """The key that authenticates the sanity-check cache (`auditor.explain.sanity`), derived from
    the seal's private key: only whoever holds the seal writes figures its reports will use. None
    for an unsigned draft: the check is then computed afresh."""
    if identity is None:
        return None
    der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return hmac.new(der, b"auditor sanity-check cache", hashlib.sha256).digest()


def _new_passphrase() -> str:
    return passphrase_from_env() or _prompt(
        "Passphrase for the new key (min. 8 characters)", PASSPHRASE_ENV, "the new seal key", confirm=True
    )


def _new_root_passphrase() -> str:
    return os.environ.get(ROOT_PASSPHRASE_ENV) or _prompt(
        "Passphrase for the root key (min. 8 characters, not the seal's; keep it apart)",
        ROOT_PASSPHRASE_ENV,
        "the root key",
        confirm=True,
    )


def _root_passphrase() -> str:
    return os.environ.get(ROOT_PASSPHRASE_ENV) or _prompt("Passphrase of the root key", ROOT_PASSPHRASE_ENV, "the root key")


def _new_reviewer_passphrase(name: str) -> str:
    return os.environ.get(REVIEWER_PASSPHRASE_ENV) or _prompt(
        f"Passphrase for {name}'s new key and .p12 file (min. 8 characters)",
        REVIEWER_PASSPHRASE_ENV,
        f"{name}'s new key",
        confirm=True,
    )


def _seal_passphrase(paths: IdentityPaths) -> str:
    return passphrase_from_env() or _prompt(
        f"Passphrase of the signing key {paths.key}", PASSPHRASE_ENV, f"the signing key {paths.key}"
    )


def _prompt(text: str, env: str, what: str, confirm: bool = False) -> str:
    """A hidden prompt on a terminal; without one (a script, a pipe) a SigningError naming `env`."""
    if not sys.stdin.isatty():
        raise SigningError(f"no passphrase for {what}: set {env} (there is no terminal to ask on)")
    return str(click.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True))


@click.group("keys")
def keys_group() -> None:
    """Create, import and inspect the organisation seal that signs reports."""


@keys_group.command("init")
@keys_dir_option
@click.option("--organisation", required=True, help="Organisation named in the certificates.")
@click.option("--common-name", default=None, help="Signer name (default: '<organisation> evidence seal').")
@click.option(
    "--key-type",
    type=click.Choice(KEY_TYPES),
    default=DEFAULT_KEY_TYPE,
    show_default=True,
    help="RSA-3072 is checked by every common verifier; P-256 is smaller and faster.",
)
@click.option("--valid-days", type=click.IntRange(1, 36500), default=DEFAULT_VALID_DAYS, show_default=True)
@revocation_url_options
def init_command(
    keys_dir: Path | None, organisation: str, common_name: str | None, key_type: KeyType, valid_days: int,
    crl_url: str | None, ocsp_url: str | None,
) -> None:
    """Create a self-signed root and a signing certificate (the organisation seal).

    The seal's key is encrypted with the passphrase from AUDITOR_KEY_PASSPHRASE or a prompt, the
    root's key with its own passphrase from AUDITOR_ROOT_PASSPHRASE or a prompt; both mode 0600.
    Give root.cert.pem to whoever verifies reports; move root.key.pem offline. The root's
    revocation list (revoked.crl, empty) is written beside it.
    """
    folder = keys_dir or default_keys_dir()
    urls = RevocationUrls(crl_url, ocsp_url)
    paths = create_identity(
        folder,
        _new_passphrase(),
        root_passphrase=_new_root_passphrase(),
        common_name=common_name or f"{organisation} evidence seal",
        organisation=organisation,
        key_type=key_type,
        valid_days=valid_days,
        urls=urls,
    )
    click.echo(f"created the seal in {paths.folder}")
    _describe(paths)
    click.echo(
        f"NEXT: move {paths.folder / ROOT_KEY_FILE} offline (e.g. to an encrypted USB drive in a safe) and "
        "keep its passphrase apart from the seal's: it is needed only to issue reviewer certificates, "
        "and anyone holding it can make signers your verifiers trust."
    )


@keys_group.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@keys_dir_option
def import_command(sources: tuple[Path, ...], keys_dir: Path | None) -> None:
    """Import a key and its chain up to the organisation's root CA.

    SOURCES: one .p12/.pfx file, or PEM files holding the key, its certificate and the chain
    (root included). The source passphrase comes from AUDITOR_IMPORT_PASSPHRASE or a prompt;
    the imported key is stored encrypted with the passphrase from AUDITOR_KEY_PASSPHRASE or a
    prompt.
    """
    source_passphrase = os.environ.get(IMPORT_PASSPHRASE_ENV)
    if source_passphrase is None and _needs_passphrase(sources):
        source_passphrase = _prompt("Passphrase of the imported file", IMPORT_PASSPHRASE_ENV, "the imported file")
    paths = import_identity(list(sources), keys_dir or default_keys_dir(), _new_passphrase(), source_passphrase)
    click.echo(f"imported the seal into {paths.folder}")
    _describe(paths)


@keys_group.command("rekey")
@keys_dir_option
@click.option(
    "--root-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The root key's offline copy (default: root.key.pem in the keys folder, if there).",
)
def rekey_command(keys_dir: Path | None, root_key: Path | None) -> None:
    """Re-encrypt key files written with a weak KDF in place (atomically, mode 0600).

    The seal keeps its passphrase (AUDITOR_KEY_PASSPHRASE or a prompt). A root key from before
    this version shares the seal's passphrase: it gets its own, from AUDITOR_ROOT_PASSPHRASE or a
    prompt. Key files already strong are left as they are.
    """
    paths = IdentityPaths.of(keys_dir or default_keys_dir())
    root_path = root_key or paths.folder / ROOT_KEY_FILE
    weak = [p for p in (paths.key, root_path) if p.is_file() and not key_protection(p).strong]
    if not weak:
        click.echo(f"nothing to do: the key files in {paths.folder} already use the strong KDF")
        return
    passphrase = _seal_passphrase(paths)
    new_root = _new_root_passphrase() if root_path in weak else None
    if new_root is not None:
        check_passphrases_apart(passphrase, new_root)
    for path in weak:
        rekey_key_file(path, passphrase, None if path == paths.key else new_root)
        click.echo(f"re-encrypted {path}: {key_protection(path).description}")


@keys_group.command("add-reviewer")
@click.argument("name")
@click.option("--role", required=True, help="The reviewer's role, certified in the certificate (e.g. 'Duty officer').")
@keys_dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The reviewer's keys folder (default: <keys>/reviewers/<name as a slug>).",
)
@click.option(
    "--root-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The root key's offline copy (default: root.key.pem in the keys folder).",
)
@click.option("--renew", is_flag=True, help="Issue a new certificate to a reviewer who has one (it replaces the old).")
@revocation_url_options
def add_reviewer_command(
    name: str, role: str, keys_dir: Path | None, out_dir: Path | None, root_key: Path | None, renew: bool,
    crl_url: str | None, ocsp_url: str | None,
) -> None:
    """Issue reviewer NAME a signing certificate under the organisation root, naming their role.

    Writes the reviewer's keys folder (for `auditor review --as FOLDER`) and a PKCS#12 file for
    PDF readers. The root key's passphrase comes from AUDITOR_ROOT_PASSPHRASE or a prompt, the
    reviewer's new passphrase (key and .p12) from AUDITOR_REVIEWER_PASSPHRASE or a prompt.
    Without --crl-url/--ocsp-url, the certificate carries the seal certificate's URLs.
    """
    folder = keys_dir or default_keys_dir()
    urls = RevocationUrls(crl_url, ocsp_url) if crl_url or ocsp_url else None
    check_new_reviewer(read_register(folder), name.strip(), renew)  # refused before any passphrase is asked
    reviewer_paths(folder, name, out_dir, renew=renew)
    root_passphrase = _root_passphrase()
    paths = add_reviewer(
        folder, root_passphrase, name, role, _new_reviewer_passphrase(name), out=out_dir, root_key=root_key,
        renew=renew, urls=urls,
    )
    cert = read_certificates(paths.identity.cert)[0]
    click.echo(escaped(f"issued a reviewer certificate for {name.strip()} (role: {reviewer_role(cert)}) in {paths.identity.folder}"))
    _describe(paths.identity)
    _how_to_import(paths)


@keys_group.command("revoke")
@keys_dir_option
@click.option("--seal", is_flag=True, help="Revoke the seal of the keys folder.")
@click.option("--reviewer", metavar="NAME", default=None, help="Revoke reviewer NAME's current certificate.")
@click.option("--serial", metavar="HEX", default=None, help="Revoke the seal's or a registered reviewer's certificate by serial.")
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Revoke the certificate in this PEM/DER file (issued by this root).")
@click.option("--reason", type=click.Choice(REASONS), default="unspecified", show_default=True)
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]), default=None,
              help="When the key was compromised (ISO 8601 with zone, e.g. 2026-03-01T09:00:00+00:00): "
              "signatures made after it no longer count. Default: now.")
@click.option("--root-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The root key's offline copy (default: root.key.pem in the keys folder).")
def revoke_command(
    keys_dir: Path | None, seal: bool, reviewer: str | None, serial: str | None, cert_file: Path | None,
    reason: Reason, at: dt.datetime | None, root_key: Path | None,
) -> None:
    """Revoke the seal or a reviewer certificate: reissue the root's revocation list (revoked.crl).

    The root key's passphrase comes from AUDITOR_ROOT_PASSPHRASE or a prompt. Give the new
    revoked.crl to verifiers beside root.cert.pem (and publish it at the --crl-url, if any).
    """
    folder = keys_dir or default_keys_dir()
    target = Target(seal, reviewer, parse_serial(serial) if serial is not None else None, cert_file)
    cert = find_certificate(folder, target)  # refused before any passphrase is asked
    done = revoke(folder, _root_passphrase(), cert, reason=reason, at=at, root_key=root_key)
    click.echo(escaped(
        f"revoked {cert.subject.rfc4514_string({NameOID.TITLE: 'title'})} (serial {cert.serial_number:x}) "
        f"as of {done.revoked_at:%Y-%m-%d %H:%M:%S} UTC ({reason})"
    ))
    click.echo(f"  revocation list: {done.crl} (CRL number {done.number})")
    click.echo(f"NEXT: give {done.crl.name} to verifiers beside {IdentityPaths.of(folder).root.name}; publish it at the certificates' CRL URL, if any")


@keys_group.command("show")
@keys_dir_option
def show_command(keys_dir: Path | None) -> None:
    """Show the seal's signer, root, validity and key file permissions (no passphrase needed)."""
    paths = IdentityPaths.of(keys_dir or default_keys_dir())
    if not paths.cert.is_file():
        raise SigningError(f"no seal in {paths.folder}: run `auditor keys init` or `auditor keys import`")
    _describe(paths)


def _needs_passphrase(sources: tuple[Path, ...]) -> bool:
    """PKCS#12 files and encrypted PEM keys need a source passphrase."""
    for path in sources:
        if path.suffix.lower() in (".p12", ".pfx"):
            return True
        if b"ENCRYPTED" in path.read_bytes():
            return True
    return False


def _describe(paths: IdentityPaths) -> None:
    cert = read_certificates(paths.cert)[0]
    root = read_certificates(paths.root)[0]
    now = dt.datetime.now(dt.UTC)
    state = "valid" if cert.not_valid_before_utc <= now <= cert.not_valid_after_utc else "NOT VALID NOW"
    revoked = revocation_of(find_local_crl(paths.folder, root), cert)
    if revoked is not None:
        state = f"REVOKED as of {revoked.revocation_date_utc:%Y-%m-%d %H:%M} UTC"
    urls = RevocationUrls.of(cert)
    click.echo(f"  signer:      {escaped(cert.subject.rfc4514_string({NameOID.TITLE: 'title'}))}")
    click.echo(f"  certificate: SHA-256 {cert.fingerprint(hashes.SHA256()).hex()}; serial {cert.serial_number:x}")
    click.echo(f"  valid:       {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d} ({state})")
    click.echo(f"  revocation:  CRL {escaped(urls.crl_url or 'none')}; OCSP {escaped(urls.ocsp_url or 'none')}")
    click.echo(f"  root:        {escaped(root.subject.rfc4514_string())} (SHA-256 {root.fingerprint(hashes.SHA256()).hex()})")
    click.echo(f"  trust file:  {paths.root}  (give it to verifiers: auditor verify --trust)")
    crl = read_crl(paths.folder, root)
    if crl is not None:
        click.echo(f"  revocation list: {paths.folder / CRL_FILE} ({len(crl)} revoked; give it to verifiers with the trust file)")
    click.echo(f"  key file:    {_key_line(paths.key)}")
    root_key = paths.folder / ROOT_KEY_FILE
    if root_key.is_file():
        click.echo(f"  root key:    {_key_line(root_key)}; only issues certificates: keep it offline")


def _how_to_import(paths: ReviewerPaths) -> None:
    click.echo(f"  PKCS#12:     {paths.p12} (mode 600; key, certificate and chain; same passphrase)")
    click.echo("HOW TO USE IT:")
    click.echo(f"  command line: auditor review REPORT --as {paths.identity.folder} (passphrase in {REVIEWER_PASSPHRASE_ENV})")
    click.echo(
        "  Adobe Acrobat / Reader: Preferences > Signatures > Identities & Trusted Certificates > More > "
        f"Digital IDs > Add ID > 'My existing digital ID from a file' > {paths.p12.name}"
    )
    click.echo(f"  Okular, Evince (NSS): pk12util -i {paths.p12} -d sql:$HOME/.pki/nssdb")
    click.echo(
        f"  Give the file to the reviewer only (a USB drive, not e-mail) and the passphrase apart; "
        f"readers check the signature against {paths.identity.root.name}, which verifiers import as trusted."
    )


def _key_line(path: Path) -> str:
    """Where a key file is, its mode and its encryption, with a warning when weak."""
    if not path.exists():
        return f"{path} MISSING"
    protection = key_protection(path)
    warning = "" if protection.strong else " WEAK: re-encrypt it with `auditor keys rekey`"
    return f"{path} (mode {stat.S_IMODE(path.stat().st_mode):o}; {protection.description}){warning}"


COMMANDS = [keys_group]
