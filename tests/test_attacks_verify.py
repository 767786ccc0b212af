"""Attacks on `auditor verify` from security issue 10, one test per finding verify owns.

Each test reproduces the attack and asserts that verify catches it; each was accepted (or, for
finding 9, took its time) before the fix. Fixtures: a sealed report folder and identities under
one test root, private copies of the report (tests/conftest.py, tests/fixtures/identities.py).
"""

from __future__ import annotations

import binascii
import datetime as dt
import io
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fixtures.identities import ROOT_PASSPHRASE, Identities, build_report, signed_report
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

import auditor.signing.seal
from auditor.keys import SigningIdentity
from auditor.signing.ltv import BestEffortPaths
from auditor.signing.seal import sign_detached, sign_report_folder
from auditor.verify import EXIT_INVALID, FileVerdict, exit_code, verify_paths

NOW = dt.datetime.now(dt.UTC)


def _by_name(folder: Path, trust: Path) -> dict[str, FileVerdict]:
    return {Path(v.path).name: v for v in verify_paths([folder], trust)}


def _reasons(verdict: FileVerdict) -> str:
    return "\n".join(verdict.reasons)


# --- certificates and identities made for the attacks ------------------------------------------


def _name(common_name: str, organisation: str = "Test Org") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    ca: bool = False,
    purposes: list[x509.ObjectIdentifier] | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, ca, ca, False, False), critical=True
        )  # digitalSignature, nonRepudiation (+ keyCertSign, cRLSign for a CA)
    )
    if purposes:
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _root_key(identities: Identities) -> rsa.RSAPrivateKey:
    data = (identities.seal_dir / "root.key.pem").read_bytes()
    return serialization.load_pem_private_key(data, ROOT_PASSPHRASE.encode())  # type: ignore[return-value]


def _identity(like: SigningIdentity, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cert: x509.Certificate) -> SigningIdentity:
    return SigningIdentity(like.paths, key, cert, (), like.root, like.info)


@pytest.fixture(scope="module")
def bad_signers(identities: Identities) -> dict[str, SigningIdentity]:
    """Signers verify must not count, all under the test root: a TLS server certificate, a CA
    certificate, and the root itself."""
    seal, root_key = identities.seal, _root_key(identities)
    tls_key, ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    tls = _certificate(_name("Web server"), tls_key, seal.root.subject, root_key, purposes=[ExtendedKeyUsageOID.SERVER_AUTH])
    sub_ca = _certificate(_name("Sub CA"), ca_key, seal.root.subject, root_key, ca=True)
    return {
        "server-auth leaf": _identity(seal, tls_key, tls),
        "CA certificate": _identity(seal, ca_key, sub_ca),
        "the root itself": _identity(seal, root_key, seal.root),
    }


