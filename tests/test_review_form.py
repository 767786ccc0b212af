"""The review form of the sealed PDF: fields, PDF/A, reviews signed by `sign_review` and by tools
nobody here wrote (pypdf + pyHanko's command line), forged reviews, and `review-N.json`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, Identities, templated_report
from fixtures.review_forms import outcome_value, pypdf_fill
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from auditor.errors import SigningError
from auditor.keys import issue_identity, load_identity
from auditor.review.fill import sign_review
from auditor.review.form import FONT_RESOURCE, expected_fields
from auditor.review.model import ReviewInput, ReviewRecord
from auditor.signing.seal import sign_detached, sign_revision, signing_errors
from auditor.verify import load_trust, verify_paths
from auditor.verify.review import check_review_file

REVIEW = ReviewInput(
    reviewer="Åsa Łukasiewicz",
    role="Station supervisor",
    authority="May cancel alerts",
    data_considered="The clip, cameras 4 and 5, the radio log at 14:02.",
    decision="overturn",
    reasons="Two people were hugging at the platform edge, not fighting; camera 5 shows them leave calmly.",
    minutes=12.5,
    automation_bias_acknowledged=True,
)


@pytest.fixture(scope="module")
def sealed_form(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    """A report folder rendered with the shipped templates (so with the review form) and sealed."""
    return templated_report(tmp_path_factory.mktemp("form") / "report", identities.seal)


@pytest.fixture
def pdf(sealed_form: Path, tmp_path: Path) -> Path:
    return shutil.copy(sealed_form / "report.pdf", tmp_path / "report.pdf")


def _verdict(path: Path, trust: Path):  # type: ignore[no-untyped-def]
    return verify_paths([path], trust)[0]


def _fonts(obj: generic.PdfObject, seen: set[int]) -> dict[int, generic.DictionaryObject]:
    """Every font dictionary reachable from a resource dictionary (through form XObjects too), by object number."""
    found = {}
    resources = obj.get_object()
    fonts = resources["/Font"] if "/Font" in resources else generic.DictionaryObject()
    for key in fonts:
        ref = fonts.raw_get(key)
        found[ref.idnum if isinstance(ref, generic.IndirectObject) else -1] = ref.get_object()
    xobjects = resources["/XObject"] if "/XObject" in resources else generic.DictionaryObject()
    for key in xobjects:
        ref = xobjects.raw_get(key)
        if isinstance(ref, generic.IndirectObject) and ref.idnum not in seen:
            seen.add(ref.idnum)
            xobject = ref.get_object()
            if "/Resources" in xobject:
                found.update(_fonts(xobject["/Resources"], seen))
    return found


def _annots(page: generic.DictionaryObject) -> list[generic.PdfObject]:
    """A page's annotations (pyHanko's `get` would not resolve an indirect array)."""
    return list(page["/Annots"]) if "/Annots" in page else []


def _embedded(font: generic.DictionaryObject) -> bool:
    if font["/Subtype"] == "/Type0":
        font = font["/DescendantFonts"][0].get_object()
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and any(k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_sealed_report_carries_the_review_form_and_stays_pdfa(sealed_form: Path, trust: Path) -> None:
    reader = PdfFileReader(io.BytesIO((sealed_form / "report.pdf").read_bytes()))
    form = reader.root["/AcroForm"]
    names = [f"{p.get_object()['/T']}.{k.get_object()['/T']}" for p in form["/Fields"] if "/Kids" in p.get_object()
             for k in p.get_object()["/Kids"]]
    assert names == expected_fields()  # slot by slot, in the order of the printed form
    assert "review2.reasons" in names and "review1.bias" in names and "review1.signature" in names
    assert form.get("/NeedAppearances") in (None, False)
    xmp = reader.root["/Metadata"].get_object().data.decode()
    assert re.search(r"pdfaid:part(=\"|>)3", xmp) and re.search(r"pdfaid:conformance(=\"|>)A", xmp)
    assert re.search(r"pdfuaid:part(=\"|>)1", xmp)
    dr_font = form["/DR"]["/Font"].raw_get(f"/{FONT_RESOURCE}")
    assert _embedded(dr_font.get_object()) and "+" not in str(dr_font.get_object()["/BaseFont"])  # whole font
    for page in reader.root["/Pages"]["/Kids"]:
        page = page.get_object()
        page_fonts = _fonts(page["/Resources"], set())
        assert page_fonts and all(_embedded(f) for f in page_fonts.values())
        assert dr_font.idnum not in page_fonts  # the form font is shared with nothing on the pages
        for widget in (a.get_object() for a in _annots(page)):
            if widget.get("/Subtype") == "/Widget" and widget["/Rect"][2] != widget["/Rect"][0]:  # the seal's is 0×0
                assert widget["/F"] & 4 and "/N" in widget["/AP"]  # printed, with an appearance (PDF/A)
                assert page.get("/Tabs") == "/S"  # tagged: the structure's order, the document's
    verdict = _verdict(sealed_form / "report.pdf", trust)
    assert verdict.status == "valid", verdict.reasons
    assert verdict.signatures[0].field == "AuditorSeal" and verdict.reviews == []


def test_sign_review_verifies_and_keeps_the_seal_prefix(pdf: Path, identities: Identities, trust: Path) -> None:
    sealed = pdf.read_bytes()
    signed = sign_review(pdf, identities.reviewer, REVIEW)
    data = pdf.read_bytes()
    assert data[: len(sealed)] == sealed and signed.pdf_size == len(data) and signed.slot == 1
    assert signed.signer == identities.reviewer.subject
    run = run_cli("verify", "--trust", str(trust), str(pdf))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "review 1: OVERTURN by Åsa Łukasiewicz (Station supervisor)" in run.stdout
    assert REVIEW.reasons in run.stdout
    pdfsig = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
    assert pdfsig.count("Signature is Valid") == 2 and "Total document signed" in pdfsig
    with pytest.raises(SigningError, match="slot 1 .* is signed already"):
        sign_review(pdf, identities.reviewer, REVIEW, slot=1)
    second = sign_review(pdf, identities.reviewer, REVIEW.model_copy(update={"decision": "confirm"}))
    assert second.slot == 2
    with pytest.raises(SigningError, match="every review slot"):
        sign_review(pdf, identities.reviewer, REVIEW)
    verdict = _verdict(pdf, trust)
    assert verdict.status == "valid", verdict.reasons
    assert [(r.slot, r.review.decision if r.review else None) for r in verdict.reviews] == [(1, "overturn"), (2, "confirm")]
    assert verdict.reviews[0].review == REVIEW


def _p12(identities: Identities, path: Path) -> Path:
    reviewer = identities.reviewer
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"reviewer", reviewer.key, reviewer.cert, list(reviewer.chain), BestAvailableEncryption(b"p12 pass")
    ))
    return path


EXTERNAL = {
    "review1.reviewer": "Åsa Łukasiewicz", "review1.role": "Station supervisor", "review1.decision": "confirm",
    "review1.reasons": "The clip shows a punch at 14:02; staff confirmed the assault.", "review1.minutes": "7",
    "review1.bias": "/Yes",
}


def test_review_made_with_pypdf_and_the_pyhanko_command_line(
    pdf: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    filled = pypdf_fill(pdf, tmp_path / "filled.pdf", outcome_value(1, EXTERNAL))
    (tmp_path / "pass.txt").write_text("p12 pass\n")
    out = tmp_path / "reviewed.pdf"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("pyhanko")),  # the pyhanko command of this environment, on PATH or not
         "sign", "addsig", "--field", "review1.signature", "pkcs12", "--passfile", str(tmp_path / "pass.txt"), str(filled), str(out), str(_p12(identities, tmp_path / "reviewer.p12"))],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(pdf.read_bytes())
    run = run_cli("verify", "--trust", str(trust), str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "review 1: CONFIRM by Åsa Łukasiewicz (Station supervisor), 7 min" in run.stdout
    review = _verdict(out, trust).reviews[0].review
    assert review is not None and review.automation_bias_acknowledged and review.reasons == EXTERNAL["review1.reasons"]
    pdfsig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert pdfsig.count("Signature is Valid") == 2


def _edit_page_then_sign(pdf: Path, identities: Identities) -> None:
    """A review revision that also rewrites a page's content stream, signed by the reviewer."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    stream = contents.get_object() if not isinstance(contents.get_object(), generic.ArrayObject) else contents.get_object()[0].get_object()
    ref = contents if not isinstance(contents.get_object(), generic.ArrayObject) else contents.get_object()[0]
    stream._data = stream.data.replace(b"re f", b"re S", 1) + b"\n"
    stream._encoded_data = None
    writer.mark_update(ref)
    with signing_errors(pdf, None):
        out = sign_revision(writer, identities.reviewer, "review1.signature", reason="review", certify=False)
    pdf.write_bytes(out)


