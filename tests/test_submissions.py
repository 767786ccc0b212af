"""The person's point of view (issue 14, item 6): `auditor submission` logs what the person
concerned submitted and the answer as entries signed with the organisation seal; each entry is
bound to its report, its attachments and (an answer) its submission; tampering is named; the next
`auditor render` shows them in the redress section."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities, templated_report

from auditor.errors import ArchiveError
from auditor.evidence import load_record
from auditor.review.submission_records import (
    EXCERPT_CHARS,
    MAX_ENTRY_BYTES,
    MAX_TEXT_CHARS,
    read_submissions,
    submission_files,
)
from auditor.review.submissions import log_answer, log_submission, report_submission
from auditor.verify import load_trust
from auditor.verify.submissions import check_submissions

TEXT = "I was not at the north entrance at 14:02; I was at work. The person in the clip is not me."
ANSWER = "We watched the clip again with the duty officer and withdrew the alert on 3 March."


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    """A report folder as `auditor report` writes it, sealed by the organisation seal."""
    return templated_report(tmp_path_factory.mktemp("sealed") / "report", identities.seal)


@pytest.fixture(scope="module")
def logged(sealed: Path, identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sealed folder with submission 1 (one attachment, answered) and submission 2 (open)."""
    folder = shutil.copytree(sealed, tmp_path_factory.mktemp("logged") / "report")
    photo = tmp_path_factory.mktemp("inputs") / "timesheet scan (1).pdf"
    photo.write_bytes(b"%PDF-1.4 a timesheet\n")
    log_submission(folder, "J. Doe, case 2024-17", TEXT, [photo], identities.seal)
    log_answer(folder, 1, ANSWER, identities.seal)
    log_submission(folder, "J. Doe, case 2024-17", "A second letter, not answered yet.", [], identities.seal)
    return folder


@pytest.fixture
def copy(logged: Path, tmp_path: Path) -> Path:
    return shutil.copytree(logged, tmp_path / "report")


def _reasons(folder: Path, trust: Path) -> dict[str, list[str]]:
    return {Path(v.path).name: v.reasons for v in check_submissions(folder, load_trust(trust)) if v.status != "valid"}


