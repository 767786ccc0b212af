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
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from auditor.errors import ArchiveError
from auditor.evidence import Submission
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.keys import SigningIdentity
from auditor.names import ATTACHMENTS_DIR, RECORD_NAME, SUBMISSIONS_DIR, attachment_name, entry_name
from auditor.review.submission_records import (
    EXCERPT_CHARS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_SENDER_CHARS,
    MAX_SUBMISSIONS,
    MAX_TEXT_CHARS,
    MAX_TEXT_FILE_BYTES,
    AnswerRecord,
    Attachment,
    SubmissionEntry,
    SubmissionRecord,
    entry_numbers,
    is_regular,
    parse_entry,
    read_capped,
    read_entry,
    report_binding,
)
from auditor.signing.seal import sign_detached


def log_submission(
    folder: Path, sender: str, text: str, attachments: list[Path], identity: SigningIdentity, *, tsa_url: str | None = None
) -> Path:
    """Log what `sender` submitted about the report in `folder`, with copies of `attachments`,
    signed with `identity` (timestamped by `tsa_url`, if given); return the path of the new
    `submission-N.json`."""
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
            return _publish(area, entry_name("submission", number), record, identity, tsa_url)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise


def log_answer(folder: Path, number: int, text: str, identity: SigningIdentity, *, tsa_url: str | None = None) -> Path:
    """Log the answer to submission `number` of the report in `folder`, signed with `identity`
    (timestamped by `tsa_url`, if given); return the path of `answer-N.json`. An unknown submission, or one answered already, is refused."""
    folder = Path(folder)
    report_id, record_sha256 = report_binding(folder)
    text = _checked_text(text, "the answer")
    identity.check_usable()
    with _locked_area(folder) as area:
        source = area / entry_name("submission", number)
        if not source.is_file():
            known = ", ".join(map(str, sorted(entry_numbers(area, "submission")))) or "none"
            raise ArchiveError(f"there is no submission {number} in {area} (submissions: {known}): give its number")
        if os.path.lexists(area / entry_name("answer", number)):
            raise ArchiveError(f"submission {number} is answered already ({area / entry_name('answer', number)}); an answer is never replaced")
        data = read_entry(source)
        submission = parse_entry(data, SubmissionRecord, source)
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
        return _publish(area, entry_name("answer", number), record, identity, tsa_url)


def read_text_file(path: Path) -> str:
    """The UTF-8 text of `path` (a submission or an answer), refused unread when too large."""
    data = read_capped(Path(path), MAX_TEXT_FILE_BYTES, "text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8") from exc


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
    data = read_capped(source, MAX_ATTACHMENT_BYTES, "attachment")
    target = area / ATTACHMENTS_DIR / attachment_name(number, name)
    target.parent.mkdir(exist_ok=True)
    written.append(atomic_write_bytes(target, data))
    return Attachment(name=name, size=len(data), sha256=sha256_bytes(data))


def _publish(area: Path, name: str, record: BaseModel, identity: SigningIdentity, tsa_url: str | None) -> Path:
    """Write `area/name` and its signature: signed in a staging folder, the signature moved in first."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=area))
    try:
        staged = staging / name
        staged.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
        signature = sign_detached(staged, identity, tsa_url=tsa_url)
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
