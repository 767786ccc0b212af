"""The ledger's entries and its chain as read from `OUT/ledger.jsonl` (see `auditor.archive.ledger`):
the entry model, the limits, and reading the chain bounded, naming the first broken entry."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import ArchiveError, first_problem
from auditor.files import sha256_bytes
from auditor.names import PATH_SEGMENT, RELATIVE_PATH_PATTERN, SHA256_PATTERN, Sha256

# A batch folder OUT: the ledger, the index (archive.index), and these folders.
LEDGER_NAME = "ledger.jsonl"
REPORTS_DIR, SCANS_DIR = "reports", "scans"  # registered report folders; each video's detections
STAGING_DIR, LOCK_NAME = ".staging", ".lock"  # unsigned folders of workers; held while a batch runs
LEDGER_FORMAT = "auditor-ledger/1"
GENESIS = "0" * 64  # `previous` of the first entry
KINDS = {"scan": SCANS_DIR, "report": REPORTS_DIR, "review": REPORTS_DIR, "submission": REPORTS_DIR, "extension": REPORTS_DIR}
AMENDMENTS = frozenset({"review", "submission", "extension"})  # kinds that amend an already registered report folder
SEALS = frozenset({"checkpoint", "timestamp"})  # kinds about the ledger itself (archive.checkpoint): no files
MiB = 1 << 20
MAX_LEDGER_BYTES = 64 * MiB
MAX_LINE_BYTES = 1 * MiB
MAX_ENTRY_FILES = 10_000  # files and folders below one registered folder


class LedgerEntry(BaseModel):
    """One line of the ledger: a scan file or a report folder, as it was registered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-ledger/1"]
    sequence: int = Field(ge=1)
    kind: Literal["scan", "report", "review", "submission", "extension", "checkpoint", "timestamp"]
    key: str = Field(pattern=r"^[0-9a-f]{1,128}$")  # unit-of-work key, unique per kind
    path: str = Field(pattern=rf"^((scans|reports)/{PATH_SEGMENT}|ledger\.jsonl)$")  # relative POSIX path inside OUT
    files: dict[str, str]  # path inside `path` (a folder) or the file's name (a file) -> SHA-256
    facts: dict[str, object]
    recorded_at: str  # UTC, ISO-8601
    previous: Sha256

    @field_validator("files")
    @classmethod
    def _files(cls, files: dict[str, str]) -> dict[str, str]:
        if len(files) > MAX_ENTRY_FILES:
            raise ValueError(f"more than {MAX_ENTRY_FILES} files")
        for name, digest in files.items():
            if len(name) > 1024 or not _matches(RELATIVE_PATH_PATTERN, name) or not _matches(SHA256_PATTERN, digest):
                raise ValueError(f"{name[:80]!r}: not a relative path with a SHA-256")
        return files

    @field_validator("recorded_at")
    @classmethod
    def _recorded_at(cls, text: str) -> str:
        when = dt.datetime.fromisoformat(text)
        if when.utcoffset() != dt.timedelta(0):
            raise ValueError("not a UTC time")
        return text

    @model_validator(mode="after")
    def _layout(self) -> LedgerEntry:
        if (self.kind in SEALS) != (self.path == LEDGER_NAME):
            raise ValueError(f"a {self.kind} entry has the path {LEDGER_NAME} exactly when it is about the ledger")
        if self.kind in SEALS:
            if self.files:
                raise ValueError(f"a {self.kind} entry registers no files")
            return self
        folder, name = self.path.split("/")
        if folder != KINDS[self.kind]:
            raise ValueError(f"a {self.kind} is registered under {KINDS[self.kind]}/, not {folder}/")
        if self.kind == "scan" and set(self.files) != {name}:
            raise ValueError("a scan entry registers exactly its one file, by its name")
        if self.kind in AMENDMENTS and not self.files:
            raise ValueError(f"a {self.kind} entry registers the files it adds or changes; it lists none")
        return self

    def line(self) -> bytes:
        """The entry as one canonical ledger line (ASCII, sorted keys, no newline)."""
        try:
            text = json.dumps(
                self.model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
            )
        except (TypeError, ValueError) as exc:
            raise ArchiveError(
                f"the facts of {self.path} cannot be recorded as JSON ({exc}); record plain values (str, numbers, "
                "lists, dicts)"
            ) from exc
        return text.encode("ascii")


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


