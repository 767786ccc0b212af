"""The entries of the submissions area beside a report (see `auditor.review.submissions`): their
records, their limits, and reading them back bounded."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import ArchiveError, first_problem
from auditor.files import sha256_bytes
from auditor.names import (
    ATTACHMENTS_DIR,
    MAX_RECORD_BYTES,
    RECORD_NAME,
    SIGNATURE_SUFFIX,
    SUBMISSIONS_DIR,
    Sha256,
    attachment_name,
    entry_name,
)

SUBMISSION_FORMAT: Final = "auditor-submission/1"
ANSWER_FORMAT: Final = "auditor-submission-answer/1"
MAX_TEXT_CHARS: Final = 20_000  # of a submission's or an answer's text
MAX_TEXT_FILE_BYTES: Final = 4 * MAX_TEXT_CHARS  # a text file, read as UTF-8
MAX_SENDER_CHARS: Final = 200
MAX_ATTACHMENTS: Final = 20  # per submission
MAX_ATTACHMENT_BYTES: Final = 50 * 1024 * 1024
MAX_SUBMISSIONS: Final = 999
MAX_ENTRY_BYTES: Final = 1024 * 1024  # one entry's JSON
MAX_AREA_FILES: Final = 4 * MAX_SUBMISSIONS + 4  # names listed in submissions/ before giving up
EXCERPT_CHARS: Final = 500  # of a text, in the report's redress section
SAFE_NAME: Final = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
_ENTRY = re.compile(r"^(submission|answer)-([1-9][0-9]{0,2})\.json$")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str = Field(max_length=256)
    record_sha256: Sha256
    number: int = Field(ge=1, le=MAX_SUBMISSIONS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class Attachment(BaseModel):
    """A file that came with a submission, stored as `attachments/<number>-<name>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=SAFE_NAME)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    sha256: Sha256


class SubmissionRecord(_Entry):
    """`submission-N.json`: what the person concerned submitted about the report."""

    format: Literal["auditor-submission/1"] = SUBMISSION_FORMAT
    received_at: datetime
    sender: str = Field(min_length=1, max_length=MAX_SENDER_CHARS)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class AnswerRecord(_Entry):
    """`answer-N.json`: the answer to submission N, naming that submission's exact bytes."""

    format: Literal["auditor-submission-answer/1"] = ANSWER_FORMAT
    submission_sha256: Sha256
    answered_at: datetime


E = TypeVar("E", bound=_Entry)


@dataclass(frozen=True)
class SubmissionEntry:
    """One submission and its answer, if any."""

    submission: SubmissionRecord
    answer: AnswerRecord | None


def read_submissions(folder: Path) -> list[SubmissionEntry]:
    """Every submission of the report in `folder` with its answer, by number; an entry whose JSON
    is not of the right shape raises `ArchiveError` naming it (signatures: `check_submissions`)."""
    area = Path(folder) / SUBMISSIONS_DIR
    numbers = sorted(entry_numbers(area, "submission"))
    orphans = entry_numbers(area, "answer") - set(numbers)
    if orphans:
        raise ArchiveError(f"{area} holds {entry_name('answer', min(orphans))} without its submission: restore it, or check with `auditor verify`")
    return [_read_entry_pair(area, number) for number in numbers]


def _read_entry_pair(area: Path, number: int) -> SubmissionEntry:
    submission = load_entry(area / entry_name("submission", number), SubmissionRecord, number)
    answer_path = area / entry_name("answer", number)
    answer = load_entry(answer_path, AnswerRecord, number) if os.path.lexists(answer_path) else None
    return SubmissionEntry(submission, answer)


def load_entry(path: Path, model: type[E], number: int) -> E:
    record = parse_entry(read_entry(path), model, path)
    if record.number != number:
        raise ArchiveError(f"{path} says it is number {record.number}: the file was renamed; restore it")
    return record


def parse_entry(data: bytes, model: type[E], path: Path) -> E:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise ArchiveError(f"{path} is not a {model.__name__} ({first_problem(exc, 'the file')}); restore it") from exc


def submission_files(folder: Path) -> set[str]:
    """Relative (POSIX) paths of the files the submissions area of `folder` rightly holds: each
    entry's JSON and signature, and the attachments its submission (when readable) names."""
    folder = Path(folder)
    area = folder / SUBMISSIONS_DIR
    found: set[str] = set()
    for kind in ("submission", "answer"):
        for number in entry_numbers(area, kind):
            for name in (entry_name(kind, number), entry_name(kind, number) + SIGNATURE_SUFFIX):
                if is_regular(area / name):
                    found.add(f"{SUBMISSIONS_DIR}/{name}")
            if kind == "submission":
                found |= {f"{SUBMISSIONS_DIR}/{ATTACHMENTS_DIR}/{n}" for n in _attachment_names(area, number)}
    return found


def _attachment_names(area: Path, number: int) -> set[str]:
    try:
        record = load_entry(area / entry_name("submission", number), SubmissionRecord, number)
    except ArchiveError:
        return set()
    names = {attachment_name(number, a.name) for a in record.attachments}
    return {n for n in names if is_regular(area / ATTACHMENTS_DIR / n)}


def entry_numbers(area: Path, kind: str) -> set[int]:
    """The numbers N of the `kind-N.json` names in `area` (a bounded listing)."""
    numbers: set[int] = set()
    try:
        with os.scandir(area) as listing:
            for count, item in enumerate(listing):
                if count >= MAX_AREA_FILES:
                    raise ArchiveError(f"{area} holds more than {MAX_AREA_FILES} files: not a submissions folder; clean it up")
                match = _ENTRY.match(item.name)
                if match and match.group(1) == kind:
                    numbers.add(int(match.group(2)))
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except OSError as exc:
        raise ArchiveError(f"cannot list {area}: {exc.strerror or exc}") from exc
    return numbers


def is_regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def read_entry(path: Path) -> bytes:
    return read_capped(path, MAX_ENTRY_BYTES, "submissions entry")


def read_capped(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file `path`, refused unread above `limit`."""
    try:
        if path.is_symlink() or not path.is_file():
            raise ArchiveError(f"{path} is missing or not a regular file: give the {what} itself")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise ArchiveError(f"{path} is larger than the {limit} bytes a {what} may have: refused")
    return data


def sha256_capped(path: Path) -> str | None:
    try:
        return sha256_bytes(read_capped(path, MAX_ATTACHMENT_BYTES, "attachment"))
    except ArchiveError:
        return None


def _record_report_id(data: bytes) -> str | None:
    try:
        report_id = json.loads(data)["report"]["report_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return report_id if isinstance(report_id, str) else None


def report_binding(folder: Path) -> tuple[str, str]:
    """The report id and the SHA-256 of `folder/evidence.json`."""
    data = read_capped(folder / RECORD_NAME, MAX_RECORD_BYTES, "evidence record")
    report_id = _record_report_id(data)
    if report_id is None:
        raise ArchiveError(f"{folder / RECORD_NAME} names no report id: give the folder of a sealed report")
    return report_id, sha256_bytes(data)
