"""Issue 22: every deletion from a batch folder that took no key now fails `auditor verify OUT`,
with a line naming what is missing. Each of these passed (exit 0) before ledger checkpoints."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities, build_report, templated_report
from fixtures.sealed_batch import anchors, refresh, register, sealed_batch
from pki import LocalPki

from auditor.archive import Ledger
from auditor.archive.chain import LEDGER_NAME, LedgerEntry
from auditor.archive.checkpoint import last_checkpoint, write_checkpoint
from auditor.archive.extend import ExtensionTrust, extend_archive
from auditor.desk.record import review_report
from auditor.desk.reviews import VerifiedFolders
from auditor.errors import ArchiveError
from auditor.files import sha256_bytes
from auditor.keys import import_identity, load_identity
from auditor.review.model import ReviewInput
from auditor.signing.seal import sign_report_folder
from auditor.verify import load_trust
from auditor.verify.archive import verify_archive

REVIEW = ReviewInput(
    reviewer="Åsa Łukasiewicz", role="Station supervisor", authority="May cancel alerts",
    data_considered="The clip.", decision="confirm", reasons="Two people exchange blows; I watched the clip.",
    minutes=4, automation_bias_acknowledged=True,
)


@pytest.fixture
def out(tmp_path: Path, sealed_report: Path, identities: Identities) -> Path:
    return sealed_batch(tmp_path / "out", sealed_report, identities.seal)


def _lines(out: Path) -> list[bytes]:
    return (out / LEDGER_NAME).read_bytes().splitlines()


def _write(out: Path, lines: list[bytes]) -> None:
    (out / LEDGER_NAME).write_bytes(b"".join(line + b"\n" for line in lines))


def _rechained(lines: list[bytes]) -> list[bytes]:
    """The lines renumbered and linked again, as anyone can without a key."""
    previous, result = "0" * 64, []
    for number, line in enumerate(lines, 1):
        entry = json.loads(line)
        entry.update(sequence=number, previous=previous)
        result.append(LedgerEntry.model_validate(entry).line())
        previous = sha256_bytes(result[-1])
    return result


def _kinds(out: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in _lines(out)]


def _ledger_reasons(out: Path, identities: Identities, **options: object) -> list[str]:
    verdicts = verify_archive(out, anchors(identities.seal), **options)  # type: ignore[arg-type]
    assert verdicts[0].path == str(out / LEDGER_NAME)
    return [reason for verdict in verdicts for reason in verdict.reasons]


def test_the_sealed_batch_verifies(out: Path, identities: Identities) -> None:
    assert _ledger_reasons(out, identities) == []
    assert _kinds(out) == ["scan", "checkpoint", *["report", "checkpoint"] * 3]


def test_ledger_removed_with_some_reports(out: Path, identities: Identities, trust: Path) -> None:
    (out / LEDGER_NAME).unlink()
    shutil.rmtree(out / "reports/cam1-0002")
    run = run_cli("verify", str(out), "--trust", str(trust))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(
        "auditor: verify: ledger.jsonl is missing: this folder holds batch files (index.csv, index.html, reports, scans) "
        "without a sealed ledger; nothing proves what it held"
    ) and run.stderr.count("\n") == 1
    assert "reports/cam1-0001: not registered in ledger.jsonl" in run.stdout


def test_an_emptied_ledger_with_every_report_deleted(out: Path, identities: Identities) -> None:
    (out / LEDGER_NAME).write_bytes(b"")
    shutil.rmtree(out / "reports")
    (out / "reports").mkdir()
    reasons = _ledger_reasons(out, identities)
    assert any(r.startswith("the ledger is empty: no sealed checkpoint covers this batch folder") for r in reasons)
    assert "index.csv: fake row 0000000000000001: the ledger registers no report reports/cam1-0001" in reasons


def test_the_last_report_and_the_last_ledger_line_removed(out: Path, identities: Identities) -> None:
    shutil.rmtree(out / "reports/cam1-0003")
    _write(out, _lines(out)[:-1])
    reasons = _ledger_reasons(out, identities)
    assert "ledger entry 7 (reports/cam1-0003): the folder is missing" in reasons
    assert any(r.startswith("not sealed yet: ledger entries 7 (report reports/cam1-0003) follow the last checkpoint") for r in reasons)


def test_a_cut_back_to_an_earlier_checkpoint_fails_with_head_and_witness(
    out: Path, identities: Identities, tmp_path: Path
) -> None:
    _, head = last_checkpoint(out)
    witness = tmp_path / "witness"
    write_checkpoint(out, identities.seal, witness=witness)  # nothing new: no checkpoint, nothing witnessed
    assert not witness.exists()
    register(out, out / "reports/cam1-0001", "cam1-0004", 4, identities.seal)
    shutil.copy(out / LEDGER_NAME, tmp_path / "before.jsonl")
    _write(out, _lines(out)[:-2])  # the last report's entry and its checkpoint
    shutil.rmtree(out / "reports/cam1-0004")
    refresh(out, identities.seal)
    assert _ledger_reasons(out, identities) == []  # consistent with itself: only what was kept elsewhere shows it
    _, later = last_checkpoint(out)
    assert later == head
    assert _ledger_reasons(out, identities, head=head) == []
    shutil.copy(tmp_path / "before.jsonl", tmp_path / "ledger-with-4")
    newest = sha256_bytes((tmp_path / "before.jsonl").read_bytes().splitlines()[-1])
    reasons = _ledger_reasons(out, identities, head=newest)
    assert reasons == [
        f"the checkpoint {newest[:16]}… kept elsewhere is not in this ledger: it was cut back to an earlier checkpoint "
        "(entries and folders removed), or it is another archive's ledger"
    ]


def test_a_report_removed_from_the_middle_with_the_chain_recomputed(out: Path, identities: Identities) -> None:
    lines = _lines(out)
    assert json.loads(lines[4])["path"] == "reports/cam1-0002"
    _write(out, _rechained([*lines[:4], *lines[5:]]))
    shutil.rmtree(out / "reports/cam1-0002")
    reasons = _ledger_reasons(out, identities)
    assert any(
        r.startswith("ledger entry 5 (checkpoint): it states 5 entries ending in") and r.endswith("(missing: 1 report)")
        for r in reasons
    ), reasons
    assert "index.csv: fake row 0000000000000002: the ledger registers no report reports/cam1-0002" in reasons
    Ledger(out).append("report", "09", shutil.copytree(out / "reports/cam1-0001", out / "reports/later"), {})
    before = (out / LEDGER_NAME).read_bytes()
    with pytest.raises(ArchiveError, match=r"ledger entry 5 \(checkpoint\): it states 5 entries.*never vouches for an altered ledger"):
        write_checkpoint(out, identities.seal)
    assert (out / LEDGER_NAME).read_bytes() == before


def test_a_report_removed_from_the_middle_with_the_later_checkpoints_cut_off(out: Path, identities: Identities) -> None:
    lines = _lines(out)
    kept = [line for number, line in enumerate(lines) if number != 4 and (number < 4 or json.loads(line)["kind"] != "checkpoint")]
    _write(out, _rechained(kept))
    shutil.rmtree(out / "reports/cam1-0002")
    refresh(out, identities.seal)  # an index that agrees with the rewritten ledger
    reasons = _ledger_reasons(out, identities)
    assert reasons == [
        "not sealed yet: ledger entries 5 (report reports/cam1-0003) follow the last checkpoint; if you wrote them (a "
        f"review, an interrupted batch) seal them with `auditor ledger seal {out}`, otherwise entries were removed and "
        "the checkpoints after them cut off"
    ]


@pytest.fixture
def reviewed(tmp_path: Path, identities: Identities) -> tuple[Path, Path]:
    """A sealed batch of one templated report, reviewed (the review registered, then sealed)."""
    form = templated_report(tmp_path / "form", identities.seal)
    out = sealed_batch(tmp_path / "reviewed", form, identities.seal, names=("cam1-0001",))
    folder = out / "reports/cam1-0001"
    sealed_size = (folder / "report.pdf").stat().st_size
    review_report(folder, identities.reviewer, REVIEW)
    assert write_checkpoint(out, identities.seal) is not None
    assert (folder / "report.pdf").stat().st_size > sealed_size
    return out, folder


def _erase_review(folder: Path, sealed_report_size: int) -> None:
    os.truncate(folder / "report.pdf", sealed_report_size)
    for name in ("review-1.json", "review-1.json.p7s"):
        (folder / name).unlink()


def _sealed_size(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    return next(entry["size"] for entry in manifest["files"] if entry["path"] == "report.pdf")


def test_a_review_erased_with_its_ledger_line(reviewed: tuple[Path, Path], identities: Identities) -> None:
    out, folder = reviewed
    assert _ledger_reasons(out, identities) == []
    assert _kinds(out) == ["scan", "checkpoint", "report", "checkpoint", "review", "checkpoint"]
    _erase_review(folder, _sealed_size(folder))
    lines = _lines(out)
    _write(out, _rechained([*lines[:4], lines[5]]))
    reasons = _ledger_reasons(out, identities)
    assert any(r.startswith("ledger entry 5 (checkpoint): it states 5 entries") and r.endswith("(missing: 1 review)") for r in reasons)


def test_a_review_erased_with_its_line_and_checkpoint(reviewed: tuple[Path, Path], identities: Identities) -> None:
    out, folder = reviewed
    _, head = last_checkpoint(out)
    _erase_review(folder, _sealed_size(folder))
    _write(out, _lines(out)[:4])
    reasons = _ledger_reasons(out, identities)
    assert len(reasons) == 1 and reasons[0].startswith("index.csv: the row of reports/cam1-0001 says 'reviewed by")
    sealed_at = VerifiedFolders(anchors(identities.seal)).get(folder).sealed_at  # the due time counts from the seal
    assert sealed_at is not None
    assert reasons[0].endswith(f"its verified reviews say 'awaiting review; due {sealed_at + timedelta(hours=24):%Y-%m-%d %H:%M} UTC'")
    refresh(out, identities.seal)  # the index rewritten too: only the head kept elsewhere shows it
    assert _ledger_reasons(out, identities) == []
    assert _ledger_reasons(out, identities, head=head)[0].startswith(f"the checkpoint {head[:16]}… kept elsewhere is not in this ledger")


def test_a_review_through_the_cli_with_the_seal_at_hand_is_sealed_at_once(tmp_path: Path, identities: Identities) -> None:
    form = templated_report(tmp_path / "form", identities.seal)
    out = sealed_batch(tmp_path / "batch", form, identities.seal, names=("cam1-0001",))
    folder = out / "reports/cam1-0001"
    env = {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    run = run_cli("review", str(folder), "--as", str(identities.seal_dir.parent / "reviewer"), "--decision", "confirm",
                  "--reason", REVIEW.reasons, "--keys", str(identities.seal_dir), env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"{out}: ledger sealed (checkpoint: entry 6)"
    assert _kinds(out)[-2:] == ["review", "checkpoint"]
    assert _ledger_reasons(out, identities) == []


def test_an_extended_batch_verifies_valid_in_2040_its_checkpoints_included(tmp_path: Path, local_pki: LocalPki) -> None:
    """Issue 22: `archive extend` (document timestamps, then an archive timestamp of the ledger by
    the 30-year TSA) carries the whole batch past its seal's end (2 years) and its first TSA's
    (3 years): in 2040 the ledger, its checkpoint and every registered file verify, offline."""
    import_identity(local_pki.identity_files("seal", tmp_path / "src"), tmp_path / "keys", PASSPHRASE)
    seal = load_identity(tmp_path / "keys", PASSPHRASE)
    report = build_report(tmp_path / "sealed", identity=seal)
    sign_report_folder(report, seal, tsa_url=local_pki.tsa_url)
    out = sealed_batch(tmp_path / "out", report, seal, names=("cam1-0001",))
    trust = load_trust(local_pki.trust_file)
    extend_archive(out, local_pki.long_tsa_url, ExtensionTrust(trust.certs, trust.crls))
    run = subprocess.run(
        ["faketime", "2040-01-01 12:00:00", sys.executable, "-m", "auditor", "verify", str(out), "--trust",
         str(local_pki.trust_file)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"VALID      {out / LEDGER_NAME}" in run.stdout
    assert "(checkpoint): valid as of " in run.stdout and "when the archive timestamp after it proves it existed" in run.stdout
    assert run.stdout.count("when the archive timestamp at ledger entry") == 3  # report.html, evidence.json, manifest.json


def test_a_review_takes_the_tsa_and_the_witness_from_the_profile(
    tmp_path: Path, identities: Identities, local_pki: LocalPki
) -> None:
    """The profile's machine settings reach `auditor review`: its signature and the checkpoint it
    writes carry the profile's TSA's timestamp, and the witness folder receives the checkpoint."""
    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader

    form = templated_report(tmp_path / "form", identities.seal)
    out = sealed_batch(tmp_path / "batch", form, identities.seal, names=("cam1-0001",))
    folder = out / "reports/cam1-0001"
    profile = tmp_path / "profile.toml"
    profile.write_text(f'tsa_url = "{local_pki.tsa_url}"\nwitness_dir = "witness"\n', encoding="utf-8")
    env = {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE, "AUDITOR_REVIEWER_PASSPHRASE": PASSPHRASE}
    env.pop("AUDITOR_TSA_URL", None)
    run = run_cli("review", str(folder), "--as", str(identities.seal_dir.parent / "reviewer"), "--decision", "confirm",
                  "--reason", REVIEW.reasons, "--keys", str(identities.seal_dir), "--profile", str(profile), env=env)
    assert run.returncode == 0, run.stderr
    with (folder / "report.pdf").open("rb") as handle:
        review_signature = PdfFileReader(handle).embedded_signatures[-1]
        assert _timestamped(review_signature.signer_info)
    checkpoint = LedgerEntry.model_validate_json(_lines(out)[-1])
    assert checkpoint.kind == "checkpoint"
    witnessed = list((tmp_path / "witness").rglob("*.json"))
    assert [path.read_bytes() for path in witnessed] == [_lines(out)[-1] + b"\n"]
    signed = cms.ContentInfo.load(base64.b64decode(str(checkpoint.facts["signature"])))["content"]
    assert _timestamped(signed["signer_infos"][0])


def _timestamped(signer_info: object) -> bool:
    """Whether a CMS signer info carries a signature timestamp token."""
    attributes = signer_info["unsigned_attrs"]  # type: ignore[index]
    return "signature_time_stamp_token" in [attribute["type"].native for attribute in attributes]
