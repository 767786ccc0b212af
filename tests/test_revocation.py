"""Revocation, production side (issue 22 item 4): `auditor keys revoke` and its CRL, revocation
URLs in issued certificates, and what `verify` makes of a revoked seal."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from fixtures.cli import run_cli
from fixtures.identities import build_report, templated_report
from pki import LocalPki

from auditor.errors import SigningError
from auditor.keys import CRL_FILE, RevocationUrls, create_identity, load_identity, read_certificates, revoke
from auditor.review.fill import sign_review
from auditor.review.model import ReviewInput
from auditor.signing.seal import sign_report_folder
from auditor.verify import verify_paths

SEAL_PASSPHRASE = "seal passphrase here"
ROOT_PASSPHRASE = "root passphrase here"
REVIEWER_PASSPHRASE = "reviewer passphrase"
CRL_URL = "http://pki.example.org/acme.crl"
OCSP_URL = "http://ocsp.example.org/acme"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}
    return {
        **env, "AUDITOR_KEY_PASSPHRASE": SEAL_PASSPHRASE, "AUDITOR_ROOT_PASSPHRASE": ROOT_PASSPHRASE,
        "AUDITOR_REVIEWER_PASSPHRASE": REVIEWER_PASSPHRASE, **extra,
    }


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`keys init` with revocation URLs and `add-reviewer` (inheriting them), run once."""
    folder = tmp_path_factory.mktemp("revocation") / "keys"
    init = run_cli("keys", "init", "--keys", str(folder), "--organisation", "Acme", "--key-type", "p256",
                   "--crl-url", CRL_URL, "--ocsp-url", OCSP_URL, env=_env())
    assert init.returncode == 0, init.stderr
    added = run_cli("keys", "add-reviewer", "Jane Doe", "--role", "Duty officer", "--keys", str(folder), env=_env())
    assert added.returncode == 0, added.stderr
    return folder


def _crl(folder: Path) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((folder / CRL_FILE).read_bytes())


def _cert(folder: Path) -> x509.Certificate:
    return read_certificates(folder / "seal.cert.pem")[0]


def test_issued_certificates_carry_the_crl_and_ocsp_urls(keys: Path) -> None:
    seal, reviewer = _cert(keys), _cert(keys / "reviewers" / "jane-doe")
    for cert in (seal, reviewer):
        assert RevocationUrls.of(cert) == RevocationUrls(CRL_URL, OCSP_URL)
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        assert [d.access_method for d in aia] == [AuthorityInformationAccessOID.OCSP]
    root = read_certificates(keys / "root.cert.pem")[0]
    with pytest.raises(x509.ExtensionNotFound):  # a trust anchor is never checked for revocation
        root.extensions.get_extension_for_class(x509.CRLDistributionPoints)


def test_a_reviewer_can_get_other_urls_and_a_bad_url_is_one_line(keys: Path) -> None:
    run = run_cli("keys", "add-reviewer", "Bob Smith", "--role", "Duty officer", "--keys", str(keys),
                  "--crl-url", "https://crl.example.net/r.crl", env=_env())
    assert run.returncode == 0, run.stderr
    assert RevocationUrls.of(_cert(keys / "reviewers" / "bob-smith")) == RevocationUrls("https://crl.example.net/r.crl", None)
    bad = run_cli("keys", "add-reviewer", "Carl Bad", "--role", "Duty officer", "--keys", str(keys),
                  "--ocsp-url", "ftp://x y", env=_env())
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "is not an http(s) URL" in bad.stderr
    assert not (keys / "reviewers" / "carl-bad").exists()


