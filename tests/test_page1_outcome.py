"""Page 1 shows the outcome (issue 24, item 7): each review slot writes its own page-1 line in its
review revision, the sealed lines and the words around them stay true after any review, verify
refuses a review whose line says other than its slot, or a revision that writes another slot's
line; long reasons keep a legible size; the batch index shows the review status."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, Identities
from fixtures.report_records import full_profile, make_report_folder
from fixtures.review_forms import outcome_value, pypdf_fill
from fixtures.sealed_batch import sealed_batch
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from auditor import i18n
from auditor.archive import IndexRow
from auditor.archive.index import index_html, shown_status
from auditor.evidence import SealInfo, write_record
from auditor.evidence.model import Review
from auditor.keys import issue_identity
from auditor.report.document import write_report
from auditor.report.html import render_html
from auditor.review.fill import sign_review
from auditor.review.form import MIN_MULTILINE_SIZE, review_fields
from auditor.review.model import MAX_TEXT, ReviewInput, outcome_text, outcome_time
from auditor.review.state import STATUSES, ReviewState
from auditor.signing.seal import seal_fields, sign_report_folder, sign_revision, signing_errors
from auditor.verify import verify_paths
from auditor.verify.batch_index import describe

REASON = "Two people exchange blows at the left edge; I watched the whole clip."
BOB = ("Bob Example", "Supervisor")
ALICE = ("Åsa Łukasiewicz", "Station supervisor")  # the `identities` reviewer


@pytest.fixture(scope="module")
def sealed(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Sealed report folders under the example profile, without and with a required second verifier."""
    base = tmp_path_factory.mktemp("page1")
    folders = {}
    for two in (False, True):
        folder = base / f"two-{two}"
        profile = full_profile().model_copy(update={"second_verifier_required": two})
        record = make_report_folder(folder, profile=profile, seal=SealInfo(**seal_fields(identities.seal)))
        write_record(folder, record)
        write_report(record, folder)
        sign_report_folder(folder, identities.seal)
        folders[two] = folder
    return folders