@pytest.mark.parametrize(
    "forgery, reason",
    [
        ("decision changed after signing", "appended after the last signature"),
        ("signed revision edits another slot", "outside its own slot"),
        ("unsigned revision", "appended after the last signature"),
        ("reviewer outside the root", "does not chain to the trusted root that issued the seal"),
        ("page edit hidden in a review", "changes more than signatures and form fields"),
    ],
)
def test_forged_reviews_fail_verify(
    pdf: Path, identities: Identities, trust: Path, tmp_path: Path, forgery: str, reason: str
) -> None:
    if forgery == "decision changed after signing":
        sign_review(pdf, identities.reviewer, REVIEW)
        shutil.copy(pypdf_fill(pdf, tmp_path / "x.pdf", {"review1.decision": "confirm"}), pdf)
    elif forgery == "signed revision edits another slot":
        sign_review(pdf, identities.reviewer, REVIEW)
        shutil.copy(pypdf_fill(pdf, tmp_path / "x.pdf", {"review1.decision": "confirm"}), pdf)
        sign_review(pdf, identities.reviewer, REVIEW, slot=2)  # its signature covers the slot-1 change
    elif forgery == "unsigned revision":
        shutil.copy(pypdf_fill(pdf, tmp_path / "x.pdf", outcome_value(1, EXTERNAL)), pdf)
    elif forgery == "reviewer outside the root":  # a reviewer certificate, under the stranger's root
        issue_identity(identities.stranger_dir, ROOT_PASSPHRASE, tmp_path / "outsider", PASSPHRASE,
                       common_name=REVIEW.reviewer, role=REVIEW.role)
        sign_review(pdf, load_identity(tmp_path / "outsider", PASSPHRASE), REVIEW)
    else:
        _edit_page_then_sign(pdf, identities)
    verdict = _verdict(pdf, trust)
    assert verdict.status == "invalid", forgery
    assert any(reason in r for r in verdict.reasons), verdict.reasons
    run = run_cli("verify", "--trust", str(trust), str(pdf))
    assert run.returncode == 1 and reason in run.stdout