def test_keys_init_writes_an_empty_crl_signed_by_the_root(tmp_path: Path) -> None:
    create_identity(tmp_path / "k", SEAL_PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Seal", organisation="Org")
    crl = _crl(tmp_path / "k")
    root = read_certificates(tmp_path / "k" / "root.cert.pem")[0]
    assert len(crl) == 0 and crl.issuer == root.subject and crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert crl.next_update_utc == root.not_valid_after_utc


def test_revoke_a_reviewer_backdated_then_the_seal(keys: Path) -> None:
    folder = keys.parent / "revoke-keys"
    shutil.copytree(keys, folder)
    jane = _cert(folder / "reviewers" / "jane-doe")
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    run = run_cli("keys", "revoke", "--keys", str(folder), "--reviewer", "JANE  doe", "--reason", "key-compromise",
                  "--at", at.strftime("%Y-%m-%dT%H:%M:%S+00:00"), env=_env())
    assert run.returncode == 0, run.stderr
    assert f"serial {jane.serial_number:x}" in run.stdout and "(CRL number 2)" in run.stdout
    crl = _crl(folder)
    entry = crl.get_revoked_certificate_by_serial_number(jane.serial_number)
    assert entry is not None and entry.revocation_date_utc == at
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == at
    openssl = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(folder / CRL_FILE), "-CAfile",
                              str(folder / "root.cert.pem"), "-noout"], capture_output=True, text=True)
    assert "verify OK" in openssl.stdout + openssl.stderr
    seal = run_cli("keys", "revoke", "--keys", str(folder), "--serial", f"{_cert(folder).serial_number:x}", env=_env())
    assert seal.returncode == 0, seal.stderr
    crl = _crl(folder)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3
    assert {e.serial_number for e in crl} == {jane.serial_number, _cert(folder).serial_number}
    shown = run_cli("keys", "show", "--keys", str(folder / "reviewers" / "jane-doe"), env=_env())
    assert f"REVOKED as of {at:%Y-%m-%d %H:%M} UTC" in shown.stdout


def test_a_revoked_reviewer_signs_no_review(keys: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(keys, tmp_path / "keys")
    seal = load_identity(folder, SEAL_PASSPHRASE)
    report = templated_report(tmp_path / "r", seal)
    jane = load_identity(folder / "reviewers" / "jane-doe", REVIEWER_PASSPHRASE)
    assert run_cli("keys", "revoke", "--keys", str(folder), "--reviewer", "Jane Doe", env=_env()).returncode == 0
    review = ReviewInput(reviewer="Jane Doe", role="Duty officer", authority="May cancel alerts", data_considered="The clip.",
                         decision="confirm", reasons="A fight.", minutes=2.0, automation_bias_acknowledged=True)
    before = (report / "report.pdf").read_bytes()
    with pytest.raises(SigningError, match="Jane Doe was revoked as of"):
        sign_review(report / "report.pdf", jane, review)
    assert (report / "report.pdf").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name exactly one certificate to revoke"),
        (("--seal", "--reviewer", "Jane Doe"), "name exactly one certificate to revoke"),
        (("--reviewer", "Nobody"), "no reviewer named 'Nobody'"),
        (("--serial", "zz"), "is not a hexadecimal serial number"),
        (("--serial", "1234"), "no certificate with serial 1234"),
        (("--seal", "--at", "2099-01-01T00:00:00+00:00"), "is in the future"),
    ],
)
def test_a_revocation_that_cannot_be_is_one_line_and_leaves_the_crl(keys: Path, args: tuple[str, ...], message: str) -> None:
    before = (keys / CRL_FILE).read_bytes()
    run = run_cli("keys", "revoke", "--keys", str(keys), *args, env=_env())
    assert run.returncode != 0 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert (keys / CRL_FILE).read_bytes() == before


