"""Trusted time and revocation in `auditor verify` (issue 22 items 3-5), with the local PKI of
tests/pki.py (a real RFC 3161 TSA, OCSP and CRLs on loopback) and the clock moved by `faketime`:
a timestamped and reviewed report stays VALID after the seal's and the reviewer's certificates
expired (B-T, before the TSA expires); without a timestamp the verdict is UNTRUSTED and says why;
a report signed after its seal's revocation (the root's CRL in the trust folder) is INVALID."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from fixtures.cli import CliRun, run_cli
from fixtures.identities import PASSPHRASE, Identities
from fixtures.report_records import full_profile, make_report_folder
from pki import LocalPki
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers, timestamps
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation import add_validation_info
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from auditor.errors import ReportError
from auditor.evidence import SealInfo, write_record
from auditor.keys import SigningIdentity, load_identity
from auditor.keys.imports import import_identity
from auditor.profile import read_profile
from auditor.report.document import write_report
from auditor.review.submissions import log_submission
from auditor.signing.seal import seal_fields, sign_report_folder


@dataclass(frozen=True)
class Reports:
    pki: LocalPki
    trust: Path  # a trust folder: both roots, and the root's CRL as of now
    timestamped: Path  # sealed with a timestamp, then reviewed with one
    plain: Path  # sealed without a timestamp
    revoked: Path  # sealed (and timestamped) by a seal revoked an hour before
    revoked_later: Path  # sealed and timestamped a day before its seal is revoked
    lta: Path  # `timestamped` with validation data and a document timestamp (B-LTA)


def _identity(pki: LocalPki, label: str, base: Path) -> tuple[SigningIdentity, Path]:
    folder = base / label
    import_identity(pki.identity_files(label, base / "sources"), folder, PASSPHRASE)
    return load_identity(folder, PASSPHRASE), folder


def _report(folder: Path, identity: SigningIdentity, tsa_url: str | None) -> Path:
    record = make_report_folder(folder, profile=full_profile(), seal=SealInfo(**seal_fields(identity)))
    write_record(folder, record)
    write_report(record, folder)
    sign_report_folder(folder, identity, tsa_url=tsa_url)
    return folder


def _report_by_pyhanko(folder: Path, pki: LocalPki, label: str, keys: Path) -> Path:
    """A report sealed by `label` with pyHanko itself, timestamped, without the checks auditor's
    signing makes first (it refuses a revoked seal): what a thief with the stolen key could make."""
    identity, _ = _identity(pki, label, keys)
    record = make_report_folder(folder, profile=full_profile(), seal=SealInfo(**seal_fields(identity)))
    write_record(folder, record)
    write_report(record, folder)
    key, _ = pki.identity_files(label, keys / "pyhanko")
    cert = keys / "pyhanko" / f"{label}.cert.pem"
    cert.write_bytes(pki.cert_pem(label))
    signer = signers.SimpleSigner.load(str(key), str(cert), ca_chain_files=(str(pki.root_file),))
    assert signer is not None
    meta = signers.PdfSignatureMetadata(field_name="Seal", certify=True, docmdp_permissions=MDPPerm.FILL_FORMS)
    with (folder / "report.pdf").open("rb") as source:
        out = signers.sign_pdf(IncrementalPdfFileWriter(source), meta, signer, timestamper=timestamps.HTTPTimeStamper(pki.tsa_url))
    (folder / "report.pdf").write_bytes(out.getvalue())
    return folder


def _review(report: Path, reviewer: Path, tsa_url: str) -> None:
    env = {**os.environ, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}
    run = run_cli("review", str(report), "--as", str(reviewer), "--decision", "confirm", "--reason", "seen on the clip",
                  "--considered", "the clip", "--minutes", "3", "--bias-acknowledged", "--tsa-url", tsa_url, env=env)
    assert run.returncode == 0, run.stderr


def _roots(pki: LocalPki) -> list[asn1_x509.Certificate]:
    return [asn1_x509.Certificate.load(pem.unarmor(pki.cert_pem(label))[2]) for label in ("root", "tsa-root")]


def extend_lta(pdf: Path, pki: LocalPki) -> None:
    """What `auditor archive extend` does, done with pyHanko: the validation data of the last
    signature into the DSS (a DSS-only revision), then a document timestamp from the long-lived
    TSA with its own validation data (B-LTA)."""
    context = ValidationContext(trust_roots=_roots(pki), allow_fetching=True, revocation_mode="hard-fail")
    last = PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_regular_signatures[-1]
    writer = IncrementalPdfFileWriter(add_validation_info(last, context, in_place=False))
    out = PdfTimeStamper(timestamps.HTTPTimeStamper(pki.long_tsa_url)).timestamp_pdf(
        writer, "sha256", validation_context=context, in_place=False
    )
    pdf.write_bytes(out.getvalue())


@pytest.fixture(scope="module")
def reports(local_pki: LocalPki, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    base = tmp_path_factory.mktemp("trusted-time")
    seal, _ = _identity(local_pki, "seal", base / "keys")
    _, reviewer = _identity(local_pki, "reviewer", base / "keys")
    timestamped = _report(base / "timestamped", seal, local_pki.tsa_url)
    _review(timestamped, reviewer, local_pki.tsa_url)
    log_submission(timestamped, "The person concerned", "I was only hugging my brother.", [], seal, tsa_url=local_pki.tsa_url)
    lta = shutil.copytree(timestamped, base / "lta")
    extend_lta(lta / "report.pdf", local_pki)
    trust = base / "trust"
    trust.mkdir()
    (trust / "root.cert.pem").write_bytes(local_pki.trust_file.read_bytes())
    (trust / "revoked.crl").write_bytes(local_pki.crl_der(dt.datetime.now(dt.UTC)))
    return Reports(
        pki=local_pki,
        trust=trust,
        timestamped=timestamped,
        plain=_report(base / "plain", seal, None),
        revoked=_report_by_pyhanko(base / "revoked", local_pki, "seal-revoked", base / "keys"),
        revoked_later=_report(
            base / "revoked-later", _identity(local_pki, "seal-revoked-later", base / "keys")[0], local_pki.tsa_url
        ),
        lta=lta,
    )


def verify_at(when: dt.datetime | None, *args: str) -> CliRun:
    """`auditor verify ARGS` in a subprocess whose clock starts at `when` (faketime), or now."""
    clock = ["faketime", f"{when:%Y-%m-%d %H:%M:%S}"] if when else []
    done = subprocess.run(
        [*clock, sys.executable, "-m", "auditor", "verify", *args], capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"},
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


def test_the_fixture_pki_serves_a_tsa_and_crls(local_pki: LocalPki) -> None:
    later = local_pki.crl_der(local_pki.revoked_later + dt.timedelta(hours=2))
    now = local_pki.crl_der(local_pki.start)
    assert len(later) > len(now)  # the later CRL lists one more revoked seal


def test_a_timestamped_report_stays_valid_after_its_certificate_expired(reports: Reports) -> None:
    """B-T: a month after the seal and the reviewer expired (the TSA still valid)."""
    when = reports.pki.leaf_expiry + dt.timedelta(days=30)
    run = verify_at(when, str(reports.timestamped), "--trust", str(reports.trust))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"certificate expired on {reports.pki.leaf_expiry:%Y-%m-%d}" in run.stdout
    proven = "certificate expired on {:%Y-%m-%d}; a trusted timestamp proves the signature existed on"
    for name in ("signature AuditorSeal", "signature review1.signature", "review-1.json.p7s", "submission-1.json.p7s"):
        assert f"{name}: {proven.format(reports.pki.leaf_expiry)}" in run.stdout, name
    assert run.stdout.count("VALID      ") == 6  # report.pdf, .html, evidence.json, manifest, review, submission


def test_without_a_timestamp_expiry_is_untrusted_and_says_why(reports: Reports) -> None:
    run = verify_at(reports.pki.leaf_expiry + dt.timedelta(days=30), str(reports.plain), "--trust", str(reports.trust))
    assert run.returncode == 8, run.stdout + run.stderr
    assert "UNTRUSTED" in run.stdout and "INVALID" not in run.stdout
    assert f"signature intact; certificate CN=Test Org evidence seal,O=Test Org,C=BE expired on {reports.pki.leaf_expiry:%Y-%m-%d}; no proof of time" in run.stdout


def test_the_same_report_is_valid_before_expiry(reports: Reports) -> None:
    run = verify_at(None, str(reports.plain), "--trust", str(reports.trust))
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_report_sealed_after_its_seals_revocation_is_invalid(reports: Reports) -> None:
    run = verify_at(None, str(reports.revoked / "report.pdf"), "--trust", str(reports.trust))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "was revoked on" in run.stdout and "no timestamp proves the signature existed before" in run.stdout


def test_a_report_timestamped_before_the_revocation_stays_valid(reports: Reports, tmp_path: Path) -> None:
    pki = reports.pki
    trust = shutil.copytree(reports.trust, tmp_path / "trust")
    after = pki.revoked_later + dt.timedelta(minutes=90)
    (trust / "revoked.crl").write_bytes(pki.crl_der(after))
    run = verify_at(after, str(reports.revoked_later / "report.pdf"), "--trust", str(trust))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"certificate revoked on {pki.revoked_later:%Y-%m-%d %H:%M} UTC" in run.stdout


def test_a_b_lta_report_is_valid_ten_years_after_every_certificate_expired(reports: Reports) -> None:
    when = reports.pki.leaf_expiry + dt.timedelta(days=3653)
    assert when > reports.pki.tsa_expiry + dt.timedelta(days=3 * 365)
    run = verify_at(when, str(reports.lta / "report.pdf"), "--trust", str(reports.trust))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "B-LTA" in run.stdout
    bare = verify_at(when, str(reports.timestamped / "report.pdf"), "--trust", str(reports.trust))
    assert bare.returncode == 8, bare.stdout  # without the document timestamp nothing proves the time any more


def _tool(*command: str) -> CliRun:
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return CliRun(done.returncode, done.stdout, done.stderr)


def _nss_db(pki: LocalPki, folder: Path) -> str:
    """An NSS database trusting the two roots, for pdfsig."""
    folder.mkdir()
    database = f"sql:{folder}"
    assert _tool("certutil", "-N", "-d", database, "--empty-password").returncode == 0
    for label in ("root", "tsa-root"):
        (folder / f"{label}.pem").write_bytes(pki.cert_pem(label))
        added = _tool("certutil", "-A", "-d", database, "-n", label, "-t", "CT,C,C", "-i", str(folder / f"{label}.pem"))
        assert added.returncode == 0, added.stderr
    return database


def test_pdfsig_and_pyhanko_agree_with_verify_on_the_b_lta_report(reports: Reports, tmp_path: Path) -> None:
    pki = reports.pki
    pdf = str(reports.lta / "report.pdf")
    ours = verify_at(None, pdf, "--trust", str(reports.trust))
    roots = [arg for label in ("root", "tsa-root") for arg in ("--trust", str(pki.folder / f"{label}.check.pem"))]
    for label in ("root", "tsa-root"):
        (pki.folder / f"{label}.check.pem").write_bytes(pki.cert_pem(label))
    pyhanko = (sys.executable, "-m", "pyhanko")  # this environment's, whether or not its bin/ is on PATH
    legacy = _tool(*pyhanko, "sign", "validate", *roots, "--trust-replace", "--retroactive-revinfo", pdf)
    ades = _tool(*pyhanko, "sign", "adesverify", *roots, "--trust-replace", pdf)
    poppler = _tool("pdfsig", "-no-ocsp", "-nssdir", _nss_db(pki, tmp_path / "nss"), pdf)  # offline, as verify
    print(ours.stdout, legacy.stdout, ades.stdout, poppler.stdout, sep="\n----\n")
    assert ours.returncode == 0, ours.stdout
    assert legacy.returncode == 0 and legacy.stdout.count(":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>") == 2, legacy.stdout
    assert ades.returncode == 0, ades.stdout + ades.stderr[-2000:]
    assert poppler.stdout.count("Signature is Valid.") == 2 and poppler.stdout.count("Certificate is Trusted.") == 2, poppler.stdout


def test_verify_at_validates_as_of_that_time(reports: Reports, tmp_path: Path) -> None:
    """--at moves the validation time without faketime: after expiry the untimestamped report has
    no proof of time; before the revocation, the revoked-later seal's report counts; a bad time is
    one line."""
    pki = reports.pki
    later = f"{pki.leaf_expiry + dt.timedelta(days=30):%Y-%m-%dT%H:%M:%S}Z"
    plain = verify_at(None, str(reports.plain / "report.pdf"), "--trust", str(reports.trust), "--at", later)
    assert plain.returncode == 8 and "no proof of time" in plain.stdout, plain.stdout
    assert "validated as of" in plain.stdout
    stamped = verify_at(None, str(reports.timestamped / "report.pdf"), "--trust", str(reports.trust), "--at", later)
    assert stamped.returncode == 0, stamped.stdout
    trust = shutil.copytree(reports.trust, tmp_path / "trust")
    (trust / "revoked.crl").write_bytes(pki.crl_der(pki.revoked_later + dt.timedelta(minutes=90)))
    after = f"{pki.revoked_later + dt.timedelta(minutes=90):%Y-%m-%dT%H:%M:%S}+00:00"
    revoked = verify_at(None, str(reports.revoked / "report.pdf"), "--trust", str(trust), "--at", after)
    assert revoked.returncode == 1 and "was revoked on" in revoked.stdout, revoked.stdout
    bad = verify_at(None, str(reports.plain / "report.pdf"), "--at", "next tuesday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not an ISO 8601 time" in bad.stderr, bad.stderr


def _append(pdf: Path, out: Path, change: str, extra: asn1_x509.Certificate) -> None:
    """An unsigned incremental update after everything: a new info entry, or a DSS-only update
    (adding `extra`, a certificate the DSS does not hold yet)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    if change == "info":
        title = generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("rewritten")})
        writer.set_info(writer.add_object(title))
    else:
        DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=[extra])
    buffer = io.BytesIO()
    writer.write(buffer)
    out.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(("source", "change", "expected"), [
    ("lta", "info", "content was appended after the last document timestamp"),
    ("lta", "dss", "content was appended after the last document timestamp"),
    ("timestamped", "dss", "content was appended after the last signature"),
])
def test_only_a_timestamp_may_end_a_report(reports: Reports, tmp_path: Path, source: str, change: str, expected: str) -> None:
    """After the last document timestamp, one DSS update with its validation data may follow
    (pyHanko writes it so); a second unsigned update (a DSS update, or one that rewrites the
    metadata), or a DSS update after the last signature with no timestamp over it, fails."""
    pdf = getattr(reports, source) / "report.pdf"
    out = tmp_path / "report.pdf"
    _append(pdf, out, change, asn1_x509.Certificate.load(pem.unarmor(reports.pki.cert_pem("seal-revoked"))[2]))
    assert out.stat().st_size > pdf.stat().st_size
    run = verify_at(None, str(out), "--trust", str(reports.trust))
    assert run.returncode == 1 and expected in run.stdout, run.stdout