def test_logged_entries_are_written_signed_and_verify(logged: Path, trust: Path) -> None:
    area = logged / "submissions"
    assert submission_files(logged) == {
        f"submissions/{n}" for n in (
            "submission-1.json", "submission-1.json.p7s", "answer-1.json", "answer-1.json.p7s",
            "submission-2.json", "submission-2.json.p7s", "attachments/1-timesheet_scan_1_.pdf")}
    verdicts = check_submissions(logged, load_trust(trust))
    assert [(Path(v.path).name, v.status) for v in verdicts] == [
        ("submission-1.json", "valid"), ("answer-1.json", "valid"), ("submission-2.json", "valid")]
    assert {v.signer for v in verdicts} == {"O=Test Org,CN=Test seal"}
    entries = read_submissions(logged)
    first, second = entries
    assert first.submission.text == TEXT and first.submission.sender == "J. Doe, case 2024-17"
    assert first.submission.attachments[0].size == len(b"%PDF-1.4 a timesheet\n")
    assert first.answer is not None and first.answer.text == ANSWER and second.answer is None
    record = json.loads((logged / "evidence.json").read_text(encoding="utf-8"))
    assert first.submission.report_id == record["report"]["report_id"]
    assert first.submission.received_at.tzinfo is not None and second.submission.number == 2
    assert not [p for p in area.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_a_changed_submission_text_is_named(copy: Path, trust: Path) -> None:
    path = copy / "submissions" / "submission-1.json"
    path.write_text(path.read_text(encoding="utf-8").replace("not me", "me"), encoding="utf-8")
    reasons = _reasons(copy, trust)
    assert "altered" in " ".join(reasons["submission-1.json"])
    assert "answers another text" in " ".join(reasons["answer-1.json"])  # the answer names the original


def test_a_changed_attachment_is_named(copy: Path, trust: Path) -> None:
    (copy / "submissions" / "attachments" / "1-timesheet_scan_1_.pdf").write_bytes(b"%PDF-1.4 a forged sheet\n")
    reasons = _reasons(copy, trust)
    assert list(reasons) == ["submission-1.json"]
    assert "attachment attachments/1-timesheet_scan_1_.pdf of submission 1 was altered" in reasons["submission-1.json"][0]


def test_a_swapped_signature_is_named(copy: Path, trust: Path) -> None:
    area = copy / "submissions"
    shutil.copyfile(area / "submission-2.json.p7s", area / "submission-1.json.p7s")
    assert "altered" in " ".join(_reasons(copy, trust)["submission-1.json"])


def test_an_entry_renamed_with_its_signature_is_named(copy: Path, trust: Path) -> None:
    area = copy / "submissions"
    for suffix in ("", ".p7s"):  # submission 2, validly signed, passed off as submission 1
        shutil.copyfile(area / f"submission-2.json{suffix}", area / f"submission-1.json{suffix}")
    reasons = " ".join(_reasons(copy, trust)["submission-1.json"])
    assert "says it is number 2" in reasons


def test_an_oversized_entry_is_refused_unread(copy: Path, trust: Path) -> None:
    path = copy / "submissions" / "submission-2.json"
    path.write_bytes(b" " * (MAX_ENTRY_BYTES + 1))
    assert "refused unread" in " ".join(_reasons(copy, trust)["submission-2.json"])


def test_the_report_shows_a_bounded_excerpt(copy: Path, identities: Identities) -> None:
    words = " ".join(f"word{i}" for i in range(1000))
    log_submission(copy, "J. Doe", words, [], identities.seal)
    entry = read_submissions(copy)[-1]
    summary = report_submission(entry).summary
    assert entry.submission.text == words  # the entry keeps the whole text
    assert summary.startswith("From J. Doe: word0 word1") and summary.endswith("…")
    assert len(summary) <= len("From J. Doe: ") + EXCERPT_CHARS


def test_an_entry_signed_outside_the_root_is_named(copy: Path, trust: Path, identities: Identities) -> None:
    log_submission(copy, "Someone", "Signed by a stranger's seal.", [], identities.stranger)
    assert "does not chain to the trusted root" in " ".join(_reasons(copy, trust)["submission-3.json"])


def test_an_answer_for_another_report_is_named(copy: Path, sealed: Path, trust: Path, identities: Identities,
                                               tmp_path: Path) -> None:
    other = shutil.copytree(sealed, tmp_path / "other")
    record = json.loads((other / "evidence.json").read_text(encoding="utf-8"))
    record["report"]["report_id"] = "another-report"
    (other / "evidence.json").write_text(json.dumps(record), encoding="utf-8")
    log_submission(other, "J. Doe", TEXT, [], identities.seal)
    log_answer(other, 1, ANSWER, identities.seal)  # validly signed, but for another report
    for suffix in ("", ".p7s"):
        shutil.copyfile(other / "submissions" / f"answer-1.json{suffix}", copy / "submissions" / f"answer-1.json{suffix}")
    reasons = " ".join(_reasons(copy, trust)["answer-1.json"])
    assert "belongs to another report" in reasons and "answers another text" in reasons


def test_an_unknown_or_answered_submission_is_refused(copy: Path, identities: Identities) -> None:
    before = sorted(p.name for p in (copy / "submissions").iterdir())
    with pytest.raises(ArchiveError, match="there is no submission 7 .*submissions: 1, 2"):
        log_answer(copy, 7, ANSWER, identities.seal)
    with pytest.raises(ArchiveError, match="submission 1 is answered already"):
        log_answer(copy, 1, "A second answer.", identities.seal)
    assert sorted(p.name for p in (copy / "submissions").iterdir()) == before


def test_bounded_inputs_are_refused_before_anything_is_written(copy: Path, identities: Identities,
                                                               tmp_path: Path) -> None:
    before = sorted(p.name for p in (copy / "submissions").iterdir())
    with pytest.raises(ArchiveError, match="more than 20000"):
        log_submission(copy, "J. Doe", "x " * MAX_TEXT_CHARS, [], identities.seal)
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    with pytest.raises(ArchiveError, match="larger than 50 MiB"):
        log_submission(copy, "J. Doe", TEXT, [big], identities.seal)
    with pytest.raises(ArchiveError, match="at most 20"):
        log_submission(copy, "J. Doe", TEXT, [big] * 21, identities.seal)
    assert sorted(p.name for p in (copy / "submissions").iterdir()) == before


def test_the_cli_logs_and_answers_in_one_line_each_error(copy: Path, identities: Identities, tmp_path: Path) -> None:
    env = {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_HOME": str(tmp_path / "home")}
    keys = ["--keys", str(identities.seal_dir)]
    text = tmp_path / "letter.txt"
    text.write_text("I contest the alert: the clip shows my colleague.", encoding="utf-8")
    run = run_cli("submission", str(copy), "--from", "A. Person", "--text", str(text), *keys, env=env)
    assert run.returncode == 0, run.stderr
    assert "logged submission 3 from A. Person" in run.stdout and (copy / "submissions" / "submission-3.json.p7s").is_file()
    run = run_cli("submission", str(copy), "--answer", "3", "--text", str(text), *keys, env=env)
    assert run.returncode == 0 and (copy / "submissions" / "answer-3.json").is_file()
    again = run_cli("submission", str(copy), "--answer", "3", "--text", str(text), *keys, env=env)
    assert again.returncode == 7 and again.stderr.count("\n") == 1 and "answered already" in again.stderr
    both = run_cli("submission", str(copy), "--answer", "3", "--from", "X", "--text", str(text), *keys, env=env)
    assert both.returncode == 2 and "either --from" in both.stderr


def test_render_shows_the_checked_submissions_in_the_redress_section(
    copy: Path, identities: Identities, trust: Path, tmp_path: Path
) -> None:
    log_submission(copy, "Someone", "Signed by a stranger's seal, left out.", [], identities.stranger)
    env = {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_HOME": str(tmp_path / "home")}
    out = tmp_path / "rendered"
    run = run_cli("render", str(copy), "--out", str(out), "--keys", str(identities.seal_dir), "--trust", str(trust), env=env)
    assert run.returncode == 0, run.stderr
    assert "left out of the redress section" in run.stderr and "submission-3.json" in run.stderr
    submissions = load_record(out / "evidence.json").review.submissions
    assert [s.answer is not None for s in submissions] == [True, False]
    assert submissions[0].summary.startswith("From J. Doe, case 2024-17: I was not at the north entrance")
    done = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    assert "Submissions of the person concerned" in text and "not answered yet" in text
    for words in ("From J. Doe, case 2024-17: I was not at the north entrance", "(attached: timesheet_scan_1_.pdf)",
                  "Answered", "withdrew the alert on 3 March", "A second letter"):
        assert words in text
    assert "stranger" not in text
