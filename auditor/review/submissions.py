"""The person's point of view (GDPR Art. 22(3)): what the person concerned submitted about a
report, and the answer, as entries signed with the organisation seal beside the report.

```
<report>/submissions/
  submission-N.json (+ .p7s)   what person N-th submitted: sender, text, attachments' hashes
  answer-N.json (+ .p7s)       the answer to submission N (one at most)
  attachments/N-<name>         the files submission N came with
```

Each entry names the report (its id and the SHA-256 of its evidence.json); an answer also names
the exact submission it answers (its SHA-256). Entries are written under a lock on the folder,
each signature before its JSON, so that a reader sees an entry only when it is signed. The
sealed files and the signed manifest are not touched: `submission_files` says which files
beside them belong here, and `check_submissions` judges each entry.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import ArchiveError, first_problem
from auditor.evidence import Submission
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.keys import SigningIdentity
from auditor.report_folder import RECORD_NAME, SIGNATURE_SUFFIX
from auditor.signing import sign_detached

SUBMISSIONS_DIR: Final = "submissions"
ATTACHMENTS_DIR: Final = "attachments"
SUBMISSION_FORMAT: Final = "auditor-submission/1"
ANSWER_FORMAT: Final = "auditor-submission-answer/1"
MAX_TEXT_CHARS: Final = 20_000  # of a submission's or an answer's text
MAX_TEXT_FILE_BYTES: Final = 4 * MAX_TEXT_CHARS  # a text file, read as UTF-8
MAX_SENDER_CHARS: Final = 200
MAX_ATTACHMENTS: Final = 20  # per submission
MAX_ATTACHMENT_BYTES: Final = 50 * 1024 * 1024
MAX_SUBMISSIONS: Final = 999
MAX_ENTRY_BYTES: Final = 1024 * 1024  # one entry's JSON
MAX_RECORD_BYTES: Final = 64 * 1024 * 1024  # evidence.json, read to bind the entries to it
MAX_AREA_FILES: Final = 4 * MAX_SUBMISSIONS + 4  # names listed in submissions/ before giving up
EXCERPT_CHARS: Final = 500  # of a text, in the report's redress section
SHA256: Final = r"^[0-9a-f]{64}$"
SAFE_NAME: Final = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
_ENTRY = re.compile(r"^(submission|answer)-([1-9][0-9]{0,2})\.json$")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str = Field(max_length=256)
    record_sha256: str = Field(pattern=SHA256)
    number: int = Field(ge=1, le=MAX_SUBMISSIONS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class Attachment(BaseModel):
    """A file that came with a submission, stored as `attachments/<number>-<name>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=SAFE_NAME)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    sha256: str = Field(pattern=SHA256)


class SubmissionRecord(_Entry):
    """`submission-N.json`: what the person concerned submitted about the report."""

    format: Literal["auditor-submission/1"] = SUBMISSION_FORMAT
    received_at: datetime
    sender: str = Field(min_length=1, max_length=MAX_SENDER_CHARS)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class AnswerRecord(_Entry):
    """`answer-N.json`: the answer to submission N, naming that submission's exact bytes."""

    format: Literal["auditor-submission-answer/1"] = ANSWER_FORMAT
    submission_sha256: str = Field(pattern=SHA256)
    answered_at: datetime


E = TypeVar("E", bound=_Entry)


@dataclass(frozen=True)
class SubmissionEntry:
    """One submission and its answer, if any."""

    submission: SubmissionRecord
    answer: AnswerRecord | None


# --- writing -----------------------------------------------------------------------------------


def log_submission(
    folder: Path, sender: str, text: str, attachments: list[Path], identity: SigningIdentity
) -> Path:
    """Log what `sender` submitted about the report in `folder`, with copies of `attachments`,
    signed with `identity`; return the path of the new `submission-N.json`."""
    folder = Path(folder)
    report_id, record_sha256 = report_binding(folder)
    sender, text = _checked_sender(sender), _checked_text(text, "the submission")
    files = _checked_attachments(attachments)
    identity.check_usable()
    with _locked_area(folder) as area:
        number = max(entry_numbers(area, "submission"), default=0) + 1
        if number > MAX_SUBMISSIONS:
            raise ArchiveError(f"{area} already holds {MAX_SUBMISSIONS} submissions: start a new report folder")
        written: list[Path] = []
        try:
            entries = [_store_attachment(area, number, name, source, written) for name, source in files]
            record = SubmissionRecord(
                report_id=report_id,
                record_sha256=record_sha256,
                number=number,
                received_at=_now(),
                sender=sender,
                text=text,
                attachments=entries,
            )
            return _publish(area, f"submission-{number}.json", record, identity)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise


def log_answer(folder: Path, number: int, text: str, identity: SigningIdentity) -> Path:
    """Log the answer to submission `number` of the report in `folder`, signed with `identity`;
    return the path of `answer-N.json`. An unknown submission, or one answered already, is refused."""
    folder = Path(folder)
    report_id, record_sha256 = report_binding(folder)
    text = _checked_text(text, "the answer")
    identity.check_usable()
    with _locked_area(folder) as area:
        source = area / f"submission-{number}.json"
        if not source.is_file():
            known = ", ".join(map(str, sorted(entry_numbers(area, "submission")))) or "none"
            raise ArchiveError(f"there is no submission {number} in {area} (submissions: {known}): give its number")
        if os.path.lexists(area / f"answer-{number}.json"):
            raise ArchiveError(f"submission {number} is answered already ({area / f'answer-{number}.json'}); an answer is never replaced")
        data = read_entry(source)
        submission = _parse(data, SubmissionRecord, source)
        if (submission.report_id, submission.record_sha256) != (report_id, record_sha256):
            raise ArchiveError(f"{source} belongs to another report (or another evidence.json): check it with `auditor verify`")
        record = AnswerRecord(
            report_id=report_id,
            record_sha256=record_sha256,
            number=number,
            submission_sha256=sha256_bytes(data),
            answered_at=_now(),
            text=text,
        )
        return _publish(area, f"answer-{number}.json", record, identity)


def read_text_file(path: Path) -> str:
    """The UTF-8 text of `path` (a submission or an answer), refused unread when too large."""
    data = _read_capped(Path(path), MAX_TEXT_FILE_BYTES, "text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8") from exc


def report_binding(folder: Path) -> tuple[str, str]:
    """The report id and the SHA-256 of `folder/evidence.json`."""
    data = _read_capped(folder / RECORD_NAME, MAX_RECORD_BYTES, "evidence record")
    report_id = _record_report_id(data)
    if report_id is None:
        raise ArchiveError(f"{folder / RECORD_NAME} names no report id: give the folder of a sealed report")
    return report_id, sha256_bytes(data)


def _checked_sender(sender: str) -> str:
    sender = " ".join(sender.split())
    if not 1 <= len(sender) <= MAX_SENDER_CHARS:
        raise ArchiveError(f"--from must name the sender in 1 to {MAX_SENDER_CHARS} characters (a name or a reference)")
    return sender


def _checked_text(text: str, what: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ArchiveError(f"the text of {what} is empty: give a file holding what was written")
    if len(text) > MAX_TEXT_CHARS:
        raise ArchiveError(
            f"the text of {what} has {len(text)} characters, more than {MAX_TEXT_CHARS}: attach the long document "
            "with --attach and give a summary as the text"
        )
    return text


def _checked_attachments(paths: list[Path]) -> list[tuple[str, Path]]:
    """(stored name, source) of each attachment, checked before anything is written."""
    if len(paths) > MAX_ATTACHMENTS:
        raise ArchiveError(f"{len(paths)} attachments given; at most {MAX_ATTACHMENTS}: put them in one archive file")
    named: dict[str, Path] = {}
    for path in map(Path, paths):
        if not is_regular(path):
            raise ArchiveError(f"attachment {path} is not a regular file (or is a link): give the file itself")
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise ArchiveError(f"attachment {path} is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB: refused")
        name = safe_name(path.name)
        if name in named:
            raise ArchiveError(f"attachments {named[name]} and {path} would both be stored as {name}: rename one")
        named[name] = path
    return list(named.items())


def safe_name(name: str) -> str:
    """`name` as a file name the report folder accepts: ASCII letters, digits, ".", "_", "-"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).lstrip("._") or "attachment"
    stem, dot, suffix = cleaned.rpartition(".")
    if len(cleaned) > 100:
        cleaned = f"{stem[: 99 - len(suffix)]}.{suffix}" if dot and len(suffix) <= 10 else cleaned[:100]
    return cleaned


def _store_attachment(area: Path, number: int, name: str, source: Path, written: list[Path]) -> Attachment:
    data = _read_capped(source, MAX_ATTACHMENT_BYTES, "attachment")
    target = area / ATTACHMENTS_DIR / f"{number}-{name}"
    target.parent.mkdir(exist_ok=True)
    written.append(atomic_write_bytes(target, data))
    return Attachment(name=name, size=len(data), sha256=sha256_bytes(data))


def _publish(area: Path, name: str, record: BaseModel, identity: SigningIdentity) -> Path:
    """Write `area/name` and its signature: signed in a staging folder, the signature moved in first."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=area))
    try:
        staged = staging / name
        staged.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
        signature = sign_detached(staged, identity)
        os.replace(signature, area / signature.name)
        os.replace(staged, area / name)
    except OSError as exc:
        raise ArchiveError(f"could not write {area / name}: {exc.strerror or exc}; check free space and permissions") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return area / name


@contextmanager
def _locked_area(folder: Path) -> Iterator[Path]:
    """`folder/submissions`, created if needed, held under an exclusive lock (one writer at a time)."""
    if not folder.is_dir():
        raise ArchiveError(f"{folder} is not a report folder: give the folder that holds {RECORD_NAME}")
    area = folder / SUBMISSIONS_DIR
    try:
        area.mkdir(exist_ok=True)
        handle = os.open(area, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ArchiveError(f"cannot open {area}: {exc.strerror or exc}; check permissions") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield area
    finally:
        os.close(handle)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- reading -----------------------------------------------------------------------------------


def read_submissions(folder: Path) -> list[SubmissionEntry]:
    """Every submission of the report in `folder` with its answer, by number; an entry whose JSON
    is not of the right shape raises `ArchiveError` naming it (signatures: `check_submissions`)."""
    area = Path(folder) / SUBMISSIONS_DIR
    numbers = sorted(entry_numbers(area, "submission"))
    orphans = entry_numbers(area, "answer") - set(numbers)
    if orphans:
        raise ArchiveError(f"{area} holds answer-{min(orphans)}.json without its submission: restore it, or check with `auditor verify`")
    return [_read_entry_pair(area, number) for number in numbers]


def _read_entry_pair(area: Path, number: int) -> SubmissionEntry:
    submission = load_entry(area / f"submission-{number}.json", SubmissionRecord, number)
    answer_path = area / f"answer-{number}.json"
    answer = load_entry(answer_path, AnswerRecord, number) if os.path.lexists(answer_path) else None
    return SubmissionEntry(submission, answer)


def load_entry(path: Path, model: type[E], number: int) -> E:
    record = _parse(read_entry(path), model, path)
    if record.number != number:
        raise ArchiveError(f"{path} says it is number {record.number}: the file was renamed; restore it")
    return record


def _parse(data: bytes, model: type[E], path: Path) -> E:
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
            for name in (f"{kind}-{number}.json", f"{kind}-{number}.json{SIGNATURE_SUFFIX}"):
                if is_regular(area / name):
                    found.add(f"{SUBMISSIONS_DIR}/{name}")
            if kind == "submission":
                found |= {f"{SUBMISSIONS_DIR}/{ATTACHMENTS_DIR}/{n}" for n in _attachment_names(area, number)}
    return found


def _attachment_names(area: Path, number: int) -> set[str]:
    try:
        record = load_entry(area / f"submission-{number}.json", SubmissionRecord, number)
    except ArchiveError:
        return set()
    names = {f"{number}-{a.name}" for a in record.attachments}
    return {n for n in names if is_regular(area / ATTACHMENTS_DIR / n)}


def report_submission(entry: SubmissionEntry) -> Submission:
    """What the report's redress section shows of `entry`: sender, an excerpt, attachments, answer."""
    submission = entry.submission
    summary = f"From {submission.sender}: {excerpt(submission.text)}"
    if submission.attachments:
        names = ", ".join(a.name for a in submission.attachments[:5])
        more = f" and {len(submission.attachments) - 5} more" if len(submission.attachments) > 5 else ""
        summary += f" (attached: {names}{more})"
    answer = None
    if entry.answer is not None:
        answer = f"Answered {entry.answer.answered_at:%Y-%m-%d %H:%M} UTC: {excerpt(entry.answer.text)}"
    return Submission(received_at=submission.received_at, summary=summary, answer=answer)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line, cut after at most `limit` characters at a word's end, "…" when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut) + "…"


# --- files -------------------------------------------------------------------------------------


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
    return _read_capped(path, MAX_ENTRY_BYTES, "submissions entry")


def _read_capped(path: Path, limit: int, what: str) -> bytes:
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
        return sha256_bytes(_read_capped(path, MAX_ATTACHMENT_BYTES, "attachment"))
    except ArchiveError:
        return None


def _record_report_id(data: bytes) -> str | None:
    try:
        report_id = json.loads(data)["report"]["report_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return report_id if isinstance(report_id, str) else None