def test_the_profile_names_a_tsa_beside_the_facts(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text("controller = 'Test Org'\ntsa_url = 'http://127.0.0.1:9/tsa'\n", encoding="utf-8")
    local = read_profile(path)
    assert local.tsa_url == "http://127.0.0.1:9/tsa" and "tsa" not in local.profile.model_dump_json()
    path.write_text("tsa_url = 'file:///etc/passwd'\n", encoding="utf-8")
    with pytest.raises(ReportError, match="tsa_url must be an http:// or https:// URL"):
        read_profile(path)


def test_a_damaged_crl_beside_the_root_is_one_line(reports: Reports, tmp_path: Path) -> None:
    trust = shutil.copytree(reports.trust, tmp_path / "trust")
    (trust / "revoked.crl").write_bytes(b"0\x82\x01\x00 not a CRL")
    run = verify_at(None, str(reports.plain / "report.pdf"), "--trust", str(trust))
    assert run.returncode not in (0, 8) and run.stderr.count("\n") == 1, run.stderr
    assert "revoked.crl is not a readable CRL" in run.stderr and "Traceback" not in run.stderr


def test_an_auditor_keys_seal_with_the_local_tsa_needs_both_roots(
    local_pki: LocalPki, identities: Identities, tmp_path: Path
) -> None:
    """`auditor keys init` makes a PKI without URLs; its seal takes timestamps from any TSA, whose
    root is then a second trust anchor beside the organisation's (one PEM file, two roots)."""
    folder = _report(tmp_path / "report", identities.seal, local_pki.tsa_url)
    both = tmp_path / "both.pem"
    both.write_bytes((identities.seal_dir / "root.cert.pem").read_bytes() + local_pki.cert_pem("tsa-root"))
    with_tsa = verify_at(None, str(folder / "report.pdf"), "--trust", str(both), "--json")
    alone = verify_at(None, str(folder / "report.pdf"), "--trust", str(identities.seal_dir / "root.cert.pem"))
    assert with_tsa.returncode == 0 and json.loads(with_tsa.stdout)["files"][0]["signatures"][0]["timestamped"]
    assert alone.returncode == 0 and "counts as B-B, without proof of time" in alone.stdout, alone.stdout
