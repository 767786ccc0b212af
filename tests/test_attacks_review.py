"""Reviews nobody can forge or fake (issue 21, items 1-12), each attack reproduced as an insider with
a reviewer key or the seal, or as someone with write access to a report folder but no key.

A review revision is crafted here the way a filler that skips auditor's own checks would make it
(`_crafted`): fields filled with auditor's appearances, then the attack applied, then signed in the
slot. Every test failed on the code before the fix (see the issue's closing note)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, ROOT_PASSPHRASE, Identities, templated_report
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from auditor.archive import IndexRow, Ledger, write_index
from auditor.errors import SigningError
from auditor.keys import SigningIdentity, issue_identity, load_identity
from auditor.review import fill
from auditor.review.fill import field_values, sign_review
from auditor.review.form import FONT_RESOURCE, FormFont, review_fields
from auditor.review.model import ReviewInput, field_name, outcome_text
from auditor.review.submissions import log_submission
from auditor.signing.seal import sign_revision, signing_errors
from auditor.verify import load_trust, verify_folder, verify_paths

Tamper = Callable[[IncrementalPdfFileWriter, dict[str, generic.IndirectObject]], None]

REVIEW = ReviewInput(
    reviewer="Åsa Łukasiewicz", role="Station supervisor", authority="May cancel alerts",
    data_considered="The clip and camera 5.", decision="overturn",
    reasons="Two people were hugging at the platform edge, not fighting.", minutes=6, automation_bias_acknowledged=True,
)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    return templated_report(tmp_path_factory.mktemp("sealed") / "report", identities.seal)


@pytest.fixture
def folder(sealed: Path, tmp_path: Path) -> Path:
    return shutil.copytree(sealed, tmp_path / "report")


def _crafted(pdf: Path, identity: SigningIdentity, review: ReviewInput, slot: int = 1, tamper: Tamper | None = None) -> None:
    """Sign `review` into slot `slot` of `pdf` without auditor's own checks, `tamper` applied first."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    fields = review_fields(writer.root)
    font_ref = writer.root["/AcroForm"]["/DR"]["/Font"].raw_get(f"/{FONT_RESOURCE}")
    descriptor = font_ref.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    font = FormFont(descriptor["/FontFile2"].get_object().data)
    values = field_values(review) | {"outcome": outcome_text(slot, review.decision, review.reviewer, review.role, datetime.now(UTC))}
    for attribute, value in values.items():  # the page-1 line too: each attack fails for what it attacks
        fill._fill(writer, fields[field_name(slot, attribute)], attribute, value, font, font_ref)
    if tamper is not None:
        tamper(writer, fields)
    with signing_errors(pdf, None):
        pdf.write_bytes(sign_revision(writer, identity, field_name(slot, "signature"), reason="review", certify=False))


def _reasons(path: Path, trust: Path) -> tuple[str, list[str]]:
    verdict = verify_paths([path], trust)[0]
    return verdict.status, verdict.reasons


def _invalid_with(path: Path, trust: Path, *words: str) -> None:
    status, reasons = _reasons(path, trust)
    assert status == "invalid", reasons
    assert any(all(word in reason for word in words) for reason in reasons), reasons


# 1. The seal (or the root) signs as a reviewer


def test_the_seal_cannot_sign_a_review(folder: Path, identities: Identities, trust: Path) -> None:
    as_seal = REVIEW.model_copy(update={"reviewer": "Test seal", "role": "Evidence seal"})
    with pytest.raises(SigningError, match="not a reviewer certificate"):
        sign_review(folder / "report.pdf", identities.seal, as_seal)
    run = run_cli("review", str(folder), "--as", str(identities.seal_dir), "--decision", "confirm",
                  "--reason", "The seal reviews its own report.", env={**os.environ, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE})
    assert run.returncode != 0 and run.stderr.count("\n") == 1 and "not a reviewer certificate" in run.stderr
    _crafted(folder / "report.pdf", identities.seal, as_seal)
    _invalid_with(folder / "report.pdf", trust, "review slot 1", "not a reviewer certificate")


