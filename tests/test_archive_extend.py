"""`auditor archive extend` (issue 22 item 4): a document timestamp with fresh validation data
over every PDF (PAdES B-LTA), checked with pyHanko, poppler's pdfsig and pyHanko's own CLI,
against the local PKI on loopback."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import ocsp
from fixtures.identities import PASSPHRASE, build_report
from fixtures.sealed_batch import sealed_batch
from pki import LocalPki
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.status import SignatureCoverageLevel

from auditor.archive import Ledger
from auditor.archive.extend import TIMESTAMP_FIELD, ExtensionTrust, extend_archive, extend_report_folder
from auditor.errors import ArchiveError
from auditor.keys import SigningIdentity, import_identity, load_identity
from auditor.signing.seal import sign_report_folder
from auditor.verify import load_trust, verify_paths


@pytest.fixture(scope="module")
def pki_seal(local_pki: LocalPki, tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    base = tmp_path_factory.mktemp("extend-keys")
    import_identity(local_pki.identity_files("seal", base / "src"), base / "keys", PASSPHRASE)
    return load_identity(base / "keys", PASSPHRASE)


@pytest.fixture(scope="module")
def lt_folder(local_pki: LocalPki, pki_seal: SigningIdentity, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_report(tmp_path_factory.mktemp("extend") / "sealed", identity=pki_seal)
    sign_report_folder(folder, pki_seal, tsa_url=local_pki.tsa_url)
    return folder


@pytest.fixture
def batch(lt_folder: Path, pki_seal: SigningIdentity, tmp_path: Path) -> Path:
    return sealed_batch(tmp_path / "out", lt_folder, pki_seal, names=("cam1-0001", "cam1-0002"))


@pytest.fixture
def extended(lt_folder: Path, local_pki: LocalPki, tmp_path: Path) -> Path:
    folder = tmp_path / "r"
    shutil.copytree(lt_folder, folder)
    done = extend_report_folder(folder, local_pki.long_tsa_url, _context(local_pki))
    assert done.field == f"{TIMESTAMP_FIELD}1" and done.problem is None
    return folder


def _context(local_pki: LocalPki) -> ExtensionTrust:
    anchors = load_trust(local_pki.trust_file)
    return ExtensionTrust(anchors.certs, anchors.crls)


def test_extend_adds_one_revision_a_document_timestamp_over_fresh_validation_data(
    lt_folder: Path, extended: Path
) -> None:
    before = (lt_folder / "report.pdf").read_bytes()
    after = (extended / "report.pdf").read_bytes()
    assert after.startswith(before)
    with (extended / "report.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        assert reader.xrefs.total_revisions == PdfFileReader(_stream(before)).xrefs.total_revisions + 1
        (stamp,) = reader.embedded_timestamp_signatures
        assert stamp.field_name == f"{TIMESTAMP_FIELD}1"
        assert stamp.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE
        times = [_ocsp_time(o) for o in DocumentSecurityStore.read_dss(reader).ocsps]
    sealed_at = PdfFileReader(_stream(before)).embedded_signatures[0].self_reported_timestamp
    assert len(times) >= 2 and max(times) >= sealed_at, "no OCSP response fetched at extension time"
    assert after[:8] == b"%PDF-1.7"  # PDF/A-3 keeps its version
    with (extended / "report.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        xmp = reader.root["/Metadata"].data.decode("utf-8")
        assert "/Version" not in reader.root and 'pdfaid:part="3"' in xmp
        assert f'pdf:Producer="{reader.trailer["/Info"]["/Producer"]}"' in xmp


def test_extend_again_chains_a_second_document_timestamp(extended: Path, local_pki: LocalPki) -> None:
    done = extend_report_folder(extended, local_pki.long_tsa_url, _context(local_pki))
    assert done.field == f"{TIMESTAMP_FIELD}2"
    with (extended / "report.pdf").open("rb") as handle:
        stamps = PdfFileReader(handle).embedded_timestamp_signatures
        assert [s.field_name for s in stamps] == [f"{TIMESTAMP_FIELD}1", f"{TIMESTAMP_FIELD}2"]
        assert stamps[-1].evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE


def test_a_timestamp_authority_that_does_not_answer_leaves_the_pdf_as_it_was(lt_folder: Path, tmp_path: Path, local_pki: LocalPki) -> None:
    folder = tmp_path / "r"
    shutil.copytree(lt_folder, folder)
    before = hashlib.sha256((folder / "report.pdf").read_bytes()).hexdigest()
    with pytest.raises(ArchiveError, match="did not answer"):
        extend_report_folder(folder, "http://127.0.0.1:9/tsa", _context(local_pki))
    assert hashlib.sha256((folder / "report.pdf").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in lt_folder.iterdir())  # no temp file left


def test_the_cli_extends_a_report_folder_and_refuses_without_a_tsa(lt_folder: Path, tmp_path: Path, local_pki: LocalPki) -> None:
    folder = tmp_path / "r"
    shutil.copytree(lt_folder, folder)
    env = {k: v for k, v in os.environ.items() if k != "AUDITOR_TSA_URL"}
    refused = _auditor("archive", "extend", str(folder), "--trust", str(local_pki.trust_file), env=env)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "no timestamp authority" in refused.stderr
    done = _auditor("archive", "extend", str(folder), "--tsa-url", local_pki.long_tsa_url, "--trust", str(local_pki.trust_file), env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no warning of an unclosed HTTP session either
    assert f"({TIMESTAMP_FIELD}1)" in done.stdout and "1 of 1 PDFs extended" in done.stdout
    profile = tmp_path / "profile.toml"
    profile.write_text(f'tsa_url = "{local_pki.long_tsa_url}"\n', encoding="utf-8")
    again = _auditor("archive", "extend", str(folder), "--profile", str(profile), "--trust", str(local_pki.trust_file), env=env)
    assert again.returncode == 0 and f"({TIMESTAMP_FIELD}2)" in again.stdout, again.stderr  # the profile's TSA
    (folder / "report.html").write_text("<p>altered</p>", encoding="utf-8")
    altered = _auditor("archive", "extend", str(folder), "--tsa-url", local_pki.long_tsa_url, "--trust", str(local_pki.trust_file), env=env)
    assert altered.returncode != 0 and altered.stderr.count("\n") == 1 and "only an intact report is extended" in altered.stderr


def test_pdfsig_accepts_the_b_lta_pdf(extended: Path, local_pki: LocalPki, tmp_path: Path) -> None:
    """Offline (-no-ocsp, as an archive is checked): the seal valid and trusted, the document
    timestamp listed as signing the whole file. poppler 22.12 does not check RFC 3161 document
    timestamps ("Signature has not yet been verified"); pyHanko does (next test)."""
    nss = _nss_db(tmp_path / "nss", local_pki)
    run = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", f"sql:{nss}", str(extended / "report.pdf")], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    seal, stamp = run.stdout.split("Signature #")[1:]
    assert "Signature Validation: Signature is Valid." in seal and "Certificate Validation: Certificate is Trusted." in seal, seal
    assert f"Signature Field Name: {TIMESTAMP_FIELD}1" in stamp and "Total document signed" in stamp, stamp


def test_pyhanko_validates_the_b_lta_pdf(extended: Path, local_pki: LocalPki, tmp_path: Path) -> None:
    roots = [tmp_path / "root.pem", tmp_path / "tsa-root.pem"]
    shutil.copy(local_pki.root_file, roots[0])
    shutil.copy(local_pki.tsa_root_file, roots[1])
    trust = [arg for root in roots for arg in ("--trust", str(root))]
    run = subprocess.run(
        [sys.executable, "-m", "pyhanko", "sign", "validate", *trust, "--trust-replace", "--retroactive-revinfo",
         "--pretty-print", str(extended / "report.pdf")],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "The signature is judged VALID." in run.stdout
    assert "The TSA certificate is trusted." in run.stdout


def test_extend_out_registers_each_pdf_as_an_extension_and_timestamps_the_ledger(batch: Path, local_pki: LocalPki) -> None:
    registered = {e.path: e.files["report.pdf"] for e in Ledger(batch).entries() if e.kind == "report"}
    results = extend_archive(batch, local_pki.long_tsa_url, _context(local_pki))
    assert [r.field for r in results] == [f"{TIMESTAMP_FIELD}1"] * 2
    entries = Ledger(batch).entries()
    extensions = [e for e in entries if e.kind == "extension"]
    assert [e.path for e in extensions] == sorted(registered)
    for entry in extensions:
        data = (batch / entry.path / "report.pdf").read_bytes()
        size = entry.facts["extends_size"]
        assert isinstance(size, int) and hashlib.sha256(data[:size]).hexdigest() == entry.facts["extends_sha256"] == registered[entry.path]
        assert entry.files == {"report.pdf": hashlib.sha256(data).hexdigest()}
    assert entries[-1].kind == "timestamp"
    verdicts = verify_paths([batch], local_pki.trust_file)
    assert {v.status for v in verdicts} == {"valid"}, [(v.path, v.reasons) for v in verdicts if v.status != "valid"]


def test_extend_never_re_registers_a_pdf_that_is_not_the_registered_one(batch: Path, local_pki: LocalPki) -> None:
    pdf = batch / "reports" / "cam1-0002" / "report.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"%tampered\n")
    results = {r.pdf.parent.name: r for r in extend_archive(batch, local_pki.long_tsa_url, _context(local_pki))}
    assert results["cam1-0001"].field is not None
    assert results["cam1-0002"].field is None and "not extended" in str(results["cam1-0002"].problem)
    assert pdf.read_bytes().endswith(b"%tampered\n")
    assert [e.path for e in Ledger(batch).entries() if e.kind == "extension"] == ["reports/cam1-0001"]


def test_a_run_killed_before_its_ledger_line_is_finished_by_the_next(batch: Path, local_pki: LocalPki) -> None:
    folder = batch / "reports" / "cam1-0001"
    assert extend_report_folder(folder, local_pki.long_tsa_url, _context(local_pki)).field  # the PDF renamed, no ledger line
    results = extend_archive(batch, local_pki.long_tsa_url, _context(local_pki))
    assert [r.field for r in results] == [f"{TIMESTAMP_FIELD}2", f"{TIMESTAMP_FIELD}1"]
    first = [e for e in Ledger(batch).entries() if e.kind == "extension" and e.path == "reports/cam1-0001"]
    assert [e.facts["document_timestamp"] for e in first] == [f"{TIMESTAMP_FIELD}1", f"{TIMESTAMP_FIELD}2"]
    assert {v.status for v in verify_paths([batch], local_pki.trust_file)} == {"valid"}


def test_an_extended_pdf_verifies_valid_in_2040(extended: Path, local_pki: LocalPki) -> None:
    """Ten years and more after the seal's end (2 years) and its first TSA's (3 years): the
    document timestamp of the long-lived TSA carries the PDF, offline (verify fetches nothing)."""
    assert local_pki.leaf_expiry + dt.timedelta(days=3650) < dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    run = subprocess.run(
        ["faketime", "2040-01-01 12:00:00", sys.executable, "-m", "auditor", "verify", str(extended / "report.pdf"),
         "--trust", str(local_pki.trust_file)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "expired on" in run.stdout and "a trusted timestamp proves the signature existed" in run.stdout, run.stdout
    assert f"document timestamp {TIMESTAMP_FIELD}1" in run.stdout


def test_an_extended_batch_verifies_valid_in_2040(batch: Path, local_pki: LocalPki) -> None:
    """The PDFs through their document timestamps; the checkpoints and the detached signatures
    through the ledger's archive timestamp that `extend` wrote (the ledger binds their bytes)."""
    extend_archive(batch, local_pki.long_tsa_url, _context(local_pki))
    run = subprocess.run(
        ["faketime", "2040-01-01 12:00:00", sys.executable, "-m", "auditor", "verify", str(batch), "--trust", str(local_pki.trust_file)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(f"document timestamp {TIMESTAMP_FIELD}1") == 2


def _nss_db(folder: Path, local_pki: LocalPki) -> Path:
    """An NSS database (pdfsig's trust store) trusting the PKI's two roots."""
    folder.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    for name, root in (("org-root", local_pki.root_file), ("tsa-root", local_pki.tsa_root_file)):
        subprocess.run(["certutil", "-A", "-d", f"sql:{folder}", "-n", name, "-t", "CT,C,C", "-a", "-i", str(root)],
                       check=True, capture_output=True)
    return folder


def _auditor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, env=env, timeout=300)


def _stream(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(data)


def _ocsp_time(ref: object):  # type: ignore[no-untyped-def]
    response = ocsp.OCSPResponse.load(ref.get_object().data)  # type: ignore[attr-defined]
    return response.basic_ocsp_response["tbs_response_data"]["produced_at"].native
