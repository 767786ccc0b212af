"""The notice to the person concerned (`auditor notice`, issue 25 item 5): what it says in each
language, how plain it reads, that it is sealed and bound to its report, and its user errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
import weasyprint
from fixtures.cli import run_cli
from fixtures.identities import HTML, PASSPHRASE, Identities, templated_report
from fixtures.report_records import full_profile, make_report_folder

from auditor.desk.record import review_report
from auditor.evidence import SealInfo, record_json, write_record
from auditor.i18n import _, language, speaking
from auditor.notice.document import render_notice_html, write_notice
from auditor.notice.facts import NoticeFacts, read_facts
from auditor.notice.readability import prose_of_html, readability, syllable_count
from auditor.profile import DeploymentProfile
from auditor.review.model import ReviewInput
from auditor.signing.seal import seal_fields, sign_detached, sign_pdf, sign_report_folder
from auditor.verify import TrustAnchors, exit_code, verify_paths
from auditor.verify.notice import NOTICE_HTML, NOTICE_JSON, NOTICE_PDF, NoticeBinding

LANGUAGES = ("en", "de", "fr")
READABLE = 60.0  # the "standard / plain language" band starts at 60 on all three scales (see below)
LEAD = "This notice is for you. It says what a computer system noticed in a video, what happens next, and what you can do."


def env() -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


@pytest.fixture(scope="module")
def report(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sealed report folder written with the example profile (every contact given); its PDF is
    the small one of the signing tests (the notice reads the record, never the report's pages)."""
    folder = tmp_path_factory.mktemp("notice") / "report"
    record = make_report_folder(folder, profile=full_profile(), seal=SealInfo(**seal_fields(identities.seal)))
    write_record(folder, record)
    (folder / "report.html").write_text(HTML.format(marker="N"), encoding="utf-8")
    attachment = weasyprint.Attachment(string=record_json(record), name="evidence.json", relationship="Source")
    weasyprint.HTML(string=HTML.format(marker="N")).write_pdf(
        folder / "report.pdf", pdf_variant="pdf/a-3b", attachments=[attachment])
    sign_report_folder(folder, identities.seal)
    return folder


@pytest.fixture(scope="module")
def notices(report: Path, identities: Identities, trust: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The notice folder of each language, written by the command line."""
    base = tmp_path_factory.mktemp("notices")
    made = {}
    for code in LANGUAGES:
        run = run_cli("notice", str(report), "--language", code, "--out", str(base / code), "--keys",
                      str(identities.seal_dir), "--trust", str(trust), env=env())
        assert run.returncode == 0, run.stderr
        made[code] = base / code
    return made


def anchors(identities: Identities) -> TrustAnchors:
    return TrustAnchors((identities.seal.root,), "test root")


def structure_tags(node: object, depth: int = 0) -> set[str]:
    """The structure types (/S) in a tagged PDF's structure tree below `node`."""
    if depth > 30:
        return set()
    if isinstance(node, pikepdf.Array):
        return set().union(*(structure_tags(child, depth + 1) for child in node))
    if not isinstance(node, pikepdf.Dictionary) or "/K" not in node:
        return set()
    own = {str(node.S)} if "/S" in node else set()
    return own | structure_tags(node.K, depth + 1)


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_notice_is_one_or_two_tagged_pages_in_its_language_bound_to_its_report(
    code: str, notices: dict[str, Path], report: Path
) -> None:
    pdf = notices[code] / NOTICE_PDF
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) in (1, 2)
    assert re.search(r"^Tagged:\s+yes", info, re.M)
    with pikepdf.open(pdf) as document:
        assert str(document.Root.Lang) == code
        assert {"/H1", "/H2", "/H3", "/P"} <= structure_tags(document.Root.StructTreeRoot)  # a screen reader's headings
        with document.open_metadata() as xmp:
            assert (xmp.get("pdfaid:part"), xmp.get("pdfaid:conformance"), xmp.get("pdfuaid:part")) == ("3", "A", "1")
        embedded = {name: spec.get_file().read_bytes() for name, spec in document.attachments.items()}
        assert not any(document.pages[i].images for i in range(len(document.pages)))  # no heatmap, no picture at all
    binding = NoticeBinding.model_validate_json(embedded[NOTICE_JSON])
    record = json.loads((report / "evidence.json").read_text())
    assert binding.report_id == record["report"]["report_id"] and binding.language == code
    assert binding.record_sha256 == subprocess.run(
        ["sha256sum", str(report / "evidence.json")], capture_output=True, text=True, check=True).stdout.split()[0]
    text = " ".join(pdf_text(pdf).split())
    assert binding.report_id in text and binding.record_sha256 in text  # visible, not only embedded
    html = (notices[code] / NOTICE_HTML).read_text()
    assert f'<html lang="{code}">' in html and "<img" not in html


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_notice_names_every_right_and_whom_to_contact(code: str, notices: dict[str, Path]) -> None:
    html = (notices[code] / NOTICE_HTML).read_text()
    with speaking(code):
        headings = [_("See your data (Article 15 GDPR)"), _("Say no to this use of your data (Article 21 GDPR)"),
                    _("Have a person decide, and give your view (Article 22 GDPR)"), _("Complain (Article 77 GDPR)")]
    for heading in headings:
        assert f"<h3>{heading}</h3>" in html.replace("&#39;", "'")
    for contact in ("dpo@transit.example", "rights@transit.example", "https://transit.example/contest",
                    "Within 30 days of being informed", "Example Data Protection Authority", "complaints@dpa.example",
                    "Example Transit Authority"):
        assert contact in html


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_notice_reads_as_plain_language_in_each_language(code: str, notices: dict[str, Path]) -> None:
    """Flesch reading ease (en), Kandel-Moles (fr) and Amstad (de) put "standard" text at 60-70 and
    "fairly easy" at 70-80 (Flesch 1948; Amstad's and Kandel-Moles's adaptations keep the bands); GDPR
    Art. 12 asks for clear and plain language, so the notice must reach the standard band, 60, in each
    language. The text is the notice's paragraphs, names, addresses, contacts and identifiers left out."""
    prose = prose_of_html((notices[code] / NOTICE_HTML).read_text())
    if code != "en":  # the text measured must be the language's own, not the English msgids
        assert language(code).gettext(LEAD) != LEAD and LEAD not in prose
    score = readability(prose, code)
    print(f"{code}: {score}")
    assert score.sentences >= 25 and score.words >= 250  # the whole notice, not a fragment
    assert score.score >= READABLE, score


