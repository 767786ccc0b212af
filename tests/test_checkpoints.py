"""Sealed ledger checkpoints, archive timestamps, the index as evidence, witness folders, and
what a standalone report folder cannot prove (issue 22 items 1, 2, 6)."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities
from fixtures.sealed_batch import anchors, sealed_batch
from pki import LocalPki

from auditor.archive import Ledger
from auditor.archive.chain import LEDGER_NAME, LedgerEntry
from auditor.archive.checkpoint import (
    LedgerState,
    SealFacts,
    last_checkpoint,
    state_of,
    timestamp_ledger,
    write_checkpoint,
)
from auditor.errors import ArchiveError
from auditor.files import sha256_bytes
from auditor.signing.seal import sign_bytes
from auditor.verify import TrustAnchors, verify_paths
from auditor.verify.archive import verify_archive
from auditor.verify.detached import check_signature_bytes
from auditor.verify.status import Findings

MAX_CHECKPOINT_LINE = 8_000  # bytes: a checkpoint with the seal's certificate, no timestamp


@pytest.fixture
def out(tmp_path: Path, sealed_report: Path, identities: Identities) -> Path:
    return sealed_batch(tmp_path / "out", sealed_report, identities.seal, names=("cam1-0001", "cam1-0002"))


def _lines(out: Path) -> list[bytes]:
    return (out / LEDGER_NAME).read_bytes().splitlines()


def _reasons(out: Path, trusted: TrustAnchors, **options: object) -> list[str]:
    return [r for v in verify_archive(out, trusted, **options) for r in v.reasons]  # type: ignore[arg-type]


def _env() -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


def test_a_checkpoint_states_the_ledger_before_it_and_the_seal_signs_that(out: Path, identities: Identities) -> None:
    lines = _lines(out)
    entry = LedgerEntry.model_validate_json(lines[-1])
    facts = SealFacts.model_validate(entry.facts)
    before = [LedgerEntry.model_validate_json(line) for line in lines[:-1]]
    assert facts.state == state_of(before, sha256_bytes(lines[-2]))
    assert facts.state.entries == 5 and facts.state.kinds["report"] == 2 and facts.state.kinds["checkpoint"] == 2
    assert entry.kind == "checkpoint" and entry.path == LEDGER_NAME and entry.files == {}
    assert len(lines[-1]) < MAX_CHECKPOINT_LINE
    found = Findings()
    summary = check_signature_bytes(facts.state.signed_bytes(), base64.b64decode(facts.signature or ""), "cp", anchors(identities.seal), found)
    assert found.invalid == [] and summary[0].signer == "O=Test Org,CN=Test seal"
    other = LedgerState(entries=facts.state.entries + 1, head=facts.state.head, kinds=facts.state.kinds)
    check_signature_bytes(other.signed_bytes(), base64.b64decode(facts.signature or ""), "cp", anchors(identities.seal), found)
    assert found.invalid  # the signature is over the statement, not any statement
    assert write_checkpoint(out, identities.seal) is None  # nothing new since the last one
    assert len(_lines(out)) == len(lines)


def test_ledger_head_prints_the_last_checkpoint_and_seal_seals_an_old_folder(
    tmp_path: Path, sealed_report: Path, identities: Identities, trust: Path
) -> None:
    old = tmp_path / "old"  # a batch folder written before checkpoints
    ledger = Ledger(old)
    folder = shutil.copytree(sealed_report, old / "reports" / "r1")
    ledger.append("report", "01", folder, {"row": json.loads(json.dumps(_row_of("r1")))})
    from fixtures.sealed_batch import refresh

    refresh(old, identities.seal)
    run = run_cli("verify", str(old), "--trust", str(trust))
    assert run.returncode == 1
    assert run.stderr.startswith(
        "auditor: verify: no sealed checkpoint: nothing proves that entries were not removed (a folder written before "
        f"checkpoints, or its checkpoints were cut off); if it is yours and intact, seal it with `auditor ledger seal {old}`"
    )
    head = run_cli("ledger", "head", str(old))
    assert head.returncode == 7 and head.stderr == (
        f"auditor: error: {old} holds no sealed checkpoint; seal it with `auditor ledger seal {old}`\n"
    )
    sealed = run_cli("ledger", "seal", str(old), "--keys", str(identities.seal_dir), env=_env())
    assert sealed.stdout.splitlines() == [
        f"sealed 1 ledger entries of {old} (checkpoint: entry 2)",
        f"newly sealed: 1 (report reports/r1); if you did not write them, run `auditor verify {old}`",
    ], sealed.stderr
    head = run_cli("ledger", "head", str(old))
    assert head.stdout == sha256_bytes(_lines(old)[1]) + "\n"
    assert run_cli("verify", str(old), "--trust", str(trust), "--head", head.stdout.strip()).returncode == 0
    again = run_cli("ledger", "seal", str(old), "--keys", str(identities.seal_dir), env=_env())
    assert again.stdout == "nothing to seal: the last ledger entry is a checkpoint already\n"


def _row_of(name: str) -> dict[str, object]:
    from fixtures.sealed_batch import row

    return row(name, 1).model_dump(mode="json")


def _resign(out: Path, signer: object) -> None:
    """Replace the last checkpoint's signature with one by `signer` over the same statement."""
    lines = _lines(out)
    entry = json.loads(lines[-1])
    state = LedgerState.model_validate(entry["facts"]["state"])
    entry["facts"]["signature"] = base64.b64encode(sign_bytes(state.signed_bytes(), signer)).decode()  # type: ignore[arg-type]
    (out / LEDGER_NAME).write_bytes(b"".join(line + b"\n" for line in [*lines[:-1], json.dumps(entry).encode()]))