def test_a_wrong_root_passphrase_or_a_foreign_certificate_changes_nothing(keys: Path, tmp_path: Path) -> None:
    before = (keys / CRL_FILE).read_bytes()
    wrong = run_cli("keys", "revoke", "--keys", str(keys), "--seal", env=_env(AUDITOR_ROOT_PASSPHRASE="not the root passphrase"))
    assert wrong.returncode != 0 and wrong.stderr.count("\n") == 1
    create_identity(tmp_path / "other", SEAL_PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Other", organisation="Other")
    foreign = run_cli("keys", "revoke", "--keys", str(keys), "--cert", str(tmp_path / "other" / "seal.cert.pem"), env=_env())
    assert foreign.returncode != 0 and "was not issued by the root" in foreign.stderr
    again = run_cli("keys", "revoke", "--keys", str(keys), "--cert", str(keys / "root.cert.pem"), env=_env())
    assert again.returncode != 0 and "the root cannot revoke itself" in again.stderr
    assert (keys / CRL_FILE).read_bytes() == before


def test_a_report_timestamped_before_the_revocation_stays_valid_one_backdated_past_it_is_invalid(
    tmp_path: Path, local_pki: LocalPki
) -> None:
    keys = tmp_path / "keys"
    create_identity(keys, SEAL_PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Seal", organisation="Org", key_type="p256")
    seal = load_identity(keys, SEAL_PASSPHRASE)
    report = sign_report_folder(build_report(tmp_path / "r", identity=seal), seal, tsa_url=local_pki.tsa_url)[0].parent
    trust = tmp_path / "trust"  # what a verifier holds: the two roots, and the CRL beside them
    trust.mkdir()
    (trust / "root.cert.pem").write_bytes((keys / "root.cert.pem").read_bytes() + local_pki.tsa_root_file.read_bytes())
    backdated = shutil.copytree(keys, tmp_path / "keys-backdated")  # the same seal, to be revoked as of before the report

    # the key revoked on the root's clock 2 s on (a CRL's revocation date is whole seconds: it falls in a later
    # second than the timestamps without waiting for one), and verified as of a minute after that
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    revoke(keys, ROOT_PASSPHRASE, seal.cert, reason="key-compromise", now=later)
    shutil.copy(keys / CRL_FILE, trust / CRL_FILE)
    assert {v.status for v in verify_paths([report], trust, at=later + dt.timedelta(minutes=1))} == {"valid"}

    create_crl = run_cli("keys", "revoke", "--keys", str(backdated), "--seal", "--reason", "key-compromise", "--at",
                         (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00"), env=_env())
    assert create_crl.returncode == 0, create_crl.stderr
    shutil.copy(backdated / CRL_FILE, trust / CRL_FILE)
    verdicts = verify_paths([report], trust)
    assert "invalid" in {v.status for v in verdicts}, [(v.path, v.status, v.reasons) for v in verdicts]
    assert any("revoked" in r for v in verdicts for r in v.reasons)


def test_a_seal_issued_without_a_distribution_point_is_still_found_on_the_roots_list(
    tmp_path: Path, local_pki: LocalPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Certificates issued before auditor wrote a CRL distribution point name none, and pyHanko
    then checks no list at all: a revoked seal of that age used to stay VALID. Its report, signed
    without a timestamp, is INVALID once the seal is revoked; one timestamped before stays VALID."""
    with monkeypatch.context() as old_style:
        old_style.setattr(RevocationUrls, "extensions", lambda self, issuer: [])
        create_identity(tmp_path / "keys", SEAL_PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Old seal",
                        organisation="Org", key_type="p256")
    assert not any(isinstance(e.value, x509.CRLDistributionPoints) for e in _cert(tmp_path / "keys").extensions)
    (tmp_path / "keys" / CRL_FILE).unlink()  # no local list while signing: the reports are B-B / B-T, as before
    seal = load_identity(tmp_path / "keys", SEAL_PASSPHRASE)
    plain = sign_report_folder(build_report(tmp_path / "plain", identity=seal), seal)[0].parent
    stamped = sign_report_folder(build_report(tmp_path / "stamped", identity=seal), seal, tsa_url=local_pki.tsa_url)[0].parent
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.cert.pem").write_bytes((tmp_path / "keys/root.cert.pem").read_bytes() + local_pki.tsa_root_file.read_bytes())
    assert {v.status for v in verify_paths([plain, stamped], trust)} == {"valid"}

    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)  # in a later whole second than the timestamps, unwaited
    revoke(tmp_path / "keys", ROOT_PASSPHRASE, seal.cert, reason="key-compromise", now=later)
    shutil.copy(tmp_path / "keys" / CRL_FILE, trust / CRL_FILE)
    plain_verdicts = verify_paths([plain], trust, at=later + dt.timedelta(minutes=1))
    assert {v.status for v in plain_verdicts} == {"invalid"}
    assert all(
        any("revoked on" in r and "no trusted timestamp proves the signature existed before" in r for r in v.reasons)
        for v in plain_verdicts
    )
    stamped_verdicts = verify_paths([stamped], trust, at=later + dt.timedelta(minutes=1))
    assert {v.status for v in stamped_verdicts} == {"valid"}, [(v.path, v.reasons) for v in stamped_verdicts]