def test_review_json_must_say_what_the_pdf_says(sealed_form: Path, identities: Identities, trust: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(sealed_form, tmp_path / "report")
    signed = sign_review(folder / "report.pdf", identities.reviewer, REVIEW)
    record = ReviewRecord(
        report_id="AUD-20250314-fixture0001",
        record_sha256=__import__("hashlib").sha256((folder / "evidence.json").read_bytes()).hexdigest(),
        slot=signed.slot, review=REVIEW, signer=signed.signer, certificate_sha256=signed.certificate_sha256,
        signed_at=signed.signed_at, pdf_size=signed.pdf_size, pdf_sha256=signed.pdf_sha256,
    )
    anchors = load_trust(trust)
    reviews = _verdict(folder / "report.pdf", trust).reviews
    (folder / "review-1.json").write_text(record.model_dump_json())
    sign_detached(folder / "review-1.json", identities.reviewer)
    assert check_review_file(folder, "review-1.json", anchors, reviews).status == "valid"
    other_words = record.model_copy(update={"review": REVIEW.model_copy(update={"decision": "confirm"})})
    (folder / "review-1.json").write_text(other_words.model_dump_json())
    sign_detached(folder / "review-1.json", identities.reviewer)  # signed by the reviewer, says other than the PDF
    forged = check_review_file(folder, "review-1.json", anchors, reviews)
    assert forged.status == "invalid" and any("decision differ" in r for r in forged.reasons), forged.reasons
    (folder / "review-1.json").write_text(record.model_dump_json())
    sign_detached(folder / "review-1.json", identities.seal)  # right words, another signer
    other = check_review_file(folder, "review-1.json", anchors, reviews)
    assert other.status == "invalid" and any("another certificate" in r for r in other.reasons)


def _page_png(pdf: Path, page: int, out: Path) -> np.ndarray:
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)],
                   check=True)
    return np.asarray(Image.open(out.with_suffix(".png")).convert("L"))


def test_filled_values_are_visible_on_the_review_page(pdf: Path, identities: Identities, tmp_path: Path) -> None:
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    kids = [p.get_object() for p in reader.root["/Pages"]["/Kids"]]
    page, reasons = next(
        (number, k.get_object()) for number, p in enumerate(kids, 1) for k in _annots(p)
        if k.get_object().get("/T") == "reasons"
    )  # slot 1's reasons box
    before = _page_png(pdf, page, tmp_path / "before")
    sign_review(pdf, identities.reviewer, REVIEW)
    after = _page_png(pdf, page, tmp_path / "after")
    x1, y1, x2, y2 = (float(v) * 70 / 72 for v in reasons["/Rect"])
    height = before.shape[0]
    box = (slice(int(height - y2) + 2, int(height - y1) - 2), slice(int(x1) + 2, int(x2) - 2))
    assert (before[box] < 128).sum() == 0  # empty before
    assert (after[box] < 128).sum() > 100  # the reasons drawn by the appearance stream