def test_a_checkpoint_by_a_key_outside_the_trusted_root_fails(out: Path, identities: Identities, trust: Path) -> None:
    _resign(out, identities.stranger)
    run = run_cli("verify", str(out), "--trust", str(trust))
    assert run.returncode == 1, run.stdout  # the reports verify under the root: the ledger was sealed by someone else
    assert f"INVALID    {out / LEDGER_NAME}" in run.stdout
    assert "  - ledger entry 6 (checkpoint): signer O=Test Org,CN=Test seal does not chain to the trusted root" in run.stdout
    assert "while the reports are sealed under it: the ledger was sealed by someone else" in run.stdout
    assert run.stderr.startswith("auditor: verify: ledger entry 6 (checkpoint): signer O=Test Org,CN=Test seal does not")
    stranger = verify_archive(out, anchors(identities.stranger))  # under the stranger's root the reports are the foreign ones
    assert stranger[0].status == "valid" and {v.status for v in stranger if v.kind == "pdf"} == {"untrusted"}


def test_a_checkpoint_signed_by_a_reviewer_is_invalid(out: Path, identities: Identities) -> None:
    _resign(out, identities.reviewer)
    reasons = _reasons(out, anchors(identities.seal))
    assert any(r.startswith("ledger entry 6 (checkpoint): signed by a reviewer certificate") for r in reasons), reasons


def _rewrite_csv(out: Path, change) -> None:
    rows = list(csv.DictReader(io.StringIO((out / "index.csv").read_text())))
    rows = change(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "index.csv").write_text(buffer.getvalue())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: [*rows, {**rows[0], "detection_id": "f" * 16, "report": "reports/cam1-0099"}],
         "index.csv: fake row ffffffffffffffff: the ledger registers no report reports/cam1-0099"),
        (lambda rows: rows[1:], "index.csv: the row of reports/cam1-0001 is missing (the ledger registers it)"),
        (lambda rows: [{**rows[0], "review": "reviewed by Nobody"}, *rows[1:]],
         "index.csv: the row of reports/cam1-0001 says 'reviewed by Nobody'; its verified reviews say 'awaiting review'"),
        (lambda rows: [{**rows[0], "score": "0.1"}, *rows[1:]], "index.csv: the row of reports/cam1-0001 was changed (score)"),
        (lambda rows: [{**rows[0], "status": "failed"}, *rows[1:]],
         "index.csv: row 0000000000000001 says failed; the ledger registers its report reports/cam1-0001"),
    ],
    ids=["fake-row", "missing-row", "changed-review", "changed-score", "reported-as-failed"],
)
def test_a_tampered_index_is_named(out: Path, identities: Identities, change, expected: str) -> None:
    html = (out / "index.html").read_bytes()
    _rewrite_csv(out, change)
    reasons = _reasons(out, anchors(identities.seal))
    assert expected in reasons, reasons
    assert "index.html does not show the rows of index.csv (altered, or written apart from it)" in reasons
    assert (out / "index.html").read_bytes() == html


