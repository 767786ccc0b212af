"""Attacks on the seal's keys and certificates (issue 10: finding 10, and finding 5 from the certificate side).

Finding 10: key files used PBKDF2 with 2 048 iterations, and the root key shared the daily
seal's passphrase, so whoever read `AUDITOR_KEY_PASSPHRASE` (finding 1 did) could also make new
trusted signers. Finding 5: seals carried no document-signing EKU, and `keys import` took
certificates that verification must refuse. Each test runs `auditor keys ...` as a user would
and inspects the files it leaves, independently of `auditor.keys`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import auditor.cli
from auditor.errors import SigningError
from auditor.keys import import_identity
from auditor.quiet import QUIET_ENVIRONMENT

SEAL_PASSPHRASE = "daily seal passphrase"
ROOT_PASSPHRASE = "offline root passphrase"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@pytest.fixture
def keys_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """`auditor keys init` with both passphrases in the environment; its stdout in `init.out`."""
    monkeypatch.setattr(auditor.cli, "COMMAND_MODULES", ("keys",))
    monkeypatch.setenv("AUDITOR_KEY_PASSPHRASE", SEAL_PASSPHRASE)
    monkeypatch.setenv("AUDITOR_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
    folder = tmp_path / "keys"
    saved = {name: os.environ.get(name) for name in QUIET_ENVIRONMENT}
    try:
        code = auditor.cli.main(["keys", "init", "--organisation", "City Transit", "--keys", str(folder)])
    finally:  # main() sets them for its child processes; later tests' processes must not inherit them
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    out, err = capsys.readouterr()
    assert code == 0, err
    (tmp_path / "init.out").write_text(out)
    return folder


def _kdf(path: Path) -> dict[str, object]:
    """The PBES2 parameters of a PKCS#8 encrypted key file, read with asn1crypto alone."""
    kind, _, der = asn1_pem.unarmor(path.read_bytes())
    assert kind == "ENCRYPTED PRIVATE KEY"
    algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
    assert algorithm["algorithm"].native == "pbes2"
    params = algorithm["parameters"]
    kdf = params["key_derivation_func"]
    return {
        "kdf": kdf["algorithm"].native,
        "iterations": kdf["parameters"]["iteration_count"].native,
        "prf": kdf["parameters"]["prf"]["algorithm"].native,
        "cipher": params["encryption_scheme"]["algorithm"].native,
    }


@pytest.mark.parametrize("name", ["seal.key.pem", "root.key.pem"])
def test_key_files_resist_offline_guessing(keys_folder: Path, name: str) -> None:
    """Finding 10: each passphrase guess against a stolen key file must cost ≥ 600 000 PBKDF2 rounds."""
    params = _kdf(keys_folder / name)
    assert params["kdf"] == "pbkdf2" and params["prf"] == "sha256" and params["cipher"] == "aes256_cbc"
    assert params["iterations"] >= 600_000, params  # the old code wrote 2 048
    secret = ROOT_PASSPHRASE if name == "root.key.pem" else SEAL_PASSPHRASE
    done = subprocess.run(
        ["openssl", "pkey", "-in", str(keys_folder / name), "-passin", f"pass:{secret}", "-noout"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr  # still a standard file other tools read


def test_stolen_seal_passphrase_does_not_open_the_root_key(keys_folder: Path, tmp_path: Path) -> None:
    """Finding 10: the seal passphrase in the signing host's environment must not unlock the root."""
    root_pem = (keys_folder / "root.key.pem").read_bytes()
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(root_pem, SEAL_PASSPHRASE.encode())
    assert serialization.load_pem_private_key(root_pem, ROOT_PASSPHRASE.encode()) is not None
    out = (tmp_path / "init.out").read_text()
    assert f"move {keys_folder / 'root.key.pem'} offline" in out


def test_seal_certificate_is_for_document_signing_only(keys_folder: Path) -> None:
    """Finding 5: `keys init` gives the seal a document-signing EKU, non-critical, and no CA power."""
    cert = x509.load_pem_x509_certificate((keys_folder / "seal.cert.pem").read_bytes())
    purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert set(purposes.value) == {DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION}
    assert not purposes.critical
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=not sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    *extensions: x509.ExtensionType,
) -> x509.Certificate:
    """A certificate for `key` signed by `signer`; EKU non-critical, other extensions critical."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=not isinstance(extension, x509.ExtendedKeyUsage))
    return builder.sign(signer, hashes.SHA256())


BAD_SEALS = {
    "server-auth-only": (
        x509.BasicConstraints(ca=False, path_length=None),
        _usage(sign=True, ca=False),
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
    ),
    "a-ca": (x509.BasicConstraints(ca=True, path_length=0), _usage(sign=True, ca=True)),
    "no-digital-signature": (x509.BasicConstraints(ca=False, path_length=None), _usage(sign=False, ca=False)),
}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("server-auth-only", "is not for signing documents"),
        ("a-ca", "is a CA certificate"),
        ("no-digital-signature", "does not allow signing"),
    ],
)
def test_import_refuses_a_seal_that_verification_would_reject(tmp_path: Path, kind: str, message: str) -> None:
    """Finding 5: `keys import` must not install a signer whose reports could never verify."""
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Org root")])
    root = _cert(
        "Org root", root_key, root_name, root_key, x509.BasicConstraints(ca=True, path_length=None), _usage(sign=False, ca=True)
    )
    leaf = _cert(f"Seal {kind}", key, root.subject, root_key, *BAD_SEALS[kind])
    pem = serialization.Encoding.PEM
    source = tmp_path / "seal.pem"
    source.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + leaf.public_bytes(pem)
        + root.public_bytes(pem)
    )
    with pytest.raises(SigningError, match=message) as caught:
        import_identity([source], tmp_path / "imported", SEAL_PASSPHRASE)
    assert "\n" not in str(caught.value) and f"CN=Seal {kind}" in str(caught.value)
    assert not (tmp_path / "imported" / "seal.key.pem").exists()
