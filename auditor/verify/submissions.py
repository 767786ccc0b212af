"""Verify the submissions of the person concerned and their answers, beside a report
(`auditor submission` writes them): each entry signed by the report's own seal (the certificate
its evidence record names; a reviewer's or any other key may not log or answer a submission),
bound to its report, its attachments and, for an answer, its submission unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from auditor.errors import ArchiveError, first_problem
from auditor.files import sha256_bytes
from auditor.names import ATTACHMENTS_DIR, RECORD_NAME, SUBMISSIONS_DIR, attachment_name, entry_name
from auditor.review.submission_records import (
    MAX_ENTRY_BYTES,
    MAX_RECORD_BYTES,
    AnswerRecord,
    Attachment,
    SubmissionEntry,
    SubmissionRecord,
    entry_numbers,
    is_regular,
    load_entry,
    read_capped,
    read_entry,
    report_binding,
    sha256_capped,
)
from auditor.verify.detached import check_detached
from auditor.verify.status import FileVerdict
from auditor.verify.trust import TrustAnchors


def trusted_submissions(folder: Path, anchors: TrustAnchors) -> tuple[list[SubmissionEntry], list[FileVerdict]]:
    """The entries of `folder` whose submission passes `check_submissions` (with its answer when
    that passes too), and the verdicts of the entries left out."""
    verdicts = check_submissions(folder, anchors)
    valid = {Path(v.path).name for v in verdicts if v.status == "valid"}
    area = Path(folder) / SUBMISSIONS_DIR
    entries = []
    for number in sorted(entry_numbers(area, "submission")):
        if entry_name("submission", number) in valid:
            submission = load_entry(area / entry_name("submission", number), SubmissionRecord, number)
            answered = entry_name("answer", number) in valid
            answer = load_entry(area / entry_name("answer", number), AnswerRecord, number) if answered else None
            entries.append(SubmissionEntry(submission, answer))
    return entries, [v for v in verdicts if v.status != "valid"]

def check_submissions(folder: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """A verdict on each `submission-N.json` and `answer-N.json` of `folder`: signed (its `.p7s`
    verifies under `anchors`, by a signer that may sign), of the right shape, bound to the
    folder's evidence.json, its attachments or its submission unchanged. Empty without entries."""
    folder = Path(folder)
    area = folder / SUBMISSIONS_DIR
    if not area.is_dir():
        return []
    binding = _folder_binding(folder)
    seal = _seal_certificate(folder)
    verdicts = []
    for number in sorted(entry_numbers(area, "submission") | entry_numbers(area, "answer")):
        for kind in ("submission", "answer"):
            path = area / entry_name(kind, number)
            if os.path.lexists(path):
                verdict, data = check_detached(path, anchors, MAX_ENTRY_BYTES)
                problems = [] if data is None else _entry_problems(area, kind, number, data, binding)
                verdicts.append(verdict.with_problems(problems + _signer_problems(verdict, seal)))
    return verdicts

def _seal_certificate(folder: Path) -> str | None:
    """The SHA-256 of the seal certificate the folder's evidence record names, if it can be read."""
    try:
        value = json.loads(read_capped(folder / RECORD_NAME, MAX_RECORD_BYTES, "evidence record"))["seal"]["certificate_sha256"]
    except (ArchiveError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _signer_problems(verdict: FileVerdict, seal: str | None) -> list[str]:
    if not verdict.signatures or verdict.status == "invalid":
        return []
    signer = verdict.signatures[0]
    if seal is None:
        return [f"{Path(verdict.path).name}: the report's evidence record names no seal, so its signer cannot be checked"]
    if signer.certificate_sha256 != seal:
        return [
            f"{Path(verdict.path).name} is signed by {signer.signer}, not by the report's seal: only the seal "
            "logs and answers the person's submissions"
        ]
    return []


def _folder_binding(folder: Path) -> tuple[str, str] | str:
    """(report id, record SHA-256) of `folder`, or why the entries cannot be bound to it."""
    try:
        return report_binding(folder)
    except ArchiveError as exc:
        return f"cannot bind the entry to its report: {exc}"

def _entry_problems(area: Path, kind: str, number: int, data: bytes, binding: tuple[str, str] | str) -> list[str]:
    name = entry_name(kind, number)
    model: type[SubmissionRecord | AnswerRecord] = SubmissionRecord if kind == "submission" else AnswerRecord
    try:
        record = model.model_validate_json(data)
    except ValidationError as exc:
        return [f"{name} is not a {model.__name__}: {first_problem(exc, 'the file')}"]
    problems = []
    if record.number != number:
        problems.append(f"{name} says it is number {record.number}: it was renamed or copied from another entry")
    if isinstance(binding, str):
        problems.append(f"{name}: {binding}")
    elif (record.report_id, record.record_sha256) != binding:
        problems.append(f"{name} belongs to another report (report id {record.report_id[:64]!r}, or another evidence.json)")
    if isinstance(record, SubmissionRecord):
        problems += [p for a in record.attachments if (p := _attachment_problem(area, number, a))]
    else:
        problems += _answer_problems(area, record)
    return problems

def _attachment_problem(area: Path, number: int, attachment: Attachment) -> str | None:
    name = f"{ATTACHMENTS_DIR}/{attachment_name(number, attachment.name)}"
    path = area / ATTACHMENTS_DIR / attachment_name(number, attachment.name)
    if not is_regular(path):
        return f"attachment {name} of submission {number} is missing (or not a regular file)"
    if path.stat().st_size != attachment.size:
        return f"attachment {name} of submission {number} was altered (its size differs)"
    if sha256_capped(path) != attachment.sha256:
        return f"attachment {name} of submission {number} was altered (its SHA-256 differs)"
    return None

def _answer_problems(area: Path, answer: AnswerRecord) -> list[str]:
    source = area / entry_name("submission", answer.number)
    if not is_regular(source):
        return [f"{entry_name('answer', answer.number)} answers submission {answer.number}, which is missing"]
    try:
        data = read_entry(source)
    except ArchiveError as exc:
        return [f"{entry_name('answer', answer.number)}: {exc}"]
    if sha256_bytes(data) != answer.submission_sha256:
        return [f"{entry_name('answer', answer.number)} answers another text than {entry_name('submission', answer.number)} holds"]
    return []