def test_index_html_alone_altered_and_the_cli_line(out: Path, identities: Identities, trust: Path) -> None:
    page = out / "index.html"
    page.write_text(page.read_text().replace("cam1.avi", "cam9.avi"))
    run = run_cli("verify", str(out), "--trust", str(trust))
    assert run.returncode == 1 and f"INVALID    {out / 'index.csv'}" in run.stdout
    assert "  - index.html does not show the rows of index.csv (altered, or written apart from it)" in run.stdout


def test_a_witness_folder_holds_every_checkpoint_and_shows_a_cut(
    tmp_path: Path, sealed_report: Path, identities: Identities
) -> None:
    out = sealed_batch(tmp_path / "out", sealed_report, identities.seal, names=("cam1-0001",))
    witness = tmp_path / "witness"
    from fixtures.sealed_batch import register

    register(out, out / "reports/cam1-0001", "cam1-0002", 2, identities.seal)
    Ledger(out).append("report", "03", shutil.copytree(sealed_report, out / "reports/cam1-0003"), {"row": _row_of("cam1-0003")})
    entry = write_checkpoint(out, identities.seal, witness=witness)
    assert entry is not None
    archive = witness / sha256_bytes(_lines(out)[0])
    assert sorted(p.name for p in archive.iterdir()) == [f"{entry.sequence:09d}.json"]
    assert (archive / f"{entry.sequence:09d}.json").read_bytes() == _lines(out)[-1] + b"\n"
    findings = [r for r in _reasons(out, anchors(identities.seal), witness=witness) if not r.startswith("index.csv")]
    assert findings == []
    (out / LEDGER_NAME).write_bytes(b"".join(line + b"\n" for line in _lines(out)[:-2]))
    shutil.rmtree(out / "reports/cam1-0003")
    reasons = _reasons(out, anchors(identities.seal), witness=witness)
    assert (
        f"the witness holds checkpoint {entry.sequence} of this archive, the ledger does not (it holds 6 entries): it was "
        "cut back or rewritten after that checkpoint"
    ) in reasons
    assert _reasons(out, anchors(identities.seal), witness=tmp_path / "elsewhere")[0].startswith(
        f"the witness folder {tmp_path / 'elsewhere'} holds no checkpoint of this archive"
    )


def test_an_archive_timestamp_needs_no_key_and_is_checked(out: Path, identities: Identities, local_pki: LocalPki) -> None:
    entry = timestamp_ledger(out, local_pki.tsa_url)
    assert entry.kind == "timestamp" and entry.sequence == len(_lines(out))
    tsa_root = x509.load_pem_x509_certificate(local_pki.tsa_root_file.read_bytes())
    trusted = TrustAnchors((identities.seal.root, tsa_root), "seal and TSA roots")
    verdict = verify_archive(out, trusted)[0]
    assert verdict.status == "valid", verdict.reasons
    assert any(note.startswith(f"ledger entry {entry.sequence} (archive timestamp): the ledger before it existed on") for note in verdict.notes)
    assert verify_archive(out, anchors(identities.seal))[0].reasons == [
        f"ledger entry {entry.sequence} (archive timestamp): the timestamp authority does not chain to the trusted roots"
    ]
    lines = _lines(out)
    forged = json.loads(lines[-1])
    forged["facts"]["state"]["entries"] = 99  # the token no longer matches what the entry states
    (out / LEDGER_NAME).write_bytes(b"".join(line + b"\n" for line in [*lines[:-1], json.dumps(forged).encode()]))
    reasons = _reasons(out, trusted)
    assert any(r.startswith(f"ledger entry {entry.sequence} (timestamp): it states 99 entries") for r in reasons), reasons
    assert f"ledger entry {entry.sequence} (archive timestamp): the token is altered or not over the ledger before it" in reasons


