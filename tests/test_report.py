"""Report rendering: golden HTML, checklist sections, escaping, safe fetching, PDF/A-3a and PDF/UA-1.

The golden files in tests/golden/ are the rendered HTML of the fixture records. After a
deliberate template change, regenerate them and review the diff:

    UPDATE_GOLDEN=1 pytest tests/test_report.py
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fixtures.report_records import full_profile, make_explanation, make_report_folder
from PIL import Image

from auditor.cli.render import render
from auditor.errors import ArchiveError, ReportError
from auditor.evidence import SealInfo, load_record, read_artifacts, record_json, write_record
from auditor.files import sha256_file
from auditor.fonts import REPORT_FONTS
from auditor.profile import DeploymentProfile
from auditor.report import record_words
from auditor.report.document import write_report
from auditor.report.html import render_html
from auditor.report.pdf import ArtifactFetcher, render_pdf
from auditor.verify import verify_paths

GOLDEN = Path(__file__).parent / "golden"
SECTIONS = ("summary", "key-frames", "all-frames", "frame-importance", "what-the-model-looked-at",
            "limitations", "review", "data-protection", "technical-annex", "completeness")
DEMO_SEAL = SealInfo(signed=True, signer="auditor demo seal", throwaway_identity=True)
HOSTILE = '<script>alert(1)</script>'
HOSTILE_IMG = '<img src="file:///etc/passwd">'
HOSTILE_LINK = '<link rel="stylesheet" href="http://example.com/x.css">'


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("full")
    record = make_report_folder(folder, profile=full_profile(), seal=DEMO_SEAL, trust=True)
    write_record(folder, record)
    return record, folder


@pytest.fixture(scope="module")
def full_pdf(full, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    record, folder = full
    out = tmp_path_factory.mktemp("full-pdf")
    write_report(record, folder, out_dir=out)
    return out / "report.pdf"


def _check_golden(name: str, html: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8"), f"{name} differs: see this file's docstring to regenerate"


def test_golden_full_profile_demo_seal(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    _check_golden("report-full.html", render_html(record, folder))


def test_golden_empty_profile_draft(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path, explanation=make_explanation(occlusion_and_gradient=False))
    _check_golden("report-empty-draft.html", render_html(record, tmp_path, draft=True))


def test_html_is_deterministic(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    assert render_html(record, folder) == render_html(load_record(folder / "evidence.json"), folder)


def test_sections_appear_in_order(full) -> None:  # type: ignore[no-untyped-def]
    html = render_html(*full)
    positions = [html.index(f'<section id="{name}"') for name in SECTIONS]
    assert positions == sorted(positions)


def test_every_checklist_item_is_in_the_completeness_table(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    table = render_html(record, folder).split('<section id="completeness">')[1]
    for item in record.completeness.items:
        title, status = record_words.checklist_title(item), record_words.status_text(item.status)
        assert title and f"<td>{item.number}</td><td>{title}</td><td>{status}</td>" in table


def test_data_protection_section_carries_its_checklist_items(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    section = render_html(record, folder).split('<section id="data-protection">')[1].split("</section>")[0]
    for number in (2, 3, 14, 18, 20, 21, 22, 23, 24):
        assert f'<span class="item">[{number}]</span>' in section
    profile = record.deployment
    for value in (profile.controller, profile.dpo_contact, profile.dpia_reference, profile.redress.time_limit,
                  profile.retention.clip, profile.access_control, "Station security team, Data protection officer"):
        assert value.replace("'", "&#39;") in section


def test_summary_is_plain_language_and_says_a_person_must_review(full) -> None:  # type: ignore[no-untyped-def]
    summary = render_html(*full).split('<section id="summary"')[1].split("</section>")[0]
    assert "This is not a final decision." in summary
    assert "awaiting human review" in summary
    assert "frames 120\u2013125 (12.00 s to 12.60 s into the recording)" in summary
    assert "score of 94%" in summary and "alert is raised from 50%" in summary
    assert "Passenger Rights Office" in summary
    assert "Sealed with a throwaway demo identity: not valid for real decisions." in summary
    assert "logit" not in summary and "Grad-CAM" not in summary


def test_words_describe_where_the_model_looked(full) -> None:  # type: ignore[no-untyped-def]
    section = render_html(*full).split('<section id="what-the-model-looked-at">')[1].split("</section>")[0]
    assert "In frame 120 (12.00 s) the strongest activation was in the upper-left part of the image" in section
    assert "frames 122\u2013125 (12.20 s to 12.60 s) the strongest activation was in the centre" in section
    assert "(the key frames) are 122, 123, 124, 125" in section


def test_empty_profile_prints_not_provided_for_each_missing_field(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    html = render_html(record, tmp_path)
    section = html.split('<section id="data-protection">')[1].split("</section>")[0]
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td></tr>", section, flags=re.DOTALL)
    assert len(rows) == 21
    generated = [value for label, value in rows if label.startswith("Faces in the images")]
    assert generated == ["Faces were not looked for in this report&#39;s images."]
    assert all("not provided" in value for label, value in rows if not label.startswith("Faces in the images"))
    table = html.split('<section id="completeness">')[1]
    for item in record.completeness.items:
        for name in item.missing:
            assert name in table


def test_html_shows_the_folder_pictures_by_their_listed_paths(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    html = render_html(record, folder)
    sources = re.findall(r'src="([^"]*)"', html)
    ex = record.explanations
    shown = [i for i in ex.images if i.kind in ("strip", "grid", "legend") or i.frame in ex.key_frames]
    assert len(shown) == 3 + 2 * len(ex.key_frames)
    assert sorted(set(sources)) == sorted(i.path for i in shown)  # no copy inlined, no other file
    assert "data:" not in html and "base64" not in html
    listed = {a.path: a.sha256 for a in record.artifacts}
    assert all(listed[src] == sha256_file(folder / src) for src in sources)
    assert "<link" not in html and "<script" not in html and "http://" not in html.split("<style>")[0]
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert policy is not None and html.index(policy.group(0)) < html.index("<style>")
    assert policy.group(1) == "default-src 'none'; img-src 'self' file:; media-src 'self' file:; style-src 'unsafe-inline'"


def test_a_sealed_html_shows_only_pictures_its_manifest_binds_and_a_swap_is_caught(  # type: ignore[no-untyped-def]
    demo_output, tmp_path: Path
) -> None:
    html = (demo_output.report / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]*)"', html)
    manifest = json.loads((demo_output.report / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert sources and "data:" not in html
    assert all(listed[src] == sha256_file(demo_output.report / src) for src in sources)
    copy = tmp_path / "report"
    shutil.copytree(demo_output.report, copy)
    first, second = sources[0], next(src for src in sources if src != sources[0] and src.endswith(".jpg"))
    (copy / first).write_bytes((demo_output.report / second).read_bytes())  # another picture of the same report
    verdicts = verify_paths([copy], demo_output.folder / "demo-keys" / "root.cert.pem")
    manifest_verdict = next(v for v in verdicts if v.path.endswith("manifest.json"))
    assert manifest_verdict.status == "invalid" and any(first in reason for reason in manifest_verdict.reasons)
    assert next(v for v in verdicts if v.path.endswith("report.html")).status == "valid"  # the HTML alone cannot tell


def test_a_listed_image_that_is_no_picture_is_refused(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    fake = next(i for i in record.explanations.images if i.kind == "legend")
    (tmp_path / fake.path).write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><image href='file:///etc/passwd'/></svg>")
    forged = record.model_copy(update={
        "artifacts": [a.model_copy(update={"sha256": sha256_file(tmp_path / a.path)}) for a in record.artifacts],
    })
    with pytest.raises(ReportError, match=f"{fake.path} is not a PNG or JPEG picture"):
        render_html(forged, tmp_path)
    with pytest.raises(ReportError, match=f"{fake.path} is not a PNG or JPEG picture"):
        render_pdf(forged, tmp_path)


def test_draft_marks_html_top_and_every_pdf_page(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    html = render_html(record, tmp_path, draft=True)
    assert html.index("UNSIGNED DRAFT") < html.index('<section id="summary"')
    pdf = tmp_path / "draft.pdf"
    pdf.write_bytes(render_pdf(record, tmp_path, draft=True))
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    texts = pages.stdout.split("\f")[:-1]
    assert len(texts) >= 5
    assert all("UNSIGNED DRAFT" in text for text in texts)
    assert "UNSIGNED DRAFT" not in render_html(record, tmp_path)


def _hostile(tmp_path: Path):  # type: ignore[no-untyped-def]
    explanation = make_explanation(classes=("normal", HOSTILE, HOSTILE_IMG))
    profile = DeploymentProfile(controller=HOSTILE_IMG, purpose=HOSTILE, dpo_contact=HOSTILE_LINK,
                                redress={"contact": "http://example.com/contest"})
    return make_report_folder(tmp_path, profile=profile, explanation=explanation)


def test_hostile_values_are_escaped_in_html(tmp_path: Path) -> None:
    html = render_html(_hostile(tmp_path), tmp_path)
    assert "<script" not in html and "file:///etc/passwd\">" not in html and "<link" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html


def test_hostile_values_fetch_nothing_in_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _hostile(tmp_path)
    requested: list[str] = []
    original = ArtifactFetcher.fetch

    def spy(self: ArtifactFetcher, url: str, headers: object = None):  # type: ignore[no-untyped-def]
        requested.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(ArtifactFetcher, "fetch", spy)
    pdf = tmp_path / "hostile.pdf"
    pdf.write_bytes(render_pdf(record, tmp_path))
    assert requested, "the images should have gone through the fetcher"
    listed = {(tmp_path / a.path).resolve().as_uri() for a in record.artifacts}
    shipped_fonts = {f"auditor-font:{name}" for name in REPORT_FONTS}
    assert set(requested) <= listed | shipped_fonts
    assert not any("passwd" in url or "example.com" in url for url in requested)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert HOSTILE in text


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://example.com/x.png", "https://example.com/x.png", "data:image/png;base64,AAAA",
     "ftp://example.com/x", "FOLDER/../outside.png", "FOLDER/evidence.json", "FOLDER/images/evil.png",
     "FOLDER/images/gradcam_00.png?x=1#../../etc/passwd"],
)
def test_fetcher_refuses_everything_but_listed_artifacts(full, tmp_path: Path, url: str) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    evil = folder / "images" / "evil.png"
    if not evil.is_symlink():
        evil.symlink_to("/etc/passwd")
    (folder.parent / "outside.png").write_bytes(b"x")
    fetcher = ArtifactFetcher(read_artifacts(record, folder))
    with pytest.raises(ReportError):
        fetcher.fetch(url.replace("FOLDER", folder.resolve().as_uri()))
    assert fetcher.refused


def test_fetcher_serves_listed_artifacts_and_checks_their_hash(full, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    fetcher = ArtifactFetcher(read_artifacts(record, folder))
    response = fetcher.fetch((folder / "images" / "legend.png").resolve().as_uri())
    assert response.content_type == "image/png"
    assert response.read() == (folder / "images" / "legend.png").read_bytes()  # served as it is
    # No local path: given one, WeasyPrint reads the file again when writing, unchecked.
    assert response.path is None and response.url == "images/legend.png"
    arrays = next(a.path for a in record.artifacts if a.path.endswith(".npz"))
    assert fetcher.fetch((folder / arrays).resolve().as_uri()).read() == (folder / arrays).read_bytes()
    copy = make_report_folder(tmp_path)
    (tmp_path / "images" / "legend.png").write_bytes(b"tampered")
    with pytest.raises(ReportError, match="SHA-256"):
        read_artifacts(copy, tmp_path)


def test_artifacts_are_read_once_and_served_from_memory(full, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    reads: list[str] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    write_report(record, folder, out_dir=tmp_path)
    listed = sorted(Path(a.path).name for a in record.artifacts)
    assert sorted(name for name in reads if name in listed) == listed  # each artifact exactly once


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_pdf_pictures_have_the_pixels_of_the_shown_pictures(full, full_pdf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    listing = subprocess.run(["pdfimages", "-all", str(full_pdf), str(tmp_path / "shown")],
                             capture_output=True, text=True, check=True)
    assert listing.stderr == ""
    pictures = sorted(tmp_path.glob("shown-*"))
    shown_in_html = set(re.findall(r'<img src="([^"]+)"', render_html(record, folder)))
    assert len(pictures) == len(shown_in_html)
    shown = {path: _pixels((folder / path).read_bytes()) for path in shown_in_html}
    for picture in pictures:
        pixels = _pixels(picture.read_bytes())
        assert any(np.array_equal(pixels, artifact) for artifact in shown.values()), f"{picture.name} is no shown picture"
    assert "the image files listed above, with the same pixels" in subprocess.run(
        ["pdftotext", str(full_pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_rendering_refuses_an_altered_folder(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    (tmp_path / "images" / "saliency_01.png").write_bytes(b"tampered")
    with pytest.raises(ReportError, match="saliency_01.png: SHA-256 differs"):
        render_html(record, tmp_path)


def test_custom_templates_override_and_foreign_urls_are_refused(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path / "report")
    brand = tmp_path / "brand" / "sections"
    brand.mkdir(parents=True)
    (brand / "limitations.html.j2").write_text(
        '<section id="limitations"><p>ACME branding</p><img src="http://example.com/logo.png"></section>\n')
    html = render_html(record, tmp_path / "report", templates_dir=tmp_path / "brand")
    assert "ACME branding" in html and '<section id="review"' in html
    with pytest.raises(ReportError, match="http://example.com/logo.png"):
        render_pdf(record, tmp_path / "report", templates_dir=tmp_path / "brand")


def test_pdf_is_pdf_a3a_and_ua1_at_1_7_with_fonts_embedded(full_pdf: Path) -> None:
    assert full_pdf.read_bytes().startswith(b"%PDF-1.7")
    meta = subprocess.run(["pdfinfo", "-meta", str(full_pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"pdfaid:part(>|=\")3", meta) and re.search(r"pdfaid:conformance(>|=\")A", meta)
    assert re.search(r"pdfuaid:part(>|=\")1", meta)
    info = subprocess.run(["pdfinfo", str(full_pdf)], capture_output=True, text=True, check=True).stdout
    assert "A4" in info and "Producer:        WeasyPrint" in info
    fonts = subprocess.run(["pdffonts", str(full_pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows)


def test_pdf_footer_has_report_id_and_page_numbers(full, full_pdf: Path) -> None:  # type: ignore[no-untyped-def]
    record, _ = full
    text = subprocess.run(["pdftotext", str(full_pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    for number, page in enumerate(pages, start=1):
        assert f"Report {record.report.report_id}" in page
        assert f"Page {number} of {len(pages)}" in page


def test_pdf_embeds_the_record_and_schema(full, full_pdf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, _ = full
    listing = subprocess.run(["pdfdetach", "-list", str(full_pdf)], capture_output=True, text=True, check=True).stdout
    assert "evidence.json" in listing and "evidence-record-v2.json" in listing
    out = tmp_path / "extracted.json"
    subprocess.run(["pdfdetach", "-savefile", "evidence.json", "-o", str(out), str(full_pdf)], check=True)
    assert out.read_text(encoding="utf-8") == record_json(record)
    assert load_record(out) == record


def test_render_command_writes_a_new_report_folder(full, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    out = tmp_path / "new"
    result = CliRunner().invoke(render, [str(folder / "evidence.json"), "--out", str(out), "--no-sign",
                                         "--unverified-source"])
    assert result.exit_code == 0, result.output
    assert "UNSIGNED DRAFT" in result.output and str(out / "report.pdf") in result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "UNSIGNED DRAFT" in html and "origin is not proven" in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-1.7")
    new = load_record(out / "evidence.json")
    assert new.rendered_from is not None and new.rendered_from.report_id == record.report.report_id
    assert not new.rendered_from.origin_verified and new.report.report_id != record.report.report_id
    assert all((out / a.path).read_bytes() == (folder / a.path).read_bytes() for a in record.artifacts)
    shown = re.findall(r'<img src="([^"]*)"', html)
    assert shown and all((out / src).is_file() for src in shown)  # the new HTML shows its own folder's copies


def test_render_command_refuses_an_unsigned_record_without_the_flag(full, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, folder = full
    result = CliRunner().invoke(render, [str(folder / "evidence.json"), "--out", str(tmp_path / "new"), "--no-sign"])
    assert isinstance(result.exception, ReportError) and "--unverified-source" in str(result.exception)
    assert not (tmp_path / "new").exists()


def test_render_command_reports_a_bad_record(tmp_path: Path) -> None:
    (tmp_path / "evidence.json").write_text('{"schema_version": "9.0"}', encoding="utf-8")
    result = CliRunner().invoke(render, [str(tmp_path / "evidence.json"), "--out", str(tmp_path / "new"),
                                         "--no-sign", "--unverified-source"])
    assert isinstance(result.exception, ReportError) and "9.0" in str(result.exception)


def test_all_frames_section_shows_the_strip_and_the_heatmap_grid(full) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    section = render_html(record, folder).split('<section id="all-frames">')[1].split("</section>")[0]
    grid = next(i for i in record.explanations.images if i.kind == "grid")
    assert section.count('<figure class="strip">') == 1 and section.count('<figure class="grid">') == 1
    assert f'<img src="{grid.path}"' in section
    positions = ", ".join(str(t) for t in sorted(record.explanations.key_frames))
    assert f"Key frames (positions {positions})" in section


def test_all_frames_section_says_when_the_grid_is_missing(full, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, folder = full
    without = record.model_copy(
        update={"explanations": record.explanations.model_copy(
            update={"images": [i for i in record.explanations.images if i.kind != "grid"]}
        )}
    )
    section = render_html(without, folder).split('<section id="all-frames">')[1].split("</section>")[0]
    assert '<figure class="grid">' not in section and "No Grad-CAM overview image" in section


def test_render_command_never_writes_into_a_folder_that_holds_files(full, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, folder = full
    (tmp_path / "report.pdf").write_bytes(b"signed pdf")
    result = CliRunner().invoke(render, [str(folder / "evidence.json"), "--out", str(tmp_path), "--no-sign",
                                         "--unverified-source"])
    assert isinstance(result.exception, ArchiveError) and "not empty" in str(result.exception)
    assert (tmp_path / "report.pdf").read_bytes() == b"signed pdf" and len(list(tmp_path.iterdir())) == 1