def test_syllables_are_counted_right_on_known_words() -> None:
    known = {
        "en": {"the": 1, "you": 1, "camera": 3, "decision": 3, "automated": 4, "authority": 4, "people": 2, "create": 2},
        "de": {"die": 1, "Kamera": 3, "Entscheidung": 3, "Aufsichtsbehörde": 5, "Verantwortliche": 5},
        "fr": {"une": 1, "caméra": 3, "décision": 3, "personne": 2, "automatisée": 5, "responsable": 3},
    }
    for code, words in known.items():
        assert {word: syllable_count(word, code) for word in words} == words


def test_the_formulas_give_the_published_scores() -> None:
    text = "The camera saw you. It is a test."  # 2 sentences, 8 words, 10 syllables (ca-me-ra)
    assert readability(text, "en").score == round(206.835 - 1.015 * 8 / 2 - 84.6 * 10 / 8, 1)
    assert readability("Die Kamera sah Sie. Es ist ein Test.", "de").score == round(180 - 8 / 2 - 58.5 * 10 / 8, 1)
    assert readability("La caméra vous a vu. Un test.", "fr").score == round(207 - 1.015 * 7 / 2 - 73.6 * 9 / 7, 1)
    with pytest.raises(ValueError, match="no readability formula"):
        readability("Hola.", "es")


def test_a_notice_verifies_with_its_report_and_fails_when_altered(
    notices: dict[str, Path], report: Path, trust: Path, tmp_path: Path
) -> None:
    folder = notices["en"]
    run = run_cli("verify", str(folder), str(report), "--trust", str(trust))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "its record's SHA-256 matches" in run.stdout
    alone = run_cli("verify", str(folder / NOTICE_PDF), "--trust", str(trust))
    assert alone.returncode == 0 and "that report was not verified with it" in alone.stdout
    altered = shutil.copytree(folder, tmp_path / "altered")
    data = (altered / NOTICE_PDF).read_bytes()
    (altered / NOTICE_PDF).write_bytes(data.replace(b"/Lang (en)", b"/Lang (fr)", 1))
    html = (altered / NOTICE_HTML).read_text()
    (altered / NOTICE_HTML).write_text(html.replace("You can ask for a copy", "You cannot ask for a copy"))
    run = run_cli("verify", str(altered), str(report), "--trust", str(trust))
    assert run.returncode == 1
    assert re.search(r"INVALID\s+\S*altered/notice.pdf", run.stdout) and re.search(r"INVALID\s+\S*altered/notice.html", run.stdout)


def test_a_notice_sealed_for_another_record_is_invalid_beside_the_report(
    report: Path, identities: Identities, tmp_path: Path
) -> None:
    facts = read_facts(report, anchors(identities))
    wrong = NoticeFacts(facts.record, "0" * 64, facts.review)
    write_notice(wrong, "en", tmp_path / "wrong", identities.seal)
    verdicts = verify_paths([tmp_path / "wrong", report], identities.seal_dir / "root.cert.pem")
    pdf = next(v for v in verdicts if v.path.endswith(NOTICE_PDF))
    assert pdf.status == "invalid" and any("not about this report" in r for r in pdf.reasons)
    assert exit_code(verdicts) == 1


