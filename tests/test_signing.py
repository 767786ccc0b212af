"""Signing: PAdES on the PDF (still PDF/A-3b), detached CMS, independent verifiers, failures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, Identities
from pyhanko.pdf_utils.reader import PdfFileReader

import auditor.signing.seal
from auditor.errors import ArchiveError, SigningError
from auditor.evidence import Note, SealInfo
from auditor.files import sha256_file
from auditor.keys import create_identity, load_identity
from auditor.signing.seal import (
    create_demo_identity,
    seal_fields,
    sign_detached,
    sign_pdf,
    sign_report_folder,
)


def test_signed_pdf_stays_pdfa3b(sealed_report: Path) -> None:
    pdf = sealed_report / "report.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-1.7")
    reader = PdfFileReader(pdf.open("rb"))
    assert "/Version" not in reader.root  # not raised to 2.0 by the signature
    xmp = reader.root["/Metadata"].data.decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    producer = re.search(r'pdf:Producer="([^"]+)"', xmp)
    assert producer and str(reader.trailer["/Info"]["/Producer"]) == producer.group(1)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts  # every font embedded
    sig = reader.embedded_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert reader.root["/Perms"]["/DocMDP"]["/Reference"][0]["/TransformParams"]["/P"] == 2
    widget = sig.sig_field
    assert list(widget["/Rect"]) == [0, 0, 0, 0] and int(widget["/F"]) & 4  # invisible, print flag
    assert reader.root["/Names"]["/EmbeddedFiles"]["/Names"][0] == "evidence.json"
    assert "/DSS" in reader.root  # B-LT: the keys folder's CRL and the chain, inside the PDF/A


def test_p256_signature_keeps_pdf_17(tmp_path: Path, unsigned_report: Path) -> None:
    create_identity(tmp_path / "ec", PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="EC seal", organisation="Org", key_type="p256")
    identity = load_identity(tmp_path / "ec", PASSPHRASE)
    out = sign_pdf(unsigned_report / "report.pdf", tmp_path / "ec.pdf", identity)
    reader = PdfFileReader(out.open("rb"))
    assert out.read_bytes().startswith(b"%PDF-1.7") and "/Version" not in reader.root
    assert "/ISO_" not in reader.root["/Extensions"]
    pdfsig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in pdfsig and "Total document signed" in pdfsig


def test_pdfsig_says_valid_and_total_document_signed(sealed_report: Path) -> None:
    result = subprocess.run(["pdfsig", str(sealed_report / "report.pdf")], capture_output=True, text=True)
    assert "Signature Validation: Signature is Valid." in result.stdout, result.stdout
    assert "Total document signed" in result.stdout
    assert "ETSI.CAdES.detached" in result.stdout and "CN=Test seal" in result.stdout


def test_pdfdetach_finds_the_record_after_signing(sealed_report: Path, tmp_path: Path) -> None:
    subprocess.run(["pdfdetach", "-saveall", "-o", str(tmp_path), str(sealed_report / "report.pdf")], check=True)
    assert (tmp_path / "evidence.json").read_bytes() == (sealed_report / "evidence.json").read_bytes()


def _openssl_verify(content: Path, signature: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(content), "-CAfile", str(root), "-out", "/dev/null"],
        capture_output=True, text=True,
    )  # fmt: skip


def test_openssl_accepts_the_p7s_and_rejects_a_modified_html(
    sealed_report: Path, identities: Identities, tmp_path: Path
) -> None:
    root = identities.seal_dir / "root.cert.pem"
    for name in ("report.html", "evidence.json", "manifest.json"):
        result = _openssl_verify(sealed_report / name, sealed_report / f"{name}.p7s", root)
        assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    modified = tmp_path / "report.html"
    modified.write_bytes((sealed_report / "report.html").read_bytes().replace(b"flagged", b"flaggeD"))
    result = _openssl_verify(modified, sealed_report / "report.html.p7s", root)
    assert result.returncode != 0 and "Verification failure" in result.stderr
    stranger_root = identities.stranger_dir / "root.cert.pem"
    assert _openssl_verify(sealed_report / "report.html", sealed_report / "report.html.p7s", stranger_root).returncode != 0


def test_signed_manifest_lists_every_file_of_the_folder(sealed_report: Path, identities: Identities) -> None:
    text = (sealed_report / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"  # canonical
    record = sealed_report / "evidence.json"
    assert manifest["format"] == "auditor report manifest" and manifest["version"] == 1
    assert manifest["report_id"] == json.loads(record.read_bytes())["report"]["report_id"]
    assert manifest["record_sha256"] == sha256_file(record)
    assert manifest["seal_certificate_sha256"] == identities.seal.fingerprint
    files = sorted(
        p.relative_to(sealed_report).as_posix() for p in sealed_report.rglob("*") if p.is_file() and "manifest" not in p.name
    )
    assert [f["path"] for f in manifest["files"]] == files and "images/legend.png" in files and "report.pdf" in files
    for entry in manifest["files"]:
        path = sealed_report / entry["path"]
        assert (entry["size"], entry["sha256"]) == (path.stat().st_size, sha256_file(path)), entry["path"]


def test_the_signing_key_is_parsed_once_per_identity(identities: Identities, unsigned_report: Path, tmp_path: Path) -> None:
    """pyHanko's own signer re-parses the key on every signature (~150 ms for RSA-3072); ours once
    per identity. Speed itself is measured by benchmarks/bench_sign.py."""
    auditor.signing.seal._signer.cache_clear()
    for index in range(3):
        sign_report_folder(shutil.copytree(unsigned_report, tmp_path / f"r{index}"), identities.seal)
    info = auditor.signing.seal._signer.cache_info()
    assert info.misses == 1 and info.hits >= 2 * 4  # each folder: PDF, HTML, JSON and manifest signatures


def test_sign_pdf_to_another_file_leaves_source_unchanged(identities: Identities, unsigned_report: Path, tmp_path: Path) -> None:
    before = (unsigned_report / "report.pdf").read_bytes()
    out = sign_pdf(unsigned_report / "report.pdf", tmp_path / "signed.pdf", identities.seal)
    assert (unsigned_report / "report.pdf").read_bytes() == before
    assert out.read_bytes().startswith(before)  # an incremental update: the original bytes stay
    assert len(PdfFileReader(out.open("rb")).embedded_signatures) == 1


def test_detached_signature_is_written_beside_the_file(identities: Identities, tmp_path: Path) -> None:
    target = tmp_path / "note.json"
    target.write_text('{"a": 1}\n')
    assert sign_detached(target, identities.seal) == tmp_path / "note.json.p7s"
    assert (tmp_path / "note.json.p7s").read_bytes()[:1] == b"\x30"  # DER SEQUENCE


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_timestamp_authority_fails_cleanly(identities: Identities, unsigned_report: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/tsa"  # local closed port: no network is used
    with pytest.raises(SigningError, match="timestamp authority .* did not answer.*B-B"):
        sign_pdf(unsigned_report / "report.pdf", tmp_path / "ts.pdf", identities.seal, tsa_url=url)
    assert list(tmp_path.iterdir()) == []


def test_failed_signing_leaves_no_signed_or_temporary_file(identities: Identities, unsigned_report: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(unsigned_report, tmp_path / "r")
    (folder / "report.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf\n")
    with pytest.raises(SigningError, match="could not sign .*report.pdf"):
        sign_report_folder(folder, identities.seal)
    assert not list(folder.glob("*.p7s")) and not list(folder.glob(".*"))
    (folder / "report.html").unlink()
    with pytest.raises(ArchiveError, match="report.html missing"):
        sign_report_folder(folder, identities.seal)


def test_expired_identity_refuses_to_sign(identities: Identities, unsigned_report: Path, tmp_path: Path) -> None:
    seal = identities.seal
    root_key = serialization.load_pem_private_key((identities.seal_dir / "root.key.pem").read_bytes(), ROOT_PASSPHRASE.encode())
    now = dt.datetime.now(dt.UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(seal.cert.subject)
        .issuer_name(seal.root.subject)
        .public_key(seal.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=9))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    folder = shutil.copytree(unsigned_report, tmp_path / "r")
    before = (folder / "report.pdf").read_bytes()
    with pytest.raises(SigningError, match="expired on"):
        sign_report_folder(folder, dataclasses.replace(seal, cert=expired))
    assert (folder / "report.pdf").read_bytes() == before and not list(folder.glob("*.p7s"))


def test_seal_fields_match_the_record_and_flag_throwaway_identities(tmp_path: Path, identities: Identities) -> None:
    seal = SealInfo(**seal_fields(identities.seal))
    assert seal.signed and seal.certificate_sha256 == identities.seal.fingerprint and not seal.throwaway_identity
    assert not SealInfo(**seal_fields(None)).signed and seal_fields(None)["note"] == Note(code="seal.unsigned")
    demo = create_demo_identity(tmp_path)
    demo_seal = SealInfo(**seal_fields(demo))
    assert demo_seal.throwaway_identity and isinstance(demo_seal.note, Note) and demo_seal.note.params["throwaway"] is True
    assert (tmp_path / "demo-keys" / "root.cert.pem").is_file()