def _unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker's signing tool does not refuse a certificate: neither does auditor's, here."""
    monkeypatch.setattr(SigningIdentity, "check_usable", lambda self, now=None: None)


# --- finding 2: one folder, one report ---------------------------------------------------------


def test_finding2_html_and_p7s_copied_from_another_report_are_foreign(
    report: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    other = signed_report(tmp_path / "other", identities.seal, marker="B")  # same key, says something else
    for name in ("report.html", "report.html.p7s"):
        shutil.copy(other / name, report / name)
    verdicts = _by_name(report, trust)
    assert verdicts["report.html"].status == "invalid"
    assert "report.html: foreign to this report" in _reasons(verdicts["report.html"])
    assert "report.html.p7s: foreign to this report" in _reasons(verdicts["report.html"])
    assert exit_code(list(verdicts.values())) == EXIT_INVALID


def test_finding2_unlisted_added_and_removed_files_are_named(report: Path, trust: Path) -> None:
    (report / "images" / "note.png").write_bytes(b"\x89PNG added later")
    verdicts = _by_name(report, trust)
    assert exit_code(list(verdicts.values())) == EXIT_INVALID
    assert "images/note.png: not listed in the manifest" in _reasons(verdicts["manifest.json"])
    (report / "report.html.p7s").rename(report / "old.p7s")
    verdicts = _by_name(report, trust)
    assert "old.p7s: not listed in the manifest" in _reasons(verdicts["manifest.json"])
    assert "report.html.p7s is missing" in _reasons(verdicts["report.html"])
    (report / "old.p7s").rename(report / "report.html.p7s")
    (report / "images" / "note.png").unlink()
    (report / "arrays.npz").unlink()
    assert "arrays.npz: missing (the manifest lists it)" in _reasons(_by_name(report, trust)["manifest.json"])


def test_finding2_folder_without_manifest_is_not_bound(report: Path, trust: Path) -> None:
    (report / "manifest.json").unlink(missing_ok=True)
    (report / "manifest.json.p7s").unlink(missing_ok=True)
    verdicts = verify_paths([report], trust)
    assert exit_code(verdicts) == EXIT_INVALID
    assert "files are not bound to one report" in _reasons(verdicts[-1])


def test_finding2_every_seal_signature_is_by_the_one_seal(report: Path, identities: Identities, trust: Path) -> None:
    sign_detached(report / "report.html", identities.reviewer)  # trusted, same root, another signer
    verdict = _by_name(report, trust)["report.html"]
    assert verdict.status == "invalid" and "one report has one signer" in _reasons(verdict)


# --- finding 3: the record names the certificate that signed ----------------------------------


@pytest.mark.parametrize("named", ["reviewer", "nobody"])
def test_finding3_record_names_another_seal_than_the_signer(
    named: str, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    folder = build_report(tmp_path / "r", identity=identities.reviewer if named == "reviewer" else None)
    sign_report_folder(folder, identities.seal)
    verdict = verify_paths([folder / "report.pdf"], trust)[0]
    assert verdict.status == "invalid"
    expected = "names one signer, another signed" if named == "reviewer" else "seal.signed: false"
    assert expected in _reasons(verdict)


# --- finding 5: signers that must not count ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("server-auth leaf", "not a document-signing certificate"),
        ("CA certificate", "is a certificate authority (CA:TRUE)"),
        ("the root itself", "the trust root's own key signed"),
    ],
)
def test_finding5_signer_that_must_not_sign_is_invalid(
    kind: str, reason: str, bad_signers: dict[str, SigningIdentity], trust: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unchecked(monkeypatch)
    signer = bad_signers[kind]
    folder = build_report(tmp_path / "r", identity=signer)  # the record names it: only its kind is wrong
    sign_report_folder(folder, signer)
    for name in ("report.pdf", "report.html"):
        verdict = verify_paths([folder / name], trust)[0]
        assert verdict.status == "invalid", (name, verdict.reasons)
        assert reason in _reasons(verdict), (name, verdict.reasons)


def test_finding5_control_a_seal_certificate_without_eku_still_counts(
    identities: Identities, trust: Path, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())  # a seal issued before leaf certificates carried an EKU
    cert = _certificate(_name("Older seal"), key, identities.seal.root.subject, _root_key(identities))
    signer = _identity(identities.seal, key, cert)
    folder = build_report(tmp_path / "r", identity=signer)
    sign_report_folder(folder, signer)
    verdicts = verify_paths([folder], trust)
    assert verdicts and all(v.status == "valid" for v in verdicts), [v.reasons for v in verdicts]


# --- finding 6: a timestamp counts only when trusted and intact --------------------------------


@pytest.fixture(scope="module")
def self_made_tsa(tmp_path_factory: pytest.TempPathFactory) -> tuple[DummyTimeStamper, Path]:
    """A timestamp authority of the attacker's own, and its root certificate (PEM)."""
    root_key, tsa_key = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    root = _certificate(_name("Own TSA root", "Own"), root_key, _name("Own TSA root", "Own"), root_key, ca=True)
    tsa = _certificate(_name("Own TSA", "Own"), tsa_key, root.subject, root_key, purposes=[ExtendedKeyUsageOID.TIME_STAMPING])
    der_key = tsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    stamper = _SelfMadeTsa(
        tsa_cert=_asn1(tsa),
        tsa_key=asn1_keys.PrivateKeyInfo.load(der_key),
        certs_to_embed=SimpleCertificateStore.from_certs([_asn1(root)]),
    )
    pem = tmp_path_factory.mktemp("tsa") / "tsa-root.pem"
    pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return stamper, pem