@pytest.fixture(scope="module")
def bob(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bob") / "bob"
    issue_identity(identities.seal_dir, ROOT_PASSPHRASE, folder, PASSPHRASE, common_name=BOB[0], role=BOB[1])
    return folder


def _review(folder: Path, reviewer: Path, decision: str) -> None:
    env = {**os.environ, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    run = run_cli("review", str(folder), "--as", str(reviewer), "--decision", decision, "--reason", REASON,
                  "--considered", "the clip", "--minutes", "4", "--bias-acknowledged", env=env)
    assert run.returncode == 0, run.stderr


def _page1(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def _line(decision: str, who: tuple[str, str], slot: int = 1) -> str:
    """The start of slot `slot`'s page-1 line, up to its time."""
    return outcome_text(slot, decision, *who, datetime.now(UTC)).split(", ")[0] + ","


ALICE_DIR = "reviewer"  # beside the seal's folder (fixtures.identities)
CASES = {
    "confirm": (False, [(ALICE_DIR, "confirm")], "Second review: needed only if the first reviewer escalates."),
    "overturn": (False, [(ALICE_DIR, "overturn")], "Second review: needed only if the first reviewer escalates."),
    "escalate, then a second person decides": (False, [(ALICE_DIR, "escalate"), ("bob", "overturn")], None),
    "review 1 of 2": (True, [(ALICE_DIR, "confirm")], "Second review: awaiting the second verifier; until both have "
                      "reviewed, this is not a final decision."),
    "two reviews that disagree": (True, [(ALICE_DIR, "confirm"), ("bob", "overturn")], None),
}


@pytest.mark.parametrize("case", CASES)
def test_page_1_shows_each_review_first_and_stays_true(
    case: str, sealed: dict[bool, Path], identities: Identities, bob: Path, trust: Path, tmp_path: Path
) -> None:
    two, reviews, second_line = CASES[case]
    folder = shutil.copytree(sealed[two], tmp_path / "report")
    before = _page1(folder / "report.pdf")
    assert before.index("Status: awaiting human review. This is not a final decision.") < before.index("Automated alert")
    for who, decision in reviews:
        _review(folder, bob if who == "bob" else identities.seal_dir.parent / who, decision)
    page = _page1(folder / "report.pdf")
    lines = [_line(decision, BOB if who == "bob" else ALICE, slot) for slot, (who, decision) in enumerate(reviews, 1)]
    assert "awaiting human review" not in page and "Status:" not in page
    assert page.index("HUMAN DECISION ON THIS ALERT") < page.index(lines[0]) < page.index("Automated alert")
    if len(lines) == 2:
        assert page.index(lines[0]) < page.index(lines[1]) < page.index("Automated alert")
    else:
        assert page.index(lines[0]) < page.index(second_line) < page.index("Automated alert")
    if reviews[0][1] == "escalate":
        assert "UTC: another person decides." in page
    assert ("Two people must review this report: the decision is final only when both reviews agree; if they "
            "disagree, another person decides." in page) == two
    run = run_cli("verify", str(folder), "--trust", str(trust))
    assert run.returncode == 0, run.stdout
    pdfsig = subprocess.run(["pdfsig", str(folder / "report.pdf")], capture_output=True, text=True).stdout
    assert pdfsig.count("Signature is Valid") == 1 + len(reviews)


def test_the_outcome_line_is_read_back_exactly() -> None:
    review = ReviewInput(reviewer="Jane Doe", role="compliance officer", decision="overturn", reasons="not a fight")
    when = datetime(2026, 12, 7, 9, 14, 59, tzinfo=UTC)
    text = outcome_text(1, review.decision, review.reviewer, review.role, when)
    assert text == "Overturned by Jane Doe (compliance officer), 7 Dec 2026 09:14 UTC."
    signed, before, after = when + timedelta(minutes=30), timedelta(hours=1), timedelta(minutes=5)
    assert outcome_time(1, review, text, signed, before, after) == when.replace(second=0)
    assert outcome_time(1, review, text, when + timedelta(hours=2), before, after) is None  # signed long after
    assert outcome_text(2, "confirm", "A", "B", when) == "Second review: confirmed by A (B), 7 Dec 2026 09:14 UTC."
    for other in (
        outcome_text(2, review.decision, review.reviewer, review.role, when),  # another slot's words
        text.replace("Overturned", "Confirmed"), text.replace("Jane", "John"), text.replace("7 Dec", "07 Dec"),
        text.replace("7 Dec", "31 Feb"), text.replace("09:14", "9:14"), text + " Not really.", "",
    ):
        assert outcome_time(1, review, other, signed, before, after) is None, other
    with i18n.speaking("de"):  # the line speaks the report's language, and is read back in it
        german = outcome_text(1, review.decision, review.reviewer, review.role, when)
        assert "7. Dezember 2026 09:14" in german and german != text
        assert outcome_time(1, review, german, signed, before, after) == when.replace(second=0)
        assert outcome_time(1, review, text, signed, before, after) is None
        typographic = german.replace(" UTC", "\u00a0UTC")  # a no-break space reads as the space a keyboard types
        assert outcome_time(1, review, typographic, signed, before, after) == when.replace(second=0)


def _fresh(sealed: dict[bool, Path], tmp_path: Path) -> Path:
    return shutil.copy(sealed[False] / "report.pdf", tmp_path / "report.pdf")


FILLED = {
    "review1.reviewer": ALICE[0], "review1.role": ALICE[1], "review1.decision": "overturn",
    "review1.reasons": "A hug at the platform edge, not a fight; camera 5 shows both leave calmly.", "review1.minutes": "6",
}


def _signed_after_pypdf(pdf: Path, identities: Identities, values: dict[str, str], tmp_path: Path) -> None:
    """Fill `values` as a PDF reader would, then sign slot 1 with the reviewer's key (one signed revision)."""
    filled = pypdf_fill(pdf, tmp_path / "filled.pdf", values)
    writer = IncrementalPdfFileWriter(io.BytesIO(filled.read_bytes()))
    with signing_errors(pdf, None):
        pdf.write_bytes(sign_revision(writer, identities.reviewer, "review1.signature", reason="review", certify=False))


@pytest.mark.parametrize(
    "forgery, reason",
    [
        ("page 1 left awaiting", "its page-1 line review1.outcome says 'Status: awaiting human review"),
        ("page 1 states another decision", "its page-1 line review1.outcome says 'Confirmed by"),
        ("page 1 backdated", "not the decision the slot records at the time it was signed"),
        ("slot 1 writes slot 2's line", "review2.outcome, outside its own slot's fields"),
    ],
)
def test_a_review_whose_page_1_line_lies_fails_verify(
    forgery: str, reason: str, sealed: dict[bool, Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    pdf = _fresh(sealed, tmp_path)
    if forgery == "page 1 left awaiting":
        _signed_after_pypdf(pdf, identities, FILLED, tmp_path)
    elif forgery == "page 1 states another decision":
        _signed_after_pypdf(pdf, identities, outcome_value(1, {**FILLED, "review1.decision": "confirm"})
                            | {"review1.decision": "overturn"}, tmp_path)
    elif forgery == "page 1 backdated":
        _signed_after_pypdf(pdf, identities, outcome_value(1, FILLED, datetime.now(UTC) - timedelta(hours=3)), tmp_path)
    else:  # slot 2's line filled, then slot 1 reviewed: slot 1's signature covers the slot-2 change
        shutil.copy(pypdf_fill(pdf, tmp_path / "x.pdf", {"review2.outcome": "Second review: confirmed by nobody."}), pdf)
        sign_review(pdf, identities.reviewer, ReviewInput(reviewer=ALICE[0], role=ALICE[1], decision="confirm", reasons=REASON))
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "invalid", forgery
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_a_reader_filled_review_with_its_page_1_line_verifies(
    sealed: dict[bool, Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    pdf = _fresh(sealed, tmp_path)
    _signed_after_pypdf(pdf, identities, outcome_value(1, FILLED, datetime.now(UTC) - timedelta(minutes=20)), tmp_path)
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "valid", verdict.reasons
    assert _line("overturn", ALICE) in _page1(pdf)


def _appearance_size(pdf: Path, name: str) -> float:
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    stream = review_fields(reader.root)[name].get_object()["/AP"]["/N"].get_object()
    return float(re.search(rb"/AuRv ([0-9.]+) Tf", stream.data).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("length", [480, MAX_TEXT])
def test_long_reasons_keep_a_legible_size_and_their_whole_text(
    length: int, sealed: dict[bool, Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    words = "The clip shows two people embracing at the platform edge, then walking away calmly together. "
    reasons = (words * (length // len(words) + 1))[:length].strip()
    pdf = _fresh(sealed, tmp_path)
    review = ReviewInput(reviewer=ALICE[0], role=ALICE[1], decision="overturn", reasons=reasons)
    sign_review(pdf, identities.reviewer, review)
    size = _appearance_size(pdf, "review1.reasons")
    assert size >= MIN_MULTILINE_SIZE
    if length == 480:
        assert size == 8.0  # the box holds it at the form's own size (it shrank to ~5 pt in the old box)
    verdict = verify_paths([pdf], trust)[0]
    assert verdict.status == "valid", verdict.reasons
    assert verdict.reviews[0].review is not None and verdict.reviews[0].review.reasons == reasons


def test_a_report_rendered_again_after_its_reviews_shows_the_outcome_as_text(tmp_path: Path) -> None:
    record = make_report_folder(tmp_path)
    reviewed = record.model_copy(update={"review": Review(
        reviewer="Bob Example", role="Supervisor", decision="overturn", reasons=REASON,
        reviewed_at=datetime(2026, 12, 7, 9, 14, tzinfo=UTC), status="overturned by Bob Example",
    )})
    summary = render_html(reviewed, tmp_path).split('<section id="summary"')[1].split("</section>")[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", summary).split())
    assert "Overturned by Bob Example (Supervisor), 7 Dec 2026 09:14 UTC." in text
    assert text.index("Overturned by Bob Example") < text.index("Where the review stands: overturned by Bob Example.")
    assert "awaiting human review" not in text and "data-field" not in summary


def _row(review: str | None, status: str = "reported") -> IndexRow:
    return IndexRow(
        detection_id="d" * 64, source="cam1", video="cam1.avi", video_sha256="a" * 64, first_frame=1, last_frame=9,
        start_seconds=0.0, end_seconds=1.0, class_name="fight", score=0.9, threshold=0.5, status=status,  # type: ignore[arg-type]
        review=review, report="reports/cam1-0000" if status == "reported" else None,
    )


def test_the_index_status_column_shows_every_review_status() -> None:
    due = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    for status in STATUSES:
        reviews = ()
        state = ReviewState(status, reviews, due, False)  # type: ignore[arg-type]
        column = describe(state, "review-1.json: altered" if status in ("report invalid", "review file invalid") else None)
        assert shown_status(_row(column)) == status, column
    assert shown_status(_row(None)) == "reported"  # an index written before reviews had a column
    assert shown_status(_row(None, "failed")) == "failed"
    html = index_html([_row("overturned by Bob Example"), _row(None, "pending")])
    assert '<td class="status review overturned" title="reported">overturned' in html
    assert '<li>1 overturned</li>' in html and ">reported<" not in html


def test_a_reviewed_batch_row_says_its_review_status_and_the_batch_verifies(
    sealed: dict[bool, Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    out = sealed_batch(tmp_path / "out", sealed[False], identities.seal, ("cam1-0001", "cam1-0002"))
    _review(out / "reports" / "cam1-0001", identities.seal_dir.parent / ALICE_DIR, "overturn")
    rows = {re.search(r'href="reports/([^/]+)/report.pdf"', tr).group(1): tr  # type: ignore[union-attr]
            for tr in (out / "index.html").read_text(encoding="utf-8").split("<tr")[2:]}
    assert '<td class="status review overturned" title="reported">overturned</td>' in rows["cam1-0001"]
    waiting = re.search(r'<td class="status review ([a-z-]+)" title="reported">([a-z ]+)</td>', rows["cam1-0002"])
    assert waiting is not None and waiting.group(2) in ("awaiting review", "overdue")  # due counted from the seal
    assert f'<td class="review">{waiting.group(2)}; due ' in rows["cam1-0002"]
    env = {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}
    assert run_cli("ledger", "seal", str(out), "--keys", str(identities.seal_dir), env=env).returncode == 0
    run = run_cli("verify", str(out), "--trust", str(trust))
    assert run.returncode == 0, run.stdout
