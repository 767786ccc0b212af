"""The organisation seal: creation, import, loading, and one clear error per unusable identity."""

from __future__ import annotations

import datetime as dt
import io
import stat
import subprocess
from pathlib import Path

import click
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

import auditor.cli
import auditor.keys.protection
from auditor.cli.keys import load_signing_identity, signing_options
from auditor.errors import SigningError
from auditor.keys import (
    DOCUMENT_SIGNING_EKU,
    KDF_ITERATIONS,
    ROOT_KEY_FILE,
    IdentityPaths,
    create_identity,
    default_keys_dir,
    import_identity,
    issue_identity,
    key_protection,
    load_identity,
    read_certificates,
    rekey_key_file,
)

PASSPHRASE = "correct horse battery"
ROOT_PASSPHRASE = "root of the evidence seal"


@pytest.fixture(scope="module")
def seal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys") / "seal"
    create_identity(folder, PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Test seal", organisation="Test Org")
    return folder


def _copy_identity(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    return dst


def _reissue(folder: Path, *, start: dt.datetime, end: dt.datetime, key: object | None = None) -> None:
    """Replace seal.cert.pem with a certificate signed by the folder's root, for `key` and dates."""
    paths = IdentityPaths.of(folder)
    root_key = serialization.load_pem_private_key((folder / ROOT_KEY_FILE).read_bytes(), ROOT_PASSPHRASE.encode())
    root = read_certificates(paths.root)[0]
    old = read_certificates(paths.cert)[0]
    public = key.public_key() if key is not None else old.public_key()  # type: ignore[attr-defined]
    cert = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(root.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_create_writes_encrypted_key_0600_and_a_chain(seal_dir: Path) -> None:
    paths = IdentityPaths.of(seal_dir)
    for key_file in (paths.key, seal_dir / ROOT_KEY_FILE):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        protection = key_protection(key_file)
        assert protection.strong
        assert protection.description == f"PBKDF2-HMAC-SHA256, {KDF_ITERATIONS} iterations, AES-256-CBC"
    cert, root = read_certificates(paths.cert)[0], read_certificates(paths.root)[0]
    cert.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert cert.public_key().key_size == 3072  # type: ignore[union-attr]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(purposes.value) == [DOCUMENT_SIGNING_EKU, x509.ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert not purposes.critical
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(x509.ExtensionNotFound):
        root.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def test_openssl_reads_the_key_files(seal_dir: Path) -> None:
    for key_file, secret in ((IdentityPaths.of(seal_dir).key, PASSPHRASE), (seal_dir / ROOT_KEY_FILE, ROOT_PASSPHRASE)):
        done = subprocess.run(
            ["openssl", "pkey", "-in", str(key_file), "-passin", f"pass:{secret}", "-noout", "-text"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and "Private-Key: (3072 bit" in done.stdout, done.stderr
    wrong = subprocess.run(
        ["openssl", "pkey", "-in", str(seal_dir / ROOT_KEY_FILE), "-passin", f"pass:{PASSPHRASE}", "-noout"],
        capture_output=True,
    )
    assert wrong.returncode != 0


def test_root_passphrase_must_differ_and_be_long_enough(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="root key's passphrase must differ from the signing key's"):
        create_identity(tmp_path / "same", PASSPHRASE, root_passphrase=PASSPHRASE, common_name="x", organisation="y")
    with pytest.raises(SigningError, match="at least 8 characters: set AUDITOR_ROOT_PASSPHRASE"):
        create_identity(tmp_path / "short", PASSPHRASE, root_passphrase="short", common_name="x", organisation="y")
    assert not (tmp_path / "same").exists() and not (tmp_path / "short").exists()


def test_p256_identity(tmp_path: Path) -> None:
    create_identity(
        tmp_path / "k", PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="EC seal", organisation="Org", key_type="p256"
    )
    identity = load_identity(tmp_path / "k", PASSPHRASE)
    assert isinstance(identity.key, ec.EllipticCurvePrivateKey)
    assert identity.info.key_type == "p256"


def _count_key_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every key file `auditor.keys` decrypts from now on."""
    decrypted: list[Path] = []
    read_key = auditor.keys.protection.read_key

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        decrypted.append(Path(path))
        return read_key(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(auditor.keys.protection, "read_key", counting)
    return decrypted


def test_load_is_cached(seal_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _copy_identity(seal_dir, tmp_path / "copy")
    decrypted = _count_key_reads(monkeypatch)
    first = load_identity(fresh, PASSPHRASE)
    second = load_identity(fresh, PASSPHRASE)
    assert second is first and decrypted == [fresh / "seal.key.pem"]
    assert first.seal_info()["certificate_sha256"] == first.cert.fingerprint(hashes.SHA256()).hex()
    (fresh / "identity.json").write_text((fresh / "identity.json").read_text() + " ")  # a changed file: parse again
    assert load_identity(fresh, PASSPHRASE) is not first and len(decrypted) == 2


def test_daily_seal_never_reads_the_root_key(seal_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "daily")
    opened: list[str] = []
    real_open = open

    def spying_open(file: object, *args: object, **kwargs: object) -> object:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spying_open)
    monkeypatch.setattr("io.open", spying_open)
    assert load_identity(folder, PASSPHRASE).info.common_name == "Test seal"
    assert any(name.endswith("seal.key.pem") for name in opened)
    assert not any(name.endswith(ROOT_KEY_FILE) for name in opened)


def test_wrong_passphrase(seal_dir: Path) -> None:
    with pytest.raises(SigningError, match=r"wrong passphrase for key .*seal\.key\.pem.*AUDITOR_KEY_PASSPHRASE"):
        load_identity(seal_dir, "not the passphrase")


def test_missing_key(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match=r"no signing key at .*auditor keys init"):
        load_identity(tmp_path / "nowhere", PASSPHRASE)


def test_missing_passphrase(seal_dir: Path) -> None:
    with pytest.raises(SigningError, match=r"no passphrase .* set AUDITOR_KEY_PASSPHRASE"):
        load_identity(seal_dir, None)


def test_expired_certificate(seal_dir: Path, tmp_path: Path) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "expired")
    now = dt.datetime.now(dt.UTC)
    _reissue(folder, start=now - dt.timedelta(days=30), end=now - dt.timedelta(days=1))
    with pytest.raises(SigningError, match=r"certificate .*CN=Test seal expired on .*auditor keys init"):
        load_identity(folder, PASSPHRASE)


def test_not_yet_valid_certificate(seal_dir: Path, tmp_path: Path) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "future")
    now = dt.datetime.now(dt.UTC)
    _reissue(folder, start=now + dt.timedelta(days=2), end=now + dt.timedelta(days=30))
    with pytest.raises(SigningError, match=r"is not valid yet .*check the system clock"):
        load_identity(folder, PASSPHRASE)


def test_key_and_certificate_that_do_not_match(seal_dir: Path, tmp_path: Path) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "mismatch")
    now = dt.datetime.now(dt.UTC)
    _reissue(folder, start=now, end=now + dt.timedelta(days=3), key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SigningError, match="does not belong to the private key"):
        load_identity(folder, PASSPHRASE)


def test_keys_are_never_overwritten(seal_dir: Path) -> None:
    before = (seal_dir / "seal.key.pem").read_bytes()
    with pytest.raises(SigningError, match="already exists"):
        create_identity(seal_dir, PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="x", organisation="y")
    assert (seal_dir / "seal.key.pem").read_bytes() == before


def test_short_passphrase_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="at least 8 characters"):
        create_identity(tmp_path / "k", "short", root_passphrase=ROOT_PASSPHRASE, common_name="x", organisation="y")
    assert not (tmp_path / "k" / "seal.key.pem").exists()


def test_issue_identity_chains_to_the_same_root(seal_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decrypted = _count_key_reads(monkeypatch)
    issue_identity(seal_dir, ROOT_PASSPHRASE, tmp_path / "reviewer", "reviewer passphrase", common_name="Reviewer A")
    assert decrypted == [seal_dir / ROOT_KEY_FILE]  # the seal's key (and passphrase) is not needed
    reviewer = load_identity(tmp_path / "reviewer", "reviewer passphrase")
    seal = load_identity(seal_dir, PASSPHRASE)
    reviewer.cert.verify_directly_issued_by(seal.root)
    assert reviewer.root == seal.root and reviewer.info.source == "issued"
    assert reviewer.info.organisation == "Test Org"
    assert DOCUMENT_SIGNING_EKU in reviewer.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert key_protection(tmp_path / "reviewer" / "seal.key.pem").strong


def test_issue_identity_with_the_root_key_kept_offline(seal_dir: Path, tmp_path: Path) -> None:
    ca = _copy_identity(seal_dir, tmp_path / "ca")
    offline = tmp_path / "usb" / ROOT_KEY_FILE
    offline.parent.mkdir()
    (ca / ROOT_KEY_FILE).rename(offline)
    with pytest.raises(SigningError, match=r"no root key at .*root\.key\.pem: bring the root key"):
        issue_identity(ca, ROOT_PASSPHRASE, tmp_path / "r0", "reviewer passphrase", common_name="R")
    with pytest.raises(SigningError, match=r"wrong passphrase for key .*root\.key\.pem.*AUDITOR_ROOT_PASSPHRASE"):
        issue_identity(ca, PASSPHRASE, tmp_path / "r1", "reviewer passphrase", common_name="R", root_key=offline)
    with pytest.raises(SigningError, match="must differ"):
        issue_identity(ca, ROOT_PASSPHRASE, tmp_path / "r2", ROOT_PASSPHRASE, common_name="R", root_key=offline)
    issue_identity(ca, ROOT_PASSPHRASE, tmp_path / "r3", "reviewer passphrase", common_name="R", root_key=offline)
    assert load_identity(tmp_path / "r3", "reviewer passphrase").root == read_certificates(ca / "root.cert.pem")[0]
    assert not any((tmp_path / name / "seal.key.pem").exists() for name in ("r0", "r1", "r2"))


def _external_ca(tmp_path: Path) -> tuple[object, x509.Certificate, x509.Certificate, x509.Certificate]:
    """An organisation CA (root → intermediate → signer) made outside auditor."""
    create_identity(
        tmp_path / "ca", PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="CA signer",
        organisation="External Org", key_type="p256",
    )
    ca = load_identity(tmp_path / "ca", PASSPHRASE)
    root_key = serialization.load_pem_private_key((tmp_path / "ca" / ROOT_KEY_FILE).read_bytes(), ROOT_PASSPHRASE.encode())
    now = dt.datetime.now(dt.UTC)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "External issuing CA")])
    inter = (
        x509.CertificateBuilder()
        .subject_name(inter_name)
        .issuer_name(ca.root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Imported seal")]))
        .issuer_name(inter_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=50))
        .add_extension(_SIGNING_USAGE, critical=True)
        .sign(inter_key, hashes.SHA256())
    )
    return key, leaf, inter, ca.root


_SIGNING_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def test_import_pkcs12_with_chain(tmp_path: Path) -> None:
    key, leaf, inter, root = _external_ca(tmp_path)
    p12 = pkcs12.serialize_key_and_certificates(
        b"seal", key, leaf, [inter, root], serialization.BestAvailableEncryption(b"p12 secret")  # type: ignore[arg-type]
    )
    (tmp_path / "seal.p12").write_bytes(p12)
    with pytest.raises(SigningError, match="wrong import passphrase"):
        import_identity(tmp_path / "seal.p12", tmp_path / "bad", PASSPHRASE, "nope")
    import_identity(tmp_path / "seal.p12", tmp_path / "imported", PASSPHRASE, "p12 secret")
    identity = load_identity(tmp_path / "imported", PASSPHRASE)
    assert identity.cert == leaf and identity.intermediates == (inter,) and identity.root == root
    assert identity.info.source == "imported"
    assert stat.S_IMODE((tmp_path / "imported" / "seal.key.pem").stat().st_mode) == 0o600


def test_import_pem_files_and_missing_root(tmp_path: Path) -> None:
    key, leaf, inter, root = _external_ca(tmp_path)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pem secret"))  # type: ignore[attr-defined]
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
    (tmp_path / "root.pem").write_bytes(root.public_bytes(pem))
    with pytest.raises(SigningError, match=r"stops before a root.*add the certificate"):
        import_identity([tmp_path / "key.pem", tmp_path / "cert.pem"], tmp_path / "noroot", PASSPHRASE, "pem secret")
    import_identity([tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "root.pem"], tmp_path / "ok", PASSPHRASE, "pem secret")
    assert load_identity(tmp_path / "ok", PASSPHRASE).root == root


def test_default_keys_dir_follows_auditor_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path))
    assert default_keys_dir() == tmp_path / "keys"
    monkeypatch.delenv("AUDITOR_HOME")
    assert default_keys_dir() == Path.home() / ".config" / "auditor" / "keys"


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run `auditor keys|verify ...` in-process through the real top level; returns (code, out, err)."""
    monkeypatch.setattr(auditor.cli, "COMMAND_MODULES", ("keys", "verify"))
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDITOR_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("AUDITOR_ROOT_PASSPHRASE", raising=False)

    def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = auditor.cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_keys_init_from_env_and_show(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AUDITOR_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
    code, out, err = cli("keys", "init", "--organisation", "City Transit", capsys=capsys)
    assert code == 0, err
    keys = tmp_path / "home" / "keys"
    assert "CN=City Transit evidence seal" in out and "mode 600" in out
    assert f"NEXT: move {keys / ROOT_KEY_FILE} offline" in out and "keep its passphrase apart" in out
    assert load_identity(keys, PASSPHRASE).info.organisation == "City Transit"
    code, out, _ = cli("keys", "show", capsys=capsys)
    assert code == 0 and "root:" in out and str(keys / "root.cert.pem") in out
    assert out.count(f"PBKDF2-HMAC-SHA256, {KDF_ITERATIONS} iterations, AES-256-CBC)") == 2 and "WEAK" not in out
    assert f"root key:    {keys / ROOT_KEY_FILE}" in out and "keep it offline" in out
    code, _, err = cli("keys", "init", "--organisation", "Again", capsys=capsys)
    assert code == 6 and err.strip().startswith("auditor: error:") and "already exists" in err


class TerminalInput(io.StringIO):
    """Typed answers, on what passes for a terminal (without one, auditor asks for the variables instead)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_cli_keys_init_prompts_and_refuses_passphrase_argument(cli, monkeypatch, tmp_path: Path, capsys) -> None:
    answers = f"{PASSPHRASE}\n{PASSPHRASE}\n{ROOT_PASSPHRASE}\n{ROOT_PASSPHRASE}\n"
    monkeypatch.setattr("sys.stdin", TerminalInput(answers))
    code, _, err = cli("keys", "init", "--organisation", "Org", "--key-type", "p256", "--keys", str(tmp_path / "k"), capsys=capsys)
    assert code == 0, err
    assert "Passphrase for the root key" in err
    assert load_identity(tmp_path / "k", PASSPHRASE).info.key_type == "p256"
    root_pem = (tmp_path / "k" / ROOT_KEY_FILE).read_bytes()
    assert serialization.load_pem_private_key(root_pem, ROOT_PASSPHRASE.encode()) is not None
    code, _, err = cli("keys", "init", "--organisation", "Org", "--passphrase", "x", capsys=capsys)
    assert code == 2 and "No such option" in err


def test_cli_keys_init_refuses_one_passphrase_for_both_keys(cli, monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AUDITOR_ROOT_PASSPHRASE", PASSPHRASE)
    code, out, err = cli("keys", "init", "--organisation", "Org", capsys=capsys)
    lines = err.strip().splitlines()
    assert code == 6 and out == "" and len(lines) == 1 and "must differ" in lines[0], err
    assert not (tmp_path / "home" / "keys").exists()


def _old_key_files(folder: Path) -> None:
    """Write both keys as versions before the strong KDF did: PBKDF2 2 048 rounds, one passphrase."""
    for name, secret in (("seal.key.pem", PASSPHRASE), (ROOT_KEY_FILE, ROOT_PASSPHRASE)):
        key = serialization.load_pem_private_key((folder / name).read_bytes(), secret.encode())
        weak = serialization.BestAvailableEncryption(PASSPHRASE.encode())
        (folder / name).write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, weak))


def test_old_key_files_still_load_and_show_says_they_are_weak(cli, monkeypatch, seal_dir: Path, tmp_path: Path, capsys) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "old")
    _old_key_files(folder)
    assert not key_protection(folder / "seal.key.pem").strong
    assert key_protection(folder / "seal.key.pem").description == "PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC"
    assert load_identity(folder, PASSPHRASE).info.common_name == "Test seal"
    code, out, _ = cli("keys", "show", "--keys", str(folder), capsys=capsys)
    assert code == 0 and out.count("2048 iterations, AES-256-CBC) WEAK: re-encrypt it with `auditor keys rekey`") == 2


def test_cli_rekey_re_encrypts_in_place_and_gives_the_root_its_own_passphrase(
    cli, monkeypatch, seal_dir: Path, tmp_path: Path, capsys
) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "old")
    _old_key_files(folder)
    before = {name: (folder / name).read_bytes() for name in ("seal.key.pem", ROOT_KEY_FILE)}
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AUDITOR_ROOT_PASSPHRASE", PASSPHRASE)
    code, _, err = cli("keys", "rekey", "--keys", str(folder), capsys=capsys)
    assert code == 6 and "must differ" in err
    assert all((folder / name).read_bytes() == data for name, data in before.items())
    monkeypatch.setenv("AUDITOR_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
    code, out, err = cli("keys", "rekey", "--keys", str(folder), capsys=capsys)
    assert code == 0, err
    assert out.count(f"PBKDF2-HMAC-SHA256, {KDF_ITERATIONS} iterations") == 2
    for name in ("seal.key.pem", ROOT_KEY_FILE):
        assert key_protection(folder / name).strong and stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert load_identity(folder, PASSPHRASE).info.common_name == "Test seal"
    with pytest.raises(ValueError):
        serialization.load_pem_private_key((folder / ROOT_KEY_FILE).read_bytes(), PASSPHRASE.encode())
    serialization.load_pem_private_key((folder / ROOT_KEY_FILE).read_bytes(), ROOT_PASSPHRASE.encode())
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in seal_dir.iterdir())  # no temporary files
    code, out, _ = cli("keys", "rekey", "--keys", str(folder), capsys=capsys)
    assert code == 0 and "nothing to do" in out


def test_rekey_key_file_keeps_or_changes_the_passphrase(seal_dir: Path, tmp_path: Path) -> None:
    folder = _copy_identity(seal_dir, tmp_path / "k")
    key_file = folder / "seal.key.pem"
    with pytest.raises(SigningError, match="wrong passphrase for key"):
        rekey_key_file(key_file, "not the passphrase")
    rekey_key_file(key_file, PASSPHRASE, "a new passphrase")
    assert load_identity(folder, "a new passphrase").info.common_name == "Test seal"


def test_cli_keys_import_pkcs12(cli, monkeypatch, tmp_path: Path, capsys) -> None:
    key, leaf, inter, root = _external_ca(tmp_path)
    p12 = pkcs12.serialize_key_and_certificates(b"s", key, leaf, [inter, root], serialization.BestAvailableEncryption(b"p12 secret"))  # type: ignore[arg-type]
    (tmp_path / "seal.p12").write_bytes(p12)
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AUDITOR_IMPORT_PASSPHRASE", "p12 secret")
    code, out, err = cli("keys", "import", str(tmp_path / "seal.p12"), capsys=capsys)
    assert code == 0, err
    assert "CN=Imported seal" in out
    assert load_identity(tmp_path / "home" / "keys", PASSPHRASE).cert == leaf


@click.command("sign-probe")
@signing_options
def _sign_probe(keys_dir: Path | None, tsa_url: str | None, no_sign: bool) -> None:
    """Loads the seal the way report-writing commands do."""
    identity = load_signing_identity(keys_dir)
    click.echo(f"loaded {identity.subject} tsa={tsa_url} no_sign={no_sign}")


def _broken_identity(kind: str, seal_dir: Path, tmp_path: Path) -> Path:
    folder = _copy_identity(seal_dir, tmp_path / kind)
    now = dt.datetime.now(dt.UTC)
    if kind == "missing-key":
        (folder / "seal.key.pem").unlink()
    elif kind == "expired":
        _reissue(folder, start=now - dt.timedelta(days=30), end=now - dt.timedelta(days=1))
    elif kind == "not-yet-valid":
        _reissue(folder, start=now + dt.timedelta(days=1), end=now + dt.timedelta(days=30))
    elif kind == "mismatch":
        _reissue(folder, start=now, end=now + dt.timedelta(days=3), key=ec.generate_private_key(ec.SECP256R1()))
    return folder


@pytest.mark.parametrize(
    ("kind", "passphrase", "expected"),
    [
        ("wrong-passphrase", "not the passphrase", "wrong passphrase for key"),
        ("missing-key", PASSPHRASE, "no signing key at"),
        ("expired", PASSPHRASE, "expired on"),
        ("not-yet-valid", PASSPHRASE, "is not valid yet"),
        ("mismatch", PASSPHRASE, "does not belong to the private key"),
    ],
)
def test_cli_unusable_identity_is_one_clear_line(
    cli, monkeypatch, capsys, seal_dir: Path, tmp_path: Path, kind: str, passphrase: str, expected: str
) -> None:
    folder = _broken_identity(kind, seal_dir, tmp_path)
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", passphrase)
    auditor.cli.cli.add_command(_sign_probe)
    code, out, err = cli("sign-probe", "--keys", str(folder), capsys=capsys)
    lines = err.strip().splitlines()
    assert code == 6 and out == ""
    assert len(lines) == 1 and lines[0].startswith("auditor: error: ") and expected in lines[0], err


def test_cli_signing_options_load_the_seal(cli, monkeypatch, capsys, seal_dir: Path) -> None:
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AUDITOR_TSA_URL", "http://tsa.invalid/")
    auditor.cli.cli.add_command(_sign_probe)
    code, out, _ = cli("sign-probe", "--keys", str(seal_dir), capsys=capsys)
    assert code == 0 and "CN=Test seal" in out and "tsa=http://tsa.invalid/" in out and "no_sign=False" in out
