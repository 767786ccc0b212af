"""`auditor review` and `auditor queue` on a batch folder, through the command line: a decision
without reasons is refused and changes nothing; reviews are signed into the PDF, registered as
ledger amendments and shown in the index; the second-verifier rule needs two distinct reviewers;
a review-N.json that says other than the PDF fails verify."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.cli import CliRun, run_cli
from fixtures.identities import PASSPHRASE, Identities
from fixtures.review_batch import review_batch

from auditor.signing.seal import sign_detached

REASON = "Two people exchange blows at the left edge; I watched the whole clip."


@pytest.fixture(scope="module")
def batch(identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    """A batch folder with the reports of two incidents, written under a profile that requires a
    second verifier; and a second reviewer (Bob) under the same root."""
    return review_batch(tmp_path_factory.mktemp("review"), identities, env())


def env() -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}


def review(report: Path, reviewer: Path, decision: str = "confirm", reason: str = REASON) -> CliRun:
    return run_cli("review", str(report), "--as", str(reviewer), "--decision", decision, "--reason", reason,
                   "--considered", "the clip", "--minutes", "4", "--bias-acknowledged", env=env())


def statuses(out: Path) -> dict[str, str]:
    return {Path(r["report"]).name: r["review"] for r in csv.DictReader((out / "index.csv").open())}


def test_reviews_are_signed_registered_and_counted_with_a_second_verifier(
    batch: tuple[Path, list[Path], Path], identities: Identities, trust: Path
) -> None:
    out, (first, second, *_), bob = batch
    alice = identities.seal_dir.parent / "reviewer"
    assert set(statuses(out).values()) == {s for s in statuses(out).values() if s.startswith("awaiting review")}

    pdf_before = (first / "report.pdf").read_bytes()
    refused = review(first, alice, reason="ok")
    assert refused.returncode == 5 and refused.stderr.startswith("auditor: error: the review is incomplete: reasons")
    assert refused.stderr.count("\n") == 1
    assert (first / "report.pdf").read_bytes() == pdf_before and not (first / "review-1.json").exists()

    signed = review(first, alice)
    assert signed.returncode == 0 and f"{out}: it awaits a checkpoint: run `auditor ledger seal {out}`" in signed.stdout
    assert statuses(out)[first.name].startswith("awaiting second review")
    assert review(first, bob).returncode == 0
    assert statuses(out)[first.name] == "reviewed by Åsa Łukasiewicz and Bob Example"
    page1 = " ".join(subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(first / "report.pdf"), "-"],
                                    capture_output=True, text=True, check=True).stdout.split())
    assert page1.index("Confirmed by Åsa Łukasiewicz (Station supervisor), ") < page1.index(
        "Second review: confirmed by Bob Example (Supervisor), ") < page1.index("Two people must review this report")
    assert "awaiting" not in page1  # both sealed "awaiting" lines were replaced by the reviews
    assert '<td class="status review reviewed" title="reported">reviewed</td>' in (out / "index.html").read_text()
    assert review(second, alice, "overturn").returncode == 0
    assert review(second, alice, "overturn").returncode == 0  # the same reviewer twice is no second verifier
    assert statuses(out)[second.name].startswith("awaiting second review")
    assert (first / "report.pdf").read_bytes()[: len(pdf_before)] == pdf_before  # the sealed revision is kept

    kinds = [json.loads(line)["kind"] for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert kinds.count("review") == 4
    counts = json.loads(run_cli("queue", str(out), "--json", "--trust", str(trust)).stdout)["counts"]
    assert counts["reviewed"] == 1 and counts["awaiting second review"] == 1
    assert sum(counts.values()) == len(batch[1])
    # the batch wrote a checkpoint at its end, and another before when a report took over 5 s
    review_entry = kinds.index("review") + 1  # entries count from 1
    assert kinds[review_entry - 2] == "checkpoint" and set(kinds[review_entry - 1:]) == {"review"}
    unsealed = run_cli("verify", str(out), "--trust", str(trust))  # the reviewers held no seal: not sealed yet
    assert unsealed.returncode == 1
    assert f"not sealed yet: ledger entries {review_entry} (review reports/" in unsealed.stderr
    sealed = run_cli("ledger", "seal", str(out), "--keys", str(identities.seal_dir), env=env())
    assert sealed.stdout.splitlines()[0] == (
        f"sealed {len(kinds)} ledger entries of {out} (checkpoint: entry {len(kinds) + 1})"), sealed.stderr
    assert sealed.stdout.splitlines()[1].startswith(
        f"newly sealed: {review_entry} (review {first.relative_to(out)}), {review_entry + 1} (review")
    checked = run_cli("verify", str(out), "--trust", str(trust))
    assert checked.returncode == 0, checked.stdout
    assert "review 2: CONFIRM by Bob Example (Supervisor)" in checked.stdout

    rendered = out.parent / "rendered"
    run = run_cli("render", str(first), "--out", str(rendered), "--trust", str(trust), "--keys", str(identities.seal_dir),
                  env=env())
    assert run.returncode == 0, run.stderr
    record = json.loads((rendered / "evidence.json").read_text())
    assert record["review"]["status"] == "reviewed by Åsa Łukasiewicz and Bob Example"
    assert record["review"]["decision"] == "confirm" and record["review"]["reviewer"] == "Bob Example"
    assert record["review"]["second_verifier"].startswith("Åsa Łukasiewicz (Station supervisor)")
    item = next(i for i in record["completeness"]["items"] if i["number"] == 17)
    assert item["status"] == "provided"
    text = subprocess.run(["pdftotext", str(rendered / "report.pdf"), "-"], capture_output=True, text=True).stdout
    assert "reviewed by Åsa Łukasiewicz and Bob Example" in " ".join(text.split())

    pending = out.parent / "rendered-pending"  # its due time counts from the source's seal, as the index's does
    assert run_cli("render", str(second), "--out", str(pending), "--trust", str(trust), "--no-sign").returncode == 0
    status = json.loads((pending / "evidence.json").read_text())["review"]["status"]
    assert status == statuses(out)[second.name] and status.startswith("awaiting second review; due ")


def test_a_review_file_that_says_other_than_the_pdf_fails_verify(
    batch: tuple[Path, list[Path], Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    _, folders, _ = batch
    report = folders[-1]
    alice = identities.seal_dir.parent / "reviewer"
    if not (report / "review-1.json").exists():
        assert review(report, alice).returncode == 0
    copy = shutil.copytree(report, tmp_path / report.name)
    record = json.loads((copy / "review-1.json").read_text())
    record["review"]["decision"] = {"confirm": "overturn"}.get(record["review"]["decision"], "confirm")
    (copy / "review-1.json").write_text(json.dumps(record, indent=2) + "\n")
    sign_detached(copy / "review-1.json", identities.reviewer)  # re-signed by the reviewer: still not the PDF's
    checked = run_cli("verify", str(copy), "--trust", str(trust))
    assert checked.returncode == 1
    assert "review-1.json says other than the PDF's review slot 1: decision differ" in checked.stdout


def test_a_submission_in_a_batch_folder_is_a_ledger_amendment_that_verifies(
    batch: tuple[Path, list[Path], Path], identities: Identities, trust: Path, tmp_path: Path
) -> None:
    out, folders, _ = batch
    report = folders[0]
    (tmp_path / "letter.txt").write_text("I was not fighting; he is my brother and we were joking.")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 not really a photo")
    logged = run_cli("submission", str(report), "--from", "Case 2026-117", "--text", str(tmp_path / "letter.txt"),
                     "--attach", str(tmp_path / "photo.jpg"), "--keys", str(identities.seal_dir),
                     env=env())
    assert logged.returncode == 0, logged.stderr
    (tmp_path / "answer.txt").write_text("Thank you; the reviewer overturned the alert.")
    assert run_cli("submission", str(report), "--answer", "1", "--text", str(tmp_path / "answer.txt"),
                   "--keys", str(identities.seal_dir), env=env()).returncode == 0
    entries = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    amendments = [e for e in entries if e["kind"] == "submission"]
    assert [sorted(e["files"]) for e in amendments] == [
        ["submissions/attachments/1-photo.jpg", "submissions/submission-1.json", "submissions/submission-1.json.p7s"],
        ["submissions/answer-1.json", "submissions/answer-1.json.p7s"],
    ]
    checked = run_cli("verify", str(out), "--trust", str(trust))
    assert checked.returncode == 0, checked.stdout
    photo = report / "submissions" / "attachments" / "1-photo.jpg"
    original = photo.read_bytes()
    photo.write_bytes(b"another photo")
    altered = run_cli("verify", str(out), "--trust", str(trust))
    photo.write_bytes(original)
    assert altered.returncode == 1 and "1-photo.jpg" in altered.stdout