def test_an_unreachable_tsa_is_one_line_and_writes_nothing(out: Path) -> None:
    before = (out / LEDGER_NAME).read_bytes()
    with pytest.raises(ArchiveError, match=r"the timestamp authority http://127\.0\.0\.1:9/ .*check the URL"):
        timestamp_ledger(out, "http://127.0.0.1:9/")
    assert (out / LEDGER_NAME).read_bytes() == before


def test_archive_add_brings_a_standalone_report_under_the_ledger(
    out: Path, sealed_report: Path, identities: Identities, trust: Path
) -> None:
    alone = run_cli("verify", str(sealed_report), "--trust", str(trust))
    assert alone.returncode == 0
    assert "the completeness of its reviews cannot be proven outside an archive" in alone.stdout
    run = run_cli("archive", "add", str(sealed_report), "--to", str(out), "--trust", str(trust),
                  "--keys", str(identities.seal_dir), env=_env())
    assert run.returncode == 0, run.stderr
    entry, _ = last_checkpoint(out)
    added = LedgerEntry.model_validate_json(_lines(out)[entry.sequence - 2])
    assert added.kind == "report" and added.path.startswith("reports/added_")
    assert run.stdout.splitlines() == [
        f"added {sealed_report} to {out} as {added.path} (ledger entry {added.sequence})",
        f"ledger sealed (checkpoint: entry {entry.sequence})",
    ]
    checked = run_cli("verify", str(out), "--trust", str(trust))
    assert checked.returncode == 0, checked.stdout
    inside = verify_paths([out / added.path], trust)[0]
    assert inside.notes[-1] == f"the completeness of its reviews is proven by its batch folder's ledger: verify {out}"
    again = run_cli("archive", "add", str(sealed_report), "--to", str(out), "--trust", str(trust))
    assert again.returncode != 0 and again.stderr.count("\n") == 1 and "was added before" in again.stderr


