"""The tagged report PDF (issue 25): PDF/A-3a and PDF/UA-1, its structure tree (headings, lists,
tables, figures with alternative text, form fields), `/Lang`, and that seal, review and verify keep
working on it. `python tests/test_tagged_pdf.py REPORT.pdf [PAGES]` prints the structure dump.
"""

from __future__ import annotations

import io
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pydyf
import pypdf
import pytest
import weasyprint
from fixtures.identities import Identities
from fixtures.report_records import full_profile, make_report_folder
from fixtures.review_forms import outcome_value, pypdf_fill
from lxml import html as lxml_html
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from auditor import i18n
from auditor.evidence import EvidenceRecord, SealInfo, record_json, write_record
from auditor.evidence.model import ImageRef, MapSummary
from auditor.evidence.trust import PersonBox, PersonGroundingRecord, PersonRecord, PositionImage
from auditor.report import alt_text, tagging
from auditor.report.document import write_report
from auditor.review.fill import sign_review
from auditor.review.form import tooltip
from auditor.review.model import ReviewInput
from auditor.signing.seal import seal_fields, sign_report_folder, sign_revision, signing_errors
from auditor.verify import verify_paths

REVIEW = ReviewInput(
    reviewer="Åsa Łukasiewicz", role="Station supervisor", authority="May cancel alerts",
    data_considered="The clip.", decision="confirm", reasons="Two people fight at the platform edge.",
    minutes=4.0, automation_bias_acknowledged=True,
)


def tagged_report(folder: Path, identities: Identities, language: str = "en") -> Path:
    """A report folder with the trust sections (more figures), rendered in `language` and sealed."""
    profile = full_profile().model_copy(update={"report_language": language})
    record = make_report_folder(folder, profile=profile, seal=SealInfo(**seal_fields(identities.seal)), trust=True)
    write_record(folder, record)
    write_report(record, folder)
    sign_report_folder(folder, identities.seal)
    return folder


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    return tagged_report(tmp_path_factory.mktemp("tagged") / "report", identities)


@pytest.fixture(scope="module")
def pdf(sealed: Path) -> Iterator[pikepdf.Pdf]:
    with pikepdf.open(sealed / "report.pdf") as document:
        yield document