# 2. Name and role are free text


def test_a_review_names_the_person_whose_key_signs_it(folder: Path, identities: Identities, trust: Path) -> None:
    impostor = REVIEW.model_copy(update={"reviewer": "Bob Example", "role": "Head of Legal"})
    with pytest.raises(SigningError, match="names the person whose key signs it"):
        sign_review(folder / "report.pdf", identities.reviewer, impostor)
    _crafted(folder / "report.pdf", identities.reviewer, impostor)
    _invalid_with(folder / "report.pdf", trust, "review slot 1", "'Bob Example'", "must be the signer's own")


# 3. What readers see differs from what verify reports


def _decision_drawn_as_confirm(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
    widget = fields["review1.decision"].get_object()
    widget["/V"] = generic.TextStringObject("overturn")  # the appearance still draws "confirm"


def _box_drawn_unticked(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
    fields["review1.bias"].get_object()["/AS"] = pdf_name("/Off")


@pytest.mark.parametrize(("review", "tamper", "words"), [
    (REVIEW.model_copy(update={"decision": "confirm"}), _decision_drawn_as_confirm, ("review1.decision", "other text than its value")),
    (REVIEW, _box_drawn_unticked, ("review1.bias", "value is /Yes but it is drawn in state /Off")),
])
def test_a_field_must_show_its_value(
    folder: Path, identities: Identities, trust: Path, review: ReviewInput, tamper: Tamper, words: tuple[str, ...]
) -> None:
    _crafted(folder / "report.pdf", identities.reviewer, review, tamper=tamper)
    _invalid_with(folder / "report.pdf", trust, "review slot 1", *words)


# 4. Form-wide state changed by a slot's revision


def _acroform(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    """The form dictionary, made an object of its own in this revision (pyHanko's signer writes a
    direct one back as it was)."""
    ref = writer.root.raw_get("/AcroForm")
    if not isinstance(ref, generic.IndirectObject):
        ref = writer.add_object(ref)
        writer.root["/AcroForm"] = ref
        writer.update_root()
    writer.mark_update(ref)
    return ref.get_object()


def _need_appearances(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
    _acroform(writer)["/NeedAppearances"] = generic.BooleanObject(True)


def _type1_fonts(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
    helvetica = generic.DictionaryObject({pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
                                          pdf_name("/BaseFont"): pdf_name("/Helvetica")})
    _acroform(writer)["/DR"] = generic.DictionaryObject({pdf_name("/Font"): generic.DictionaryObject(
        {pdf_name(f"/{FONT_RESOURCE}"): writer.add_object(helvetica)})})


def _parent(writer: IncrementalPdfFileWriter, key: str, value: generic.PdfObject) -> None:
    ref = writer.root["/AcroForm"]["/Fields"].raw_get(0)  # the review1 parent field
    ref.get_object()[key] = value
    writer.mark_update(ref)


def _catalog(key: str, value: generic.PdfObject) -> Tamper:
    def tamper(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
        writer.root[key] = value
        writer.update_root()
    return tamper


@pytest.mark.parametrize(("tamper", "named"), [
    (_need_appearances, "/AcroForm /NeedAppearances"),
    (_type1_fonts, "/AcroForm /DR"),
    (lambda w, f: _parent(w, "/V", generic.TextStringObject("confirm")), "review1 "),
    (lambda w, f: _parent(w, "/DA", generic.TextStringObject("/Helv 0 Tf 1 g")), "review1 "),
    (_catalog("/Version", pdf_name("/2.0")), "catalog /Version"),
    (_catalog("/MarkInfo", generic.DictionaryObject({pdf_name("/Marked"): generic.BooleanObject(False)})), "catalog /MarkInfo"),
])
def test_a_review_revision_changes_nothing_but_its_own_fields(
    folder: Path, identities: Identities, trust: Path, tamper: Tamper, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyHanko's signer clears /NeedAppearances; another signing tool need not: sign as one that keeps it
    monkeypatch.setattr("pyhanko.sign.signers.cms_embedder.ensure_sig_flags", lambda writer, lock_sig_flags: None)
    _crafted(folder / "report.pdf", identities.reviewer, REVIEW, tamper=tamper)
    status, reasons = _reasons(folder / "report.pdf", trust)
    assert status == "invalid"
    assert any("outside its own slot" in r and named.strip() in r for r in reasons), reasons


def test_a_later_review_of_a_form_with_foreign_fonts_is_refused_in_one_line(
    folder: Path, identities: Identities, tmp_path: Path
) -> None:
    _crafted(folder / "report.pdf", identities.reviewer, REVIEW, tamper=_type1_fonts)
    before = (folder / "report.pdf").read_bytes()
    run = run_cli("review", str(folder), "--as", str(identities.seal_dir.parent / "reviewer"), "--decision", "confirm",
                  "--reason", "A second look at the clip.", env={**os.environ, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE})
    assert run.returncode != 0 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert "does not verify" in run.stderr and (folder / "report.pdf").read_bytes() == before


# 5. A review signature locks the other slot


def _lock_everything(writer: IncrementalPdfFileWriter, fields: dict[str, generic.IndirectObject]) -> None:
    ref = fields["review1.signature"]
    ref.get_object()["/Lock"] = generic.DictionaryObject(
        {pdf_name("/Type"): pdf_name("/SigFieldLock"), pdf_name("/Action"): pdf_name("/All")})
    writer.mark_update(ref)


def test_a_review_cannot_lock_later_reviews(folder: Path, identities: Identities, trust: Path) -> None:
    _crafted(folder / "report.pdf", identities.reviewer, REVIEW, tamper=_lock_everything)
    status, reasons = _reasons(folder / "report.pdf", trust)
    assert status == "invalid" and any(r.startswith("review slot 1:") and ("/Reference" in r or "/Lock" in r) for r in reasons), reasons


# 6. Another organisation's reviewer (same names, another root in a multi-root bundle)


def test_a_reviewer_of_another_root_does_not_count(folder: Path, identities: Identities, tmp_path: Path) -> None:
    issue_identity(identities.stranger_dir, ROOT_PASSPHRASE, tmp_path / "twin", PASSPHRASE,
                   common_name="Åsa Łukasiewicz", role="Station supervisor")
    twin = load_identity(tmp_path / "twin", PASSPHRASE)
    sign_review(folder / "report.pdf", twin, REVIEW)
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(b"".join((d / "root.cert.pem").read_bytes() for d in (identities.seal_dir, identities.stranger_dir)))
    _invalid_with(folder / "report.pdf", bundle, "review slot 1", "not issued by the CA that issued this report's seal")


# 7. Submissions signed by a reviewer key


def test_only_the_seal_logs_submissions(folder: Path, identities: Identities, trust: Path) -> None:
    text = "I was only hugging my brother."
    log_submission(folder, "The person concerned", text, [], identities.reviewer)
    verdicts = {Path(v.path).name: v for v in verify_folder(folder, load_trust(trust))}
    verdict = verdicts["submission-1.json"]
    assert verdict.status == "invalid" and any("not by the report's seal" in r for r in verdict.reasons), verdict.reasons


# 9. Review file names


@pytest.mark.parametrize(("rename", "words"), [
    (lambda f: [(f / f"review-1.json{s}").rename(f / f"review-2.json{s}") for s in ("", ".p7s")],
     ("review-2.json holds the review of slot 1",)),
    (lambda f: [shutil.copy(f / f"review-1.json{s}", f / f"review-77.json{s}") for s in ("", ".p7s")],
     ("review-77.json holds the review of slot 1",)),
    (lambda f: shutil.copy(f / "review-1.json.p7s", f / "review-9.json.p7s"), ("review-9.json.p7s", "not there")),
])
def test_a_review_file_is_named_after_its_slot(
    folder: Path, identities: Identities, trust: Path, rename: Callable[[Path], object], words: tuple[str, ...]
) -> None:
    from auditor.desk.record import review_report

    review_report(folder, identities.reviewer, REVIEW)
    rename(folder)
    reasons = [r for v in verify_folder(folder, load_trust(trust)) if v.status == "invalid" for r in v.reasons]
    assert any(all(w in r for w in words) for r in reasons), reasons


# 10, 11. The queue and the index trust only reviews that verify, in the order they were signed


def _batch(out: Path, reports: dict[str, Path]) -> None:
    """A batch folder holding `reports` (name -> sealed folder), registered in its ledger and index."""
    ledger, rows = Ledger(out), []
    for number, (name, source) in enumerate(reports.items()):
        folder = shutil.copytree(source, out / "reports" / name)
        row = IndexRow(detection_id=f"d{number}", source="cam", video="v.avi", video_sha256="", first_frame=0,
                       last_frame=15, start_seconds=number, end_seconds=number + 1.6, class_name="fight", score=0.9,
                       threshold=0.5, status="reported", report=f"reports/{name}")
        ledger.append("report", f"{number:02x}", folder, {"row": row.model_dump(mode="json")})
        rows.append(row)
    write_index(out, rows)


def _queue(out: Path, trust: Path) -> dict[str, dict[str, object]]:
    run = run_cli("queue", str(out), "--json", "--trust", str(trust))
    assert run.returncode == 0, run.stderr
    return {Path(str(r["folder"])).name: r for r in json.loads(run.stdout)["reports"]}


def test_the_queue_counts_only_reviews_that_verify(
    sealed: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    reviewed = shutil.copytree(sealed, tmp_path / "reviewed")
    from auditor.desk.record import review_report

    review_report(reviewed, identities.reviewer, REVIEW.model_copy(update={"decision": "confirm"}))
    out = tmp_path / "out"
    _batch(out, {"honest": reviewed, "forged": sealed, "copied": sealed, "broken": sealed, "gone": sealed, "fresh": sealed})
    forged = out / "reports" / "forged"
    (forged / "review-1.json").write_text((reviewed / "review-1.json").read_text().replace("overturn", "confirm"))
    for name in ("review-1.json", "review-1.json.p7s"):
        shutil.copy(reviewed / name, out / "reports" / "copied" / name)
    (out / "reports" / "broken" / "review-1.json").write_text("{not json")
    shutil.rmtree(out / "reports" / "gone")
    queue = _queue(out, trust)
    assert queue["honest"]["status"] == "reviewed"
    assert queue["fresh"]["status"] in ("awaiting review", "overdue")
    for name in ("forged", "copied", "broken"):
        assert queue[name]["status"] == "review file invalid" and queue[name]["decisions"] == [], queue[name]
    assert queue["gone"]["status"] == "report invalid"
    index = {row["report"]: row["review"] for row in _index(out)}
    assert index["reports/copied"].startswith("review file invalid") and index["reports/honest"].startswith("reviewed")


def _index(out: Path) -> list[dict[str, str]]:
    import csv

    with (out / "index.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_queue_and_render_read_reviews_in_the_order_they_were_signed(
    folder: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    from auditor.desk.queue import queue_item
    from auditor.desk.reviews import VerifiedFolders
    from auditor.report.rerender import read_source
    from auditor.review.state import review_state

    issue_identity(identities.seal_dir, ROOT_PASSPHRASE, tmp_path / "bob", PASSPHRASE, common_name="Bob Example", role="Supervisor")
    bob = load_identity(tmp_path / "bob", PASSPHRASE)
    sign_review(folder / "report.pdf", identities.reviewer, REVIEW, slot=2)  # overturn, signed first
    later = REVIEW.model_copy(update={"reviewer": "Bob Example", "role": "Supervisor", "decision": "confirm"})
    sign_review(folder / "report.pdf", bob, later, slot=1)  # confirm, signed last: it decides
    now = datetime.now(UTC)
    queued = queue_item(folder, VerifiedFolders(load_trust(trust)).get(folder), now).state
    source = read_source(folder, trust)
    rendered = review_state(source.record, list(source.reviews), now)
    assert queued.status == rendered.status == "reviewed"
    assert [r.slot for r in queued.reviews] == [r.slot for r in rendered.reviews] == [2, 1]


# 12. Review signing times


def test_a_review_signed_in_the_future_is_invalid(folder: Path, identities: Identities, trust: Path) -> None:
    env = {**os.environ, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        ["faketime", "2028-06-01 12:00:00", sys.executable, "-m", "auditor", "review", str(folder), "--as",
         str(identities.seal_dir.parent / "reviewer"), "--decision", "confirm", "--reason", "Seen in 2028."],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    _invalid_with(folder / "report.pdf", trust, "review slot 1", "2028-06-01", "after the time of this verification")


def test_review_times_must_follow_the_seal_and_each_other() -> None:
    from auditor.verify.review import _time_problems

    sealed = datetime(2026, 12, 1, tzinfo=UTC)
    now = sealed + timedelta(days=3)
    assert _time_problems(sealed + timedelta(days=1), sealed, sealed, now) == []
    assert "before the report was sealed" in _time_problems(sealed - timedelta(days=1), sealed, sealed, now)[0]
    assert "before the review signed before it" in _time_problems(
        sealed + timedelta(hours=1), sealed, sealed + timedelta(days=1), now)[0]
    assert "after the time of this verification" in _time_problems(now + timedelta(hours=1), sealed, sealed, now)[0]
    assert "no signing time" in _time_problems(None, sealed, sealed, now)[0]


# 23. The index is rebuilt from the whole ledger and the verified reviews


def test_a_rerun_on_a_subset_keeps_every_report_and_its_review_status(identities: Identities, tmp_path: Path) -> None:
    from auditor.demo import demo_model_path
    from auditor.synthetic import make_clip
    from auditor.video import write_video

    for camera, seed in (("cam1", 3), ("cam2", 4)):
        (tmp_path / "footage" / camera).mkdir(parents=True)
        write_video(tmp_path / "footage" / camera / "fight.avi", make_clip("fight", seed).frames, 10.0)
    out, env = tmp_path / "out", {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    cheap = ["--skip-check", "counterfactuals", "--skip-check", "faithfulness", "--skip-check", "persons"]

    def batch(*inputs: Path) -> None:
        run = run_cli("batch", *map(str, inputs), "--model", str(demo_model_path()), "--out", str(out),
                      "--keys", str(identities.seal_dir), *cheap, env=env)
        assert run.returncode == 0, run.stderr

    batch(tmp_path / "footage")
    reviewed = next(p for p in (out / "reports").iterdir() if p.name.startswith("cam2"))
    run = run_cli("review", str(reviewed), "--as", str(identities.seal_dir.parent / "reviewer"), "--decision", "overturn",
                  "--reason", "The two people are greeting each other.", env=env)
    assert run.returncode == 0, run.stderr
    shutil.move(tmp_path / "footage" / "cam2", tmp_path / "cam2-archived")
    batch(tmp_path / "footage")  # a rerun on a subset of the recordings, after the review
    rows = {row["report"]: row for row in _index(out)}
    assert len(rows) == 2, rows
    assert {Path(r).name for r in rows} == {p.name for p in (out / "reports").iterdir()}
    assert rows[f"reports/{reviewed.name}"]["review"] == "overturned by Åsa Łukasiewicz"