def test_an_html_that_names_another_record_is_invalid(report: Path, identities: Identities, tmp_path: Path) -> None:
    facts = read_facts(report, anchors(identities))
    write_notice(facts, "en", tmp_path / "n", identities.seal)
    html = tmp_path / "n" / NOTICE_HTML
    html.write_text(html.read_text().replace(facts.record_sha256, "1" * 64))
    sign_detached(html, identities.seal)  # signed again by the seal: intact, but about another record
    verdicts = verify_paths([tmp_path / "n"], identities.seal_dir / "root.cert.pem")
    page = next(v for v in verdicts if v.path.endswith(NOTICE_HTML))
    assert page.status == "invalid" and "auditor-record-sha256" in page.reasons[0]


def test_a_review_outcome_shows_once_the_report_is_reviewed(
    identities: Identities, tmp_path: Path
) -> None:
    folder = templated_report(tmp_path / "report", identities.seal)
    before = render_notice_html(read_facts(folder, anchors(identities)), "en", draft=True, for_pdf=False)
    assert "A person will check the system&#39;s guess." in before and "The check is due by" in before
    review = ReviewInput(reviewer="Åsa Łukasiewicz", role="Station supervisor", decision="overturn",
                         reasons="The people in the clip are hugging, not fighting.", minutes=4,
                         automation_bias_acknowledged=True)
    review_report(folder, identities.reviewer, review)
    after = render_notice_html(read_facts(folder, anchors(identities)), "en", draft=True, for_pdf=False)
    assert "A person checked the system&#39;s guess on" in after
    assert "They did not agree with the system. The alert was set aside." in after
    assert "A person will check" not in after


def test_missing_contacts_are_said_plainly_never_left_blank(report: Path, identities: Identities) -> None:
    facts = read_facts(report, anchors(identities))
    bare = facts.record.model_copy(update={"deployment": DeploymentProfile()})
    html = render_notice_html(NoticeFacts(bare, facts.record_sha256, facts.review), "en", draft=True, for_pdf=False)
    assert html.count("This notice has no contact for this. Ask the organisation that runs the camera.") == 3
    assert "No time limit was given. Ask the organisation that runs the camera." in html
    assert "Ask the organisation that runs the camera which authority is in charge." in html
    assert "(the controller) is not named here" in html
    assert not re.search(r"<p>[^<]*(:|is)\s*</p>|<span class=\"value\"></span>", html)


def test_user_errors_are_one_line_and_write_nothing(report: Path, trust: Path, identities: Identities, tmp_path: Path) -> None:
    inside = run_cli("notice", str(report), "--out", str(report / "notice"), "--no-sign", "--trust", str(trust))
    assert inside.returncode != 0 and inside.stderr.startswith("auditor: notice: ") and inside.stderr.count("\n") == 1
    assert "inside the report folder" in inside.stderr and not (report / "notice").exists()
    broken = shutil.copytree(report, tmp_path / "broken")
    (broken / "report.html").write_text((broken / "report.html").read_text() + " ")
    run = run_cli("notice", str(broken), "--out", str(tmp_path / "n"), "--keys", str(identities.seal_dir),
                  "--trust", str(trust), env=env())
    assert run.returncode != 0 and run.stderr.startswith("auditor: notice: the report in ") and run.stderr.count("\n") == 1
    assert "does not verify" in run.stderr and "Traceback" not in run.stderr and not (tmp_path / "n").exists()
    unknown = run_cli("notice", str(report), "--language", "xx", "--no-sign", "--trust", str(trust))
    assert unknown.returncode != 0 and "choose one of" in unknown.stderr and unknown.stderr.count("\n") == 1


def test_a_draft_is_written_only_with_no_sign_and_says_so(report: Path, trust: Path, tmp_path: Path) -> None:
    run = run_cli("notice", str(report), "--out", str(tmp_path / "draft"), "--no-sign", "--trust", str(trust))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "draft").iterdir()) == [NOTICE_HTML, NOTICE_PDF]
    assert "Draft: this notice is not sealed." in (tmp_path / "draft" / NOTICE_HTML).read_text()
    verdicts = verify_paths([tmp_path / "draft"], trust)
    assert exit_code(verdicts) == 1 and "no signature" in verdicts[0].reasons[0]


@pytest.mark.parametrize(("binding", "reason"), [
    (None, "no embedded notice.json: this is not an auditor notice"),
    (b"{" * 5000, "larger than 4096 bytes"),
    (b'{"report_id": "AUD-1", "record_sha256": "00", "language": "en"}', "is not a notice binding"),
    (b'{"report_id": "AUD-1", "record_sha256": "' + b"0" * 64 + b'", "language": "en", "extra": 1}', "is not a notice binding"),
])
def test_a_sealed_pdf_whose_binding_is_missing_or_hostile_is_no_valid_notice(
    binding: bytes | None, reason: str, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    attachments = [] if binding is None else [weasyprint.Attachment(string=binding, name=NOTICE_JSON, relationship="Source")]
    pdf = tmp_path / NOTICE_PDF
    weasyprint.HTML(string=HTML.format(marker="X")).write_pdf(pdf, pdf_variant="pdf/a-3b", attachments=attachments)
    sign_pdf(pdf, pdf, identities.seal)
    [verdict] = verify_paths([pdf], trust)
    assert verdict.status == "invalid" and any(reason in r for r in verdict.reasons), verdict.reasons