def elements(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every structure element, in document order (depth first)."""
    stack = [pdf.Root.StructTreeRoot.K]
    while stack:
        node = stack.pop()
        kids = list(node) if isinstance(node, pikepdf.Array) else [node]
        for kid in reversed(kids):
            if isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") != "/OBJR":
                stack.append(kid.get("/K", pikepdf.Array()))
        yield from (k for k in kids if isinstance(k, pikepdf.Dictionary) and "/S" in k)


def marked_text(path: Path, page: int) -> dict[int, str]:
    """The text of each marked-content sequence (by MCID) of a page, read with pypdf."""
    texts: dict[int, str] = {}
    open_ids: list[int | None] = []

    def operator(op: bytes, args: list[object], *_: object) -> None:
        if op in (b"BDC", b"BMC"):
            properties = args[1] if op == b"BDC" and len(args) > 1 else None
            open_ids.append(properties.get("/MCID") if isinstance(properties, dict) else None)
        elif op == b"EMC" and open_ids:
            open_ids.pop()

    def text(value: str, *_: object) -> None:
        if open_ids and open_ids[-1] is not None:
            texts[int(open_ids[-1])] = texts.get(int(open_ids[-1]), "") + value

    pypdf.PdfReader(path).pages[page].extract_text(visitor_operand_before=operator, visitor_text=text)
    return texts


def structure_lines(path: Path, pages: int = 2) -> list[str]:
    """The structure tree of the first `pages` pages, one element a line, indented by depth: its
    type, its text (its `/Span` leaves', shortened), its alternative text, and the form field an
    /OBJR points at."""
    pages = min(pages, len(pypdf.PdfReader(path).pages))
    texts = [marked_text(path, page) for page in range(pages)]
    with pikepdf.open(path) as pdf:
        page_of = {page.objgen: number for number, page in enumerate(pdf.pages)}
        lines: list[str] = []

        def walk(element: pikepdf.Dictionary, depth: int, page: int) -> None:
            page = page_of.get(element.Pg.objgen, page) if "/Pg" in element else page
            kids = element.get("/K", pikepdf.Array())
            kids = list(kids) if isinstance(kids, pikepdf.Array) else [kids]
            elements = [k for k in kids if isinstance(k, pikepdf.Dictionary) and "/S" in k]
            runs = [k for k in elements if k.S == "/Span" and all(isinstance(m, int) for m in k.get("/K", []))]
            if page < pages:
                words = " ".join(texts[page].get(int(m), "") for run in runs for m in run.K).split()
                said = " ".join(words)
                text = f"{'  ' * depth}{str(element.S)[1:]}" + (f' "{said[:70]}{"…" if len(said) > 70 else ""}"' if said else "")
                if "/Alt" in element:
                    text += f' Alt="{element.Alt}"'
                objr = [k for k in kids if isinstance(k, pikepdf.Dictionary) and k.get("/Type") == "/OBJR"]
                text += "".join(f" [field {k.Obj.Parent.T}.{k.Obj.T}: {k.Obj.TU}]" for k in objr if "/TU" in k.Obj)
                lines.append(text)
            for kid in elements:
                if not any(kid.objgen == run.objgen for run in runs):
                    walk(kid, depth + 1, page)

        for top in elements_of(pdf.Root.StructTreeRoot.K):
            walk(top, 0, 0)
        return lines


def elements_of(node: object) -> list[pikepdf.Dictionary]:
    return [k for k in (list(node) if isinstance(node, pikepdf.Array) else [node]) if isinstance(k, pikepdf.Dictionary)]


def widgets(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    return [a for page in pdf.pages for a in page.get("/Annots", []) if a.get("/Subtype") == "/Widget" and a.Rect[2] != a.Rect[0]]


def test_the_report_is_tagged_pdf_a3a_and_pdf_ua1(sealed: Path, pdf: pikepdf.Pdf) -> None:
    info = subprocess.run(["pdfinfo", str(sealed / "report.pdf")], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M)
    meta = pdf.open_metadata()
    assert (meta.pdfa_status, meta.get("pdfuaid:part")) == ("3A", "1")
    assert pdf.Root.MarkInfo.Marked is True and pdf.Root.ViewerPreferences.DisplayDocTitle is True
    assert "/StructTreeRoot" in pdf.Root and "/ParentTree" in pdf.Root.StructTreeRoot
    assert meta.get("dc:title")  # the title a reader shows (DisplayDocTitle), as PDF/UA asks


def test_structure_has_headings_lists_tables_figures_and_form_fields(pdf: pikepdf.Pdf) -> None:
    tags = [str(e.S)[1:] for e in elements(pdf)]
    assert {"H1", "H2", "H3", "L", "LI", "LBody", "Table", "TR", "TH", "TD", "Figure", "Caption", "Form"} <= set(tags)
    headings = [int(t[1]) for t in tags if re.fullmatch(r"H[1-6]", t)]
    assert headings[0] == 1 and headings.count(1) == 1  # one title, first
    assert all(b <= a + 1 for a, b in itertools.pairwise(headings))  # no level skipped going down


def test_all_content_is_tagged_or_an_artifact(pdf: pikepdf.Pdf) -> None:
    in_tree = {e.objgen for e in elements(pdf)}
    parents = dict(zip(*[iter(pdf.Root.StructTreeRoot.ParentTree.Nums)] * 2, strict=True))
    pagination = 0
    for number, page in enumerate(pdf.pages):
        for operands, operator in pikepdf.parse_content_stream(page):
            if str(operator) != "BDC":
                continue
            tag, properties = operands
            if tag == "/Artifact":
                pagination += properties.get("/Type") == "/Pagination"
            else:  # marked content with an MCID whose element is in the tree
                assert parents[number][int(properties.MCID)].objgen in in_tree, (number, properties)
    assert pagination >= 2 * len(pdf.pages)  # each page's report id and page number


def test_header_cells_have_a_scope_and_data_cells_name_their_row_header(pdf: pikepdf.Pdf) -> None:
    rows = [e for e in elements(pdf) if e.S == "/TR"]
    scopes = [str(c.A.Scope) for row in rows for c in elements_of(row.K) if c.S == "/TH"]
    assert scopes and set(scopes) == {"/Row", "/Column"}  # the facts tables' labels, the grids' heads
    for row in rows:
        cells = elements_of(row.K)
        heads = [str(c.ID) for c in cells if c.S == "/TH" and c.A.Scope == "/Row"]
        for cell in (c for c in cells if c.S == "/TD"):
            assert set(heads) <= {str(h) for h in cell.A.get("/Headers", [])}


def test_every_figure_has_alternative_text_saying_what_it_shows(sealed: Path, pdf: pikepdf.Pdf) -> None:
    figures = [e for e in elements(pdf) if e.S == "/Figure"]
    alts = [str(e.get("/Alt", "")).strip() for e in figures]
    assert len(figures) >= 10 and all(alts), alts  # the pictures and the chart
    record = EvidenceRecord.model_validate_json((sealed / "evidence.json").read_text(encoding="utf-8"))
    first_key = record.explanations.frames[record.explanations.key_frames[0]]
    assert any(a.startswith(f"Frame {first_key.frame_index}, Grad-CAM heatmap: ") for a in alts), alts
    assert any(a.startswith("Bar chart of how much each of") for a in alts)  # the SVG chart's <title>
    images = lxml_html.fromstring((sealed / "report.html").read_bytes()).iter("img")
    assert all((img.get("alt") or "").strip() for img in images)


def test_every_form_field_has_a_tooltip_and_a_form_element(pdf: pikepdf.Pdf) -> None:
    found = widgets(pdf)
    assert len(found) == 20  # two slots: outcome line, eight fields, signature
    parents = dict(zip(*[iter(pdf.Root.StructTreeRoot.ParentTree.Nums)] * 2, strict=True))
    for widget in found:
        assert re.fullmatch(r"Review [12]: \S.*", str(widget.TU)), widget.TU
        form = parents[int(widget.StructParent)]
        assert form.S == "/Form"
        assert any(k.get("/Type") == "/OBJR" and k.Obj.objgen == widget.objgen for k in elements_of(form.K))


def test_tooltips_speak_the_active_language() -> None:
    assert tooltip(1, "decision") == "Review 1: decision (confirm, overturn or escalate)"
    for code in i18n.available():
        with i18n.speaking(code):
            assert tooltip(2, "reasons") == i18n._("Review %(slot)d: %(field)s") % {
                "slot": 2, "field": i18n._("reasons for the decision"),
            }


@pytest.mark.parametrize("language", i18n.available())
def test_lang_is_the_report_language(tmp_path: Path, identities: Identities, language: str) -> None:
    folder = tagged_report(tmp_path / "report", identities, language)
    with pikepdf.open(folder / "report.pdf") as document:
        assert str(document.Root.Lang) == language


def test_seal_and_review_verify_on_the_tagged_pdf(sealed: Path, tmp_path: Path, identities: Identities, trust: Path) -> None:
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes((sealed / "report.pdf").read_bytes())
    sig = subprocess.run(["pdfsig", str(pdf_path)], capture_output=True, text=True, check=False).stdout
    assert "Signature Validation: Signature is Valid." in sig
    sign_review(pdf_path, identities.reviewer, REVIEW)
    verdict = verify_paths([pdf_path], trust)[0]
    assert verdict.status == "valid", verdict.reasons
    assert len(verdict.reviews) == 1
    with pikepdf.open(pdf_path) as document:  # the review's revision keeps the tags and the claims
        assert document.Root.MarkInfo.Marked is True and document.open_metadata().get("pdfuaid:part") == "1"
        assert all(w.get("/StructParent") is not None for w in widgets(document))


def test_a_german_report_speaks_german_in_its_form_and_its_reviewed_page_1_line(
    tmp_path: Path, identities: Identities, trust: Path
) -> None:
    pdf_path = tagged_report(tmp_path / "report", identities, "de") / "report.pdf"
    sign_review(pdf_path, identities.reviewer, REVIEW)
    verdict = verify_paths([pdf_path], trust)[0]
    assert verdict.status == "valid", verdict.reasons  # verify reads the line back in German
    with pikepdf.open(pdf_path) as document, i18n.speaking("de"):
        fields = {f"{w.Parent.T}.{w.T}": w for w in widgets(document)}
        assert str(fields["review2.decision"].TU) == tooltip(2, "decision")
        line = str(fields["review1.outcome"].V)
    assert re.search(r"Åsa Łukasiewicz \(Station supervisor\), [1-9][0-9]?\. \w+ 20[0-9]{2} [0-2][0-9]:[0-5][0-9] UTC", line), line


def test_an_english_page_1_line_verifies_in_a_german_report_too(tmp_path: Path, identities: Identities, trust: Path) -> None:
    """Before issue 25 every line was English whatever the report's /Lang: those reviews still verify."""
    pdf_path = tagged_report(tmp_path / "report", identities, "de") / "report.pdf"
    english = outcome_value(1, {"review1.reviewer": REVIEW.reviewer, "review1.role": REVIEW.role,
                                "review1.decision": "confirm", "review1.reasons": REVIEW.reasons, "review1.minutes": "4"})
    writer = IncrementalPdfFileWriter(io.BytesIO(pypdf_fill(pdf_path, tmp_path / "filled.pdf", english).read_bytes()))
    with signing_errors(pdf_path, None):
        pdf_path.write_bytes(sign_revision(writer, identities.reviewer, "review1.signature", reason="review", certify=False))
    assert english["review1.outcome"].startswith("Confirmed by Åsa Łukasiewicz (Station supervisor), ")
    verdict = verify_paths([pdf_path], trust)[0]
    assert verdict.status == "valid", verdict.reasons


def test_two_renders_give_the_same_pdf(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path / "a", profile=full_profile(), trust=True)
    write_report(record, tmp_path / "a")
    first = (tmp_path / "a" / "report.pdf").read_bytes()
    write_report(record, tmp_path / "a")
    assert (tmp_path / "a" / "report.pdf").read_bytes() == first


def _claim_pdf_ua(_: object, pdf: pydyf.PDF) -> None:
    tagging.margins_as_artifacts(pdf)  # nothing to do without a structure tree
    tagging.declare_pdf_ua(pdf)


def test_a_pdf_claiming_pdf_ua_without_tags_is_refused(tmp_path: Path, identities: Identities, trust: Path) -> None:
    folder = tmp_path / "liar"
    record = make_report_folder(folder, seal=SealInfo(**seal_fields(identities.seal)))
    json_text = record_json(record)
    (folder / "evidence.json").write_text(json_text, encoding="utf-8")
    page = '<!doctype html><html lang="en"><head><title>Evidence report</title></head><body><p>Flagged.</p></body></html>'
    (folder / "report.html").write_text(page, encoding="utf-8")
    attachment = weasyprint.Attachment(string=json_text, name="evidence.json", relationship="Source")
    weasyprint.HTML(string=page).write_pdf(  # untagged PDF/A-3b, claiming PDF/UA-1 too
        folder / "report.pdf", pdf_variant="pdf/a-3b", attachments=[attachment], finisher=_claim_pdf_ua,
    )
    sign_report_folder(folder, identities.seal)
    verdict = verify_paths([folder / "report.pdf"], trust)[0]
    assert verdict.status == "invalid"
    assert any("claims PDF/UA-1" in r and "structure tree" in r for r in verdict.reasons), verdict.reasons


def test_alt_text_names_the_place_and_the_person(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path / "r", profile=full_profile())
    ex = record.explanations
    frame = ex.frames[0]
    assert ex.geometry is not None
    width, height = ex.geometry.source_width, ex.geometry.source_height
    peak = MapSummary(mass=1.0, mass_share=0.4, peak_value=1.0, peak_relative=1.0, peak_row=0.5, peak_col=0.5,
                      region="centre", area_above_half=0.05, localised=True)
    frame = frame.model_copy(update={"maps": {**frame.maps, "gradcam": peak}})
    person = PersonRecord(person_id=2, share=0.7, boxes=[PersonBox(position=frame.position, share=0.7,
                                                                   box=[width // 4, height // 4, 3 * width // 4, height])])
    grounded = record.model_copy(update={"explanations": ex.model_copy(update={"persons": PersonGroundingRecord(
        detector="HOG", positions=[frame.position], upscale=1.0, persons=[person])})})
    assert alt_text.frame_map(grounded, frame, "gradcam") == (
        f"Frame {frame.frame_index}, Grad-CAM heatmap: strongest activation in the centre, on person 2.")
    assert alt_text.frame_map(record, frame, "gradcam").endswith("strongest activation in the centre.")
    flat = frame.model_copy(update={"maps": {"gradcam": peak.model_copy(update={"localised": False, "region": "none"})}})
    assert alt_text.frame_map(record, flat, "gradcam").endswith("heatmap: no region stands out.")


def test_alt_text_of_the_trust_pictures_says_what_each_shows(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path / "r", profile=full_profile(), trust=True)
    ex = record.explanations
    assert ex.motion is not None and ex.persons is not None and ex.counterfactuals is not None
    region, frames = ex.counterfactuals.found
    listed = [ImageRef(path=path, kind=kind, frame=frame, sha256="0" * 64) for path, kind, frame in (
        ("images/motion_3.png", "motion", 3), ("images/persons_05.png", "persons", 5), ("images/edit_2.png", "counterfactual", 4))]
    pictured = record.model_copy(update={"explanations": ex.model_copy(update={
        "images": [*ex.images, *listed],  # as the pipeline writes them: the trust pictures are images too
        "motion": ex.motion.model_copy(update={"images": [PositionImage(position=3, path="images/motion_3.png")]}),
        "persons": ex.persons.model_copy(update={"image": PositionImage(position=5, path="images/persons_05.png")}),
        "counterfactuals": ex.counterfactuals.model_copy(update={"found": [
            region.model_copy(update={"image": "images/edit_1.png"}), frames.model_copy(update={"image": "images/edit_2.png"}),
        ]}),
    })})
    number = {t: ex.frames[t].frame_index for t in range(len(ex.frames))}
    assert alt_text.picture(pictured, {"path": "images/motion_3.png"}).startswith(f"Frame {number[3]}: the part of its Grad-CAM map")
    assert alt_text.picture(pictured, {"path": "images/motion_3.png"}).endswith("; 40% of it is due to movement.")
    assert alt_text.picture(pictured, {"path": "images/persons_05.png"}) == (
        f"Frame {number[5]} with 1 person detected, in a numbered box; person 1 holds 72% of the frame's Grad-CAM activation.")
    assert alt_text.picture(pictured, {"path": "images/edit_1.png"}).startswith(
        f"Frame {number[5]} as recorded (left) and with the region of strongest activation blurred (right)")
    assert alt_text.picture(pictured, {"path": "images/edit_2.png"}) == (
        f"Frame {number[4]} as recorded (left) and replaced by frame {number[3]} (right); with the edit, the system's label "
        "is “normal” (64.0%).")
    assert alt_text.picture(pictured, {"path": "images/unknown.png"}) == "A picture from the report's evidence files."


def test_structure_dump_shows_the_first_pages(sealed: Path) -> None:
    lines = structure_lines(sealed / "report.pdf")
    assert any(line.strip().startswith("H1") for line in lines)
    assert any("[field review1.outcome: Review 1: outcome shown on page 1" in line for line in lines)


if __name__ == "__main__":
    print("\n".join(structure_lines(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2)))
