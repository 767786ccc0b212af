"""Long-term validation, production side (issue 22 items 3-4): timestamps on every signature,
validation data (DSS) in sealed and reviewed PDFs, against the local PKI on loopback."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, build_report, make_identities, templated_report
from pki import LocalPki
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.status import SignatureCoverageLevel

from auditor.errors import SigningError
from auditor.evidence import Note
from auditor.keys import (
    CRL_FILE,
    SigningIdentity,
    Target,
    create_identity,
    find_certificate,
    import_identity,
    load_identity,
    revoke,
)
from auditor.report.record_words import note_text
from auditor.review.fill import reviewer_names, sign_review
from auditor.review.model import ReviewInput
from auditor.review.submissions import log_answer, log_submission
from auditor.signing.seal import seal_fields, sign_bytes, sign_report_folder
from auditor.verify import verify_paths


def _imported(local_pki: LocalPki, label: str, folder: Path) -> SigningIdentity:
    import_identity(local_pki.identity_files(label, folder / "src"), folder / "keys", PASSPHRASE)
    return load_identity(folder / "keys", PASSPHRASE)


@pytest.fixture(scope="module")
def pki_seal(local_pki: LocalPki, tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    return _imported(local_pki, "seal", tmp_path_factory.mktemp("pki-seal"))


@pytest.fixture(scope="module")
def lt_report(local_pki: LocalPki, pki_seal: SigningIdentity, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_report(tmp_path_factory.mktemp("lt") / "r", identity=pki_seal)
    sign_report_folder(folder, pki_seal, tsa_url=local_pki.tsa_url)
    return folder


def test_a_sealed_pdf_carries_the_revocation_data_it_was_validated_with_inside_its_signed_revision(
    lt_report: Path, pki_seal: SigningIdentity
) -> None:
    with (lt_report / "report.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        (seal,) = reader.embedded_signatures
        assert seal.sig_object["/SubFilter"] == SigSeedSubFilter.PADES.value
        assert seal.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE  # no unsigned DSS revision after it
        assert seal.sig_object_type == "/Sig" and _timestamped(seal.signer_info)  # B-T
        dss = DocumentSecurityStore.read_dss(reader)
        assert dss.ocsps or dss.crls, "no revocation data in the DSS"
        held = {c.dump() for c in dss.load_certs()}
    assert {_der(pki_seal.cert), _der(pki_seal.root)} <= held


def test_the_record_says_whether_the_seal_embeds_validation_data(pki_seal: SigningIdentity, tmp_path: Path) -> None:
    embeds, bare = seal_fields(pki_seal)["note"], seal_fields(_bare_seal(tmp_path))["note"]
    assert isinstance(embeds, Note) and embeds.params["validation_data"] is True
    assert isinstance(bare, Note) and bare.params["validation_data"] is False
    assert "PAdES B-LT when timestamped" in note_text(embeds) and "no revocation data is embedded" in note_text(bare)


def test_a_seal_without_any_revocation_source_still_signs_b_t(tmp_path: Path, local_pki: LocalPki) -> None:
    seal = _bare_seal(tmp_path)
    folder = build_report(tmp_path / "r", identity=seal)
    sign_report_folder(folder, seal, tsa_url=local_pki.tsa_url)
    with (folder / "report.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        assert _timestamped(reader.embedded_signatures[0].signer_info)
        assert "/DSS" not in reader.root


def test_a_review_revision_carries_the_reviewers_validation_data_and_verifies(
    local_pki: LocalPki, pki_seal: SigningIdentity, tmp_path: Path
) -> None:
    reviewer = _imported(local_pki, "reviewer", tmp_path / "reviewer")
    name, role = reviewer_names(reviewer)
    folder = templated_report(tmp_path / "r", pki_seal)
    review = ReviewInput(
        reviewer=name, role=role, authority="May cancel alerts", data_considered="The clip.", decision="confirm",
        reasons="Two people fight at the platform edge.", minutes=3.0, automation_bias_acknowledged=True,
    )
    sign_review(folder / "report.pdf", reviewer, review, tsa_url=local_pki.tsa_url)
    with (folder / "report.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        seal, signed = reader.embedded_signatures
        assert signed.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE and _timestamped(signed.signer_info)
        before = {c.dump() for c in DocumentSecurityStore.read_dss(reader.get_historical_resolver(seal.signed_revision)).load_certs()}
        after = {c.dump() for c in DocumentSecurityStore.read_dss(reader).load_certs()}
    assert _der(reviewer.cert) in after - before  # the review's own revision added the reviewer's validation data
    verdict = verify_paths([folder / "report.pdf"], local_pki.trust_file)[0]
    assert verdict.status == "valid", verdict.reasons


def test_every_detached_signature_of_a_sealed_folder_is_timestamped(lt_report: Path) -> None:
    for name in ("report.html.p7s", "evidence.json.p7s", "manifest.json.p7s"):
        assert _timestamped(cms.ContentInfo.load((lt_report / name).read_bytes())["content"]["signer_infos"][0]), name


def test_a_submission_and_its_answer_are_timestamped(lt_report: Path, local_pki: LocalPki, pki_seal: SigningIdentity, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    shutil.copytree(lt_report, folder)
    entry = log_submission(folder, "Case 12", "I was only waiting for the bus.", [], pki_seal, tsa_url=local_pki.tsa_url)
    answer = log_answer(folder, 1, "The review found no incident.", pki_seal, tsa_url=local_pki.tsa_url)
    for path in (entry, answer):
        assert _timestamped(cms.ContentInfo.load(path.with_name(path.name + ".p7s").read_bytes())["content"]["signer_infos"][0])


def test_sign_bytes_carries_a_timestamp_over_its_signature(pki_seal: SigningIdentity, local_pki: LocalPki) -> None:
    signer_info = cms.ContentInfo.load(sign_bytes(b"ledger head", pki_seal, tsa_url=local_pki.tsa_url))["content"]["signer_infos"][0]
    (attribute,) = signer_info["unsigned_attrs"]
    assert attribute["type"].native == "signature_time_stamp_token"
    tst_info = attribute["values"][0]["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(signer_info["signature"].native).digest()


def test_the_b_lt_seal_verifies_valid(lt_report: Path, local_pki: LocalPki) -> None:
    verdicts = verify_paths([lt_report], local_pki.trust_file)
    assert {v.status for v in verdicts} == {"valid"}, [v.reasons for v in verdicts]


def test_a_certificate_on_the_keys_folders_revocation_list_signs_nothing(tmp_path: Path) -> None:
    made = make_identities(tmp_path / "ids")
    revoke(made.seal_dir, ROOT_PASSPHRASE, find_certificate(made.seal_dir, Target(seal=True)), reason="key-compromise")
    folder = build_report(tmp_path / "r", identity=made.seal)
    with pytest.raises(SigningError, match="was revoked as of .*nothing is signed with it"):
        sign_report_folder(folder, made.seal)
    with pytest.raises(SigningError, match="was revoked"):
        sign_bytes(b"x", made.seal)


def _bare_seal(tmp_path: Path) -> SigningIdentity:
    """A seal without CRL/OCSP URLs whose keys folder holds no revocation list: no revocation source."""
    create_identity(tmp_path / "bare", PASSPHRASE, root_passphrase=ROOT_PASSPHRASE, common_name="Bare", organisation="Bare")
    (tmp_path / "bare" / CRL_FILE).unlink()
    return load_identity(tmp_path / "bare", PASSPHRASE)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _timestamped(signer_info: cms.SignerInfo) -> bool:
    return any(a["type"].native == "signature_time_stamp_token" for a in signer_info["unsigned_attrs"] or [])
