"""Reviewer identities (issue 14, item 2): `auditor keys add-reviewer` issues a certificate under
the organisation root that names the reviewer's role, in a keys folder `load_identity` reads, and
a PKCS#12 file that OpenSSL and cryptography open with the same passphrase."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from fixtures.cli import run_cli

from auditor.keys import (
    DOCUMENT_SIGNING_EKU,
    KDF_ITERATIONS,
    check_signing_certificate,
    create_identity,
    load_identity,
    read_certificates,
    reviewer_role,
    signed_by,
)

SEAL_PASSPHRASE = "seal passphrase here"
ROOT_PASSPHRASE = "root passphrase here"
REVIEWER_PASSPHRASE = "reviewer pässphrase"  # not ASCII: the PKCS#12 MAC key is derived from UTF-16
ROLE = "Duty officer, control room"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reviewers") / "keys"
    create_identity(folder, SEAL_PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Seal", organisation="Test Org")
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}
    return {**env, "AUDITOR_ROOT_PASSPHRASE": ROOT_PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": REVIEWER_PASSPHRASE, **extra}


@pytest.fixture(scope="module")
def reviewer(keys: Path) -> Path:
    """`auditor keys add-reviewer "Jane Doe" --role ROLE`, run once: the reviewer's folder."""
    run = run_cli("keys", "add-reviewer", "Jane Doe", "--role", ROLE, "--keys", str(keys), env=_env())
    assert run.returncode == 0, run.stderr
    folder = keys / "reviewers" / "jane-doe"
    assert f"PKCS#12:     {folder / 'jane-doe.p12'}" in run.stdout
    assert "Add ID" in run.stdout and f"--as {folder}" in run.stdout  # how to import it, how to use it
    return folder


def test_the_cli_writes_the_reviewer_folder_and_the_p12_private(reviewer: Path) -> None:
    assert sorted(p.name for p in reviewer.iterdir()) == [
        "chain.pem", "identity.json", "jane-doe.p12", "root.cert.pem", "seal.cert.pem", "seal.key.pem"]
    for name in ("seal.key.pem", "jane-doe.p12"):
        assert stat.S_IMODE((reviewer / name).stat().st_mode) == 0o600


def test_load_identity_reads_the_reviewer_with_the_role(reviewer: Path, keys: Path) -> None:
    identity = load_identity(reviewer, REVIEWER_PASSPHRASE)
    assert reviewer_role(identity) == ROLE and identity.info.role == ROLE and identity.info.source == "issued"
    assert identity.info.common_name == "Jane Doe" and identity.info.organisation == "Test Org"
    root = read_certificates(keys / "root.cert.pem")[0]
    assert identity.root == root and signed_by(identity.cert, root)


def test_the_certificate_obeys_the_signer_rules(reviewer: Path) -> None:
    cert = read_certificates(reviewer / "seal.cert.pem")[0]
    check_signing_certificate(cert)  # not a CA, digitalSignature/nonRepudiation, a signing EKU
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert DOCUMENT_SIGNING_EKU in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_the_p12_opens_with_openssl(reviewer: Path) -> None:
    done = subprocess.run(
        ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(reviewer / "jane-doe.p12"), "-passin", "env:P12_PASS"],
        capture_output=True, text=True, env={**os.environ, "P12_PASS": REVIEWER_PASSPHRASE}, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = done.stdout + done.stderr
    assert f"MAC: sha256, Iteration {KDF_ITERATIONS}" in report  # the MAC is no cheaper to guess than the key
    assert f"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration {KDF_ITERATIONS}" in report
    assert 'subject=CN = Jane Doe, O = Test Org, title = "Duty officer, control room"' in report
    assert "subject=CN = Test Org evidence seal root" in report  # the chain is in it


def test_the_p12_opens_with_cryptography_and_holds_the_key_of_the_certificate(reviewer: Path) -> None:
    data = (reviewer / "jane-doe.p12").read_bytes()
    key, cert, chain = pkcs12.load_key_and_certificates(data, REVIEWER_PASSPHRASE.encode("utf-8"))
    identity = load_identity(reviewer, REVIEWER_PASSPHRASE)
    assert cert == identity.cert and chain == [identity.root]
    assert key is not None and key.private_numbers() == identity.key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"another passphrase")


def test_a_wrong_root_passphrase_is_one_line_exit_6_and_writes_nothing(keys: Path) -> None:
    run = run_cli("keys", "add-reviewer", "Bob Smith", "--role", ROLE, "--keys", str(keys),
                  env=_env(AUDITOR_ROOT_PASSPHRASE="not the root passphrase"))
    assert run.returncode == 6
    assert run.stderr.count("\n") == 1 and "AUDITOR_ROOT_PASSPHRASE" in run.stderr
    assert not (keys / "reviewers" / "bob-smith").exists()


def test_no_passphrase_and_no_terminal_is_one_line_exit_6(keys: Path) -> None:
    env = {k: v for k, v in _env().items() if k != "AUDITOR_REVIEWER_PASSPHRASE"}
    run = run_cli("keys", "add-reviewer", "Carol", "--role", ROLE, "--keys", str(keys), env=env)
    assert run.returncode == 6 and run.stderr.count("\n") == 1 and "AUDITOR_REVIEWER_PASSPHRASE" in run.stderr
    assert not (keys / "reviewers" / "carol").exists()


def test_an_existing_reviewer_is_not_overwritten(reviewer: Path, keys: Path) -> None:
    before = {p.name: p.read_bytes() for p in reviewer.iterdir()}
    for out in ([], ["--out", str(keys / "elsewhere")]):  # one person, one reviewer key, wherever it would go
        run = run_cli("keys", "add-reviewer", "jane  DOE", "--role", "Another role", "--keys", str(keys), *out, env=_env())
        assert run.returncode == 6 and "Jane Doe already has a reviewer certificate" in run.stderr, run.stderr
        assert "--renew" in run.stderr and run.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in reviewer.iterdir()} == before and not (keys / "elsewhere").exists()
    renewed = run_cli("keys", "add-reviewer", "Jane Doe", "--role", "Another role", "--keys", str(keys), "--renew", env=_env())
    assert renewed.returncode == 0, renewed.stderr
    assert {p.name: p.read_bytes() for p in reviewer.iterdir()} == before  # the old folder is kept as it was
    register = json.loads((keys / "reviewers" / "register.json").read_text())
    assert [entry["name"] for entry in register] == ["Jane Doe", "Jane Doe"]
    assert register[1]["replaces"] == register[0]["certificate_sha256"] and register[1]["folder"] != register[0]["folder"]


def test_a_role_too_long_for_a_certificate_is_refused_before_anything_is_written(keys: Path) -> None:
    run = run_cli("keys", "add-reviewer", "Dan", "--role", "x" * 65, "--keys", str(keys), env=_env())
    assert run.returncode == 6 and "1 to 64 characters" in run.stderr
    assert not (keys / "reviewers" / "dan").exists()