@dataclass
class Chain:
    """What the ledger holds: every entry that could be read, in order (also those after a break,
    for naming what they register), and the first broken entry with why."""

    entries: list[LedgerEntry] = field(default_factory=list)
    lines: int = 0  # complete lines
    size: int = 0  # bytes
    head: str = GENESIS  # SHA-256 of the last complete line
    first: str = GENESIS  # SHA-256 of the first line: names the archive
    first_broken: int | None = None  # line number (= sequence of an intact entry)
    problem: str | None = None


def read_ledger_bytes(out: Path) -> bytes | None:
    """The ledger's bytes (None when there is none); ArchiveError when it is a link, special or too large."""
    path = Path(out) / LEDGER_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArchiveError(f"{LEDGER_NAME} cannot be read ({exc.strerror or exc}); it must be a regular file") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchiveError(f"{LEDGER_NAME} is not a regular file: refused")
        data = handle.read(MAX_LEDGER_BYTES + 1)
    if len(data) > MAX_LEDGER_BYTES:
        raise ArchiveError(f"{LEDGER_NAME} is larger than the {MAX_LEDGER_BYTES // MiB} MiB allowed: refused unread")
    return data


def read_chain(out: Path) -> Chain:
    """Read and check the ledger: each line an entry, numbered in order, linked to the line before,
    registering a key and a path once. Raises ArchiveError only when the file cannot be read."""
    data = read_ledger_bytes(out) or b""
    *lines, torn = data.split(b"\n")
    chain = Chain(lines=len(lines), size=len(data) - len(torn))
    parsed = [_parse(number, raw) for number, raw in enumerate(lines, 1)]
    chain.entries = [entry for entry, _ in parsed if entry is not None]
    hashes = [GENESIS, *map(sha256_bytes, lines)]
    chain.head, chain.first = hashes[-1], hashes[min(1, len(lines))]
    seen: dict[tuple[str, str], int] = {}
    for number, (entry, problem) in enumerate(parsed, 1):
        if entry is not None:
            problem = _link_problem(number, entry, parsed, hashes, seen)
        if problem:
            chain.first_broken, chain.problem = problem
            return chain
    if torn:
        chain.first_broken = len(lines) + 1
        chain.problem = (
            f"ledger entry {len(lines) + 1}: incomplete (an append was interrupted); "
            "running the batch again on this folder drops it"
        )
    return chain


def _parse(number: int, raw: bytes) -> tuple[LedgerEntry | None, tuple[int, str] | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, (number, f"ledger entry {number}: longer than {MAX_LINE_BYTES} bytes: refused unread")
    try:
        return LedgerEntry.model_validate_json(raw), None
    except ValidationError as exc:
        return None, (number, f"ledger entry {number}: not a ledger entry ({first_problem(exc, 'line')})")
    except (ValueError, RecursionError) as exc:
        return None, (number, f"ledger entry {number}: not a ledger entry ({type(exc).__name__})")


def _link_problem(
    number: int,
    entry: LedgerEntry,
    parsed: list[tuple[LedgerEntry | None, tuple[int, str] | None]],
    hashes: list[str],
    seen: dict[tuple[str, str], int],
) -> tuple[int, str] | None:
    """Why line `number` does not continue the chain: (the entry to name, the problem)."""
    where = f"ledger entry {number} ({entry.path})"
    if entry.sequence != number:
        return number, f"{where}: numbered {entry.sequence} at line {number}: entries were removed, inserted or reordered"
    if number == 1 and entry.previous != GENESIS:
        return number, f"{where}: does not start the chain (entries were removed before it, or it was altered)"
    if entry.previous != hashes[number - 1]:
        following = parsed[number][0] if number < len(parsed) else None
        if following is None or following.previous == hashes[number]:
            before = parsed[number - 2][0]
            label = f"ledger entry {number - 1} ({before.path})" if before else f"ledger entry {number - 1}"
            return number - 1, f"{label}: altered after it was recorded (entry {number} holds another SHA-256 for it)"
        return number, f"{where}: does not follow entry {number - 1} (altered, inserted, or entries were removed before it)"
    if entry.kind in AMENDMENTS and ("path", entry.path) not in seen:
        return number, f"{where}: amends a report folder that no earlier entry registers"
    own_path = entry.kind not in AMENDMENTS | SEALS
    markers = [((entry.kind, entry.key), "key")] + ([(("path", entry.path), "path")] if own_path else [])
    for marker, what in markers:
        if marker in seen:
            return number, f"{where}: registers the {what} of ledger entry {seen[marker]} again"
        seen[marker] = number
    return None