def test_an_interrupted_batch_run_is_sealed_on_the_way_out(
    tmp_path: Path, sealed_report: Path, identities: Identities, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.batch import run
    from auditor.batch.executors import open_executor
    from auditor.batch.inputs import BatchInputs
    from auditor.batch.tasks import DetectorSpec
    from auditor.demo import demo_model_path
    from auditor.signing.seal import SealSettings

    def registers_then_interrupted(self: run._Coordinator, inputs: BatchInputs) -> None:
        folder = shutil.copytree(sealed_report, self.out / "reports" / "r1")
        self.ledger.append("report", "01", folder, {"row": _row_of("r1")})
        raise KeyboardInterrupt

    monkeypatch.setattr(run._Coordinator, "_run", registers_then_interrupted)
    out = tmp_path / "out"
    settings = run.BatchSettings(spec=DetectorSpec(str(demo_model_path()), None, None))
    with pytest.raises(KeyboardInterrupt):
        run.run_batch(BatchInputs(), out, settings, SealSettings(identities.seal), open_executor)
    assert [LedgerEntry.model_validate_json(line).kind for line in _lines(out)] == ["report", "checkpoint"]
    assert verify_archive(out, anchors(identities.seal))[0].reasons == []


def test_the_queue_and_its_index_refresh_drop_a_fake_reported_row(out: Path, identities: Identities) -> None:
    from fixtures.sealed_batch import refresh

    from auditor.desk.queue import review_queue
    from auditor.desk.reviews import VerifiedFolders

    _rewrite_csv(out, lambda rows: [*rows, {**rows[0], "detection_id": "f" * 16, "report": "reports/cam1-0099"}])
    assert _reasons(out, anchors(identities.seal))
    items = review_queue(out, VerifiedFolders(anchors(identities.seal)), datetime.now(UTC))
    assert sorted(item.folder.name for item in items) == ["cam1-0001", "cam1-0002"]
    refresh(out, identities.seal)
    assert "cam1-0099" not in (out / "index.csv").read_text()
    assert _reasons(out, anchors(identities.seal)) == []


def test_a_batch_that_registers_nothing_seals_an_empty_ledger_and_seal_makes_no_ledger(
    tmp_path: Path, identities: Identities
) -> None:
    from auditor.batch import run
    from auditor.batch.executors import open_executor
    from auditor.batch.inputs import BatchInputs
    from auditor.batch.tasks import DetectorSpec
    from auditor.demo import demo_model_path
    from auditor.signing.seal import SealSettings

    out = tmp_path / "out"
    settings = run.BatchSettings(spec=DetectorSpec(str(demo_model_path()), None, None))
    run.run_batch(BatchInputs(), out, settings, SealSettings(identities.seal), open_executor)
    entry = LedgerEntry.model_validate_json(_lines(out)[0])
    assert len(_lines(out)) == 1 and entry.kind == "checkpoint" and entry.facts["state"]["entries"] == 0  # type: ignore[index]
    assert [v.status for v in verify_archive(out, anchors(identities.seal))] == ["valid", "valid"]
    with pytest.raises(ArchiveError, match="holds no ledger.jsonl: give the --out folder of a batch"):
        write_checkpoint(tmp_path, identities.seal)
    assert not (tmp_path / LEDGER_NAME).exists()


def test_the_witness_folder_is_a_machine_setting_of_the_profile(tmp_path: Path) -> None:
    from auditor.errors import ReportError
    from auditor.profile import read_profile

    path = tmp_path / "profile.toml"
    path.write_text('witness_dir = "../witness"\ncontroller = "C"\n', encoding="utf-8")
    loaded = read_profile(path)
    assert loaded.witness_dir == (tmp_path.parent / "witness").resolve()
    assert "witness_dir" not in loaded.profile.model_dump()  # never part of a record
    path.write_text("witness_dir = 3\n", encoding="utf-8")
    with pytest.raises(ReportError, match="witness_dir must be a folder path in quotes"):
        read_profile(path)


def test_after_the_seal_expired_an_archive_timestamp_keeps_the_batch_valid(
    tmp_path: Path, identities: Identities, local_pki: LocalPki
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from fixtures.identities import signed_report

    from auditor.keys import load_identity
    from auditor.keys.imports import import_identity

    import_identity(local_pki.identity_files("seal", tmp_path / "sources"), tmp_path / "pki-seal", PASSPHRASE)
    seal = load_identity(tmp_path / "pki-seal", PASSPHRASE)
    report = signed_report(tmp_path / "report", seal)  # no timestamps: their proof of time comes from the ledger's
    out = sealed_batch(tmp_path / "out", report, seal, names=("cam1-0001",))
    roots = tuple(x509.load_pem_x509_certificate(local_pki.cert_pem(name)) for name in ("root", "tsa-root"))
    later = TrustAnchors(roots, "both roots", moment=local_pki.leaf_expiry + timedelta(days=30))
    checkpoint = f"ledger entry {len(_lines(out))} (checkpoint)"
    expired = verify_archive(out, later)
    assert expired[0].status == "untrusted" and expired[0].reasons[0].startswith(checkpoint), expired[0].reasons
    assert {v.status for v in expired[2:-1]} == {"untrusted"}  # the report's files: no proof of time, not invalid
    timestamp_ledger(out, local_pki.long_tsa_url)
    verdicts = verify_archive(out, later)
    assert [v.status for v in verdicts] == ["valid"] * len(verdicts), [v.reasons for v in verdicts]
    assert any(note.startswith(f"{checkpoint}: valid as of ") for note in verdicts[0].notes), verdicts[0].notes
    assert all(v.notes[-1].startswith("valid as of ") and "archive timestamp at ledger entry" in v.notes[-1] for v in verdicts[2:-1])
    assert [v.status for v in verify_archive(out, replace(later, moment=None))] == ["valid"] * len(verdicts)