class _SelfMadeTsa(BestEffortPaths, DummyTimeStamper):
    """A TSA under its own root: signing gathers no validation data for it, as for any unknown TSA."""


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def test_finding6_untrusted_or_transplanted_timestamp_is_not_b_t(
    self_made_tsa: tuple[DummyTimeStamper, Path], identities: Identities, trust: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamper, tsa_root = self_made_tsa
    monkeypatch.setattr(auditor.signing.seal, "timestamper", lambda url: stamper if url else None)
    folder = build_report(tmp_path / "r", identity=identities.seal)
    sign_report_folder(folder, identities.seal, tsa_url="http://tsa.invalid/")
    verdicts = _by_name(folder, trust)
    assert all(v.status == "valid" for v in verdicts.values()), [v.reasons for v in verdicts.values()]
    assert not any(s.timestamped for v in verdicts.values() for s in v.signatures)
    assert all(any("timestamp by O=Own,CN=Own TSA" in n and "not B-T" in n for n in v.notes) for v in verdicts.values())
    both = tmp_path / "both.pem"  # trusting the TSA's root too makes the same timestamps count
    both.write_bytes(trust.read_bytes() + tsa_root.read_bytes())
    assert all(v.signatures[0].timestamped for v in verify_paths([folder], both))
    _transplant_token(folder / "evidence.json.p7s", folder / "report.html.p7s")
    verdict = verify_paths([folder / "report.html"], trust)[0]
    assert verdict.status == "invalid" and "timestamp token is altered or does not match" in _reasons(verdict)


def _transplant_token(source: Path, target: Path) -> None:
    """Put the signature timestamp of `source` into `target` (unsigned attributes: no signature breaks)."""
    attributes = cms.ContentInfo.load(source.read_bytes())["content"]["signer_infos"][0]["unsigned_attrs"]
    info = cms.ContentInfo.load(target.read_bytes())
    info["content"]["signer_infos"][0]["unsigned_attrs"] = [cms.CMSAttribute.load(a.dump()) for a in attributes]
    target.write_bytes(info.dump(force=True))


# --- finding 7: a CMS container carries its signer's path, nothing else ------------------------


def _with_extra_certificates(der: bytes, extra: list[x509.Certificate]) -> bytes:
    info = cms.ContentInfo.load(der)
    carried = [cms.CertificateChoices.load(c.dump()) for c in info["content"]["certificates"]]
    extra_choices = [cms.CertificateChoices.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
    info["content"]["certificates"] = cms.CertificateSet(carried + extra_choices)
    return info.dump(force=True)


def _self_signed(subject: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return _certificate(subject, key, subject, key, ca=True)


def _replace_pdf_container(pdf: Path, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite the CMS in the PDF's (unsigned) /Contents gap, zero-padded to the same length."""
    data = pdf.read_bytes()
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    start, end = int(sig.byte_range[1]), int(sig.byte_range[2])
    der = sig.pkcs7_content[: len(cms.ContentInfo.load(sig.pkcs7_content).dump())]
    new_hex = binascii.hexlify(edit(der))
    assert len(new_hex) <= end - start - 2, "the extra certificates do not fit the signature's gap"
    pdf.write_bytes(data[: start + 1] + new_hex.ljust(end - start - 2, b"0") + data[end - 1 :])


def test_finding7_extra_and_lookalike_certificates_are_reported(report: Path, identities: Identities, trust: Path) -> None:
    extra = [_self_signed(_name("Test Org evidence seal root")), _self_signed(_name("Someone else"))]  # lookalike root
    p7s = report / "evidence.json.p7s"
    p7s.write_bytes(_with_extra_certificates(p7s.read_bytes(), extra))
    verdict = verify_paths([report / "evidence.json"], trust)[0]
    assert verdict.status == "invalid"
    assert "carries 2 certificate(s) that are not on its signer's path" in _reasons(verdict)
    _replace_pdf_container(report / "report.pdf", lambda der: _with_extra_certificates(der, extra[:1]))
    verdict = verify_paths([report / "report.pdf"], trust)[0]
    assert verdict.status == "invalid"
    assert "carries 1 certificate(s) that are not on its signer's path" in _reasons(verdict)


# --- finding 8: a later signer may not rewrite the certified metadata --------------------------


def _sign_with_new_title(pdf: Path, signer: SigningIdentity, title: str) -> None:
    """A signed revision (by `signer`) that also sets the title: pyHanko writes it to the Info
    dictionary and the XMP dc:title."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    writer.document_meta.title = title
    key = signer.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pyhanko_signer = signers.SimpleSigner(
        signing_cert=_asn1(signer.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(key),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(signer.root)]),
    )
    meta = signers.PdfSignatureMetadata(field_name="Review", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES)
    pdf.write_bytes(signers.PdfSigner(meta, pyhanko_signer).sign_pdf(writer).getvalue())


def test_finding8_second_signer_rewriting_the_title_is_invalid(report: Path, identities: Identities, trust: Path) -> None:
    pdf = report / "report.pdf"
    _sign_with_new_title(pdf, identities.reviewer, "NO ALERT (reviewed, cleared)")  # trusted, same root
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "invalid"
    assert "the metadata changed after the seal: Title, dc:title" in _reasons(verdict)


# --- finding 9: bounded work on hostile input ---------------------------------------------------


def _timed(paths: list[Path], trust: Path) -> tuple[FileVerdict, float]:
    start = time.perf_counter()
    verdict = verify_paths(paths, trust)[0]
    return verdict, time.perf_counter() - start


def _append_revisions(pdf: Path, count: int) -> None:
    """`count` empty incremental updates (classic xref sections chained by /Prev)."""
    data = pdf.read_bytes()
    reader = PdfFileReader(io.BytesIO(data))
    root, size, prev = reader.trailer.raw_get("/Root"), int(reader.trailer["/Size"]), reader.last_startxref
    out = bytearray(data)
    for _ in range(count):
        at = len(out) + 1
        out += (
            f"\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size {size} /Root {root.idnum} 0 R /Prev {prev} >>\n"
            f"startxref\n{at}\n%%EOF\n"
        ).encode()
        prev = at
    pdf.write_bytes(bytes(out))


def _append_huge_xref(pdf: Path, entries: int) -> None:
    """One incremental update whose xref table lists `entries` free objects."""
    data = pdf.read_bytes()
    reader = PdfFileReader(io.BytesIO(data))
    root, prev = reader.trailer.raw_get("/Root"), reader.last_startxref
    table = b"0000000000 65535 f \n" * entries
    at = len(data) + 1
    tail = f"trailer\n<< /Size {entries} /Root {root.idnum} 0 R /Prev {prev} >>\nstartxref\n{at}\n%%EOF\n"
    pdf.write_bytes(data + f"\nxref\n0 {entries}\n".encode() + table + tail.encode())


def test_finding9_hostile_inputs_end_quickly_with_one_reason(report: Path, trust: Path) -> None:
    p7s = report / "evidence.json.p7s"
    p7s.write_bytes(_with_extra_certificates(p7s.read_bytes(), [_self_signed(_name(f"junk {i}")) for i in range(100)]))
    verdict, seconds = _timed([report / "evidence.json"], trust)
    assert verdict.status == "invalid" and seconds < 3
    assert verdict.reasons == ["evidence.json.p7s: the signature container carries 102 certificates, more than the 16 allowed (its signer and that one's path)"]
    p7s.write_bytes(b"\x30" * (1 << 20 | 1))
    verdict, _ = _timed([report / "evidence.json"], trust)
    assert verdict.reasons == ["evidence.json.p7s is larger than the 1 MiB allowed: refused unread"]
    pdf = report / "report.pdf"
    sealed = pdf.read_bytes()
    _append_revisions(pdf, 100)
    verdict, seconds = _timed([pdf], trust)
    assert verdict.status == "invalid" and seconds < 3
    assert verdict.reasons == ["the PDF has 102 revisions, more than the 64 allowed: refused unread"]
    pdf.write_bytes(sealed)
    _append_huge_xref(pdf, 250_000)
    verdict, seconds = _timed([pdf], trust)
    assert verdict.status == "invalid" and seconds < 3
    assert verdict.reasons == ["the PDF declares or lists 250000 cross-reference entries, more than the 200000 allowed: refused unread"]
    pdf.write_bytes(sealed + b"\ntrailer\n<< /P#72ev 0 >>\n")  # a /Prev the byte counts above would miss
    verdict, _ = _timed([pdf], trust)
    assert verdict.reasons == ["the PDF spells cross-reference keys with #-escapes: refused unread"]
