"""The archive ledger: an append-only, hash-chained record of what a batch wrote into OUT.

`OUT/ledger.jsonl` holds one JSON object a line. Each entry registers one scan file
(`scans/<name>`) or one report folder (`reports/<name>`) with the SHA-256 of every file in it,
the facts the caller records, and the SHA-256 of the previous entry's line: altering, removing,
inserting or reordering an entry breaks the chain from there. A report folder that changes later
for a reason (a review signed into report.pdf with its review-N.json, a submission of the person
concerned) gets an amendment entry (kind "review" or "submission") for the same folder that
registers the new and changed files; a folder is checked against its entry and its amendments. Only the coordinating process
appends, one `write()` of one whole line under an exclusive lock, then `fsync`; an append killed
mid-write leaves a last line without its newline, which `drop_torn_tail` removes.

The chain is not signed: a ledger rewritten as a whole is consistent with itself. The SHA-256
of its last line (`Chain.head`) kept elsewhere shows that.

Bounded work: the ledger is refused unread above `MAX_LEDGER_BYTES`, a line above
`MAX_LINE_BYTES`, a registered folder above `MAX_ENTRY_FILES` entries.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import ArchiveError, first_problem
from auditor.files import sha256_bytes, sha256_file, walk_folder

LEDGER_NAME = "ledger.jsonl"
LEDGER_FORMAT = "auditor-ledger/1"
GENESIS = "0" * 64  # `previous` of the first entry
KINDS = {"scan": "scans", "report": "reports", "review": "reports", "submission": "reports"}  # kind -> folder of OUT
AMENDMENTS = frozenset({"review", "submission"})  # kinds that amend an already registered report folder
MiB = 1 << 20
MAX_LEDGER_BYTES = 64 * MiB
MAX_LINE_BYTES = 1 * MiB
MAX_ENTRY_FILES = 10_000  # files and folders below one registered folder

_NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}"  # no "..", no hidden names, no separators
_RELATIVE = rf"^{_NAME}(/{_NAME})*$"
_SHA256 = r"^[0-9a-f]{64}$"

log = logging.getLogger(__name__)


class LedgerEntry(BaseModel):
    """One line of the ledger: a scan file or a report folder, as it was registered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor-ledger/1"]
    sequence: int = Field(ge=1)
    kind: Literal["scan", "report", "review", "submission"]
    key: str = Field(pattern=r"^[0-9a-f]{1,128}$")  # unit-of-work key, unique per kind
    path: str = Field(pattern=rf"^(scans|reports)/{_NAME}$")  # relative POSIX path inside OUT
    files: dict[str, str]  # path inside `path` (a folder) or the file's name (a file) -> SHA-256
    facts: dict[str, object]
    recorded_at: str  # UTC, ISO-8601
    previous: str = Field(pattern=_SHA256)

    @field_validator("files")
    @classmethod
    def _files(cls, files: dict[str, str]) -> dict[str, str]:
        if len(files) > MAX_ENTRY_FILES:
            raise ValueError(f"more than {MAX_ENTRY_FILES} files")
        for name, digest in files.items():
            if len(name) > 1024 or not _matches(_RELATIVE, name) or not _matches(_SHA256, digest):
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
    first_broken: int | None = None  # line number (= sequence of an intact entry)
    problem: str | None = None


@dataclass
class LedgerCheck:
    """The result of `check_ledger`."""

    entries: int
    first_broken: int | None
    problem: str | None


class Ledger:
    """`OUT/ledger.jsonl`: read it, and append to it (the coordinating process only)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.path = self.out / LEDGER_NAME
        self._tail: Chain | None = None  # the chain as last read or written by this object
        self._taken: dict[tuple[str, ...], LedgerEntry] = {}  # (kind, key) and (path,) of its entries

    def entries(self) -> list[LedgerEntry]:
        """Every entry, checked: ArchiveError naming the first broken one."""
        chain = read_chain(self.out)
        if chain.problem:
            raise ArchiveError(f"{self.path}: {chain.problem}")
        return chain.entries

    def keys(self, kind: str) -> set[str]:
        """The keys registered for `kind` ("scan" or "report")."""
        return {entry.key for entry in self.entries() if entry.kind == kind}

    def append(
        self, kind: str, key: str, path: Path, facts: dict[str, object], only: Sequence[str] | None = None
    ) -> LedgerEntry:
        """Register `path` (a report folder under OUT/reports or a scan file under OUT/scans) with
        the SHA-256 of its files (with `only`: of those files inside the folder, for an amendment);
        one line written and synced. ArchiveError when the ledger is broken, the key or path is
        registered already (an amendment: when its folder is not), or `path` holds a link or special file."""
        relative = self._relative(path)
        target = self.out / relative
        files, refused = walk_registered(target, folder=kind != "scan")
        if only is not None:
            refused += [(name, f"{name}: not in {relative}") for name in only if name not in files]
            files = {name: digest for name, digest in files.items() if name in only}
        if refused:
            raise ArchiveError(f"cannot register {relative}: {refused[0][1]}; a registered {kind} holds regular files only")
        with self._locked() as (fd, created):
            chain = self._current(fd)
            line = self._entry(chain, kind, key, relative, files, facts).line() + b"\n"
            entry = LedgerEntry.model_validate_json(line)  # as it will be read back
            if len(line) > MAX_LINE_BYTES or chain.size + len(line) > MAX_LEDGER_BYTES:
                raise ArchiveError(f"{self.path} would grow past its limits; start a new output folder")
            _write_line(fd, line, chain.size, self.path)
            if created or chain.size == 0:
                _sync_folder(self.out)
            chain.entries.append(entry)
            chain.lines, chain.size, chain.head = chain.lines + 1, chain.size + len(line), sha256_bytes(line[:-1])
            self._take(entry)
        return entry

    def drop_torn_tail(self) -> bool:
        """Remove a last line without its newline (an append killed mid-write); whether one was."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ArchiveError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            start = max(0, size - MAX_LINE_BYTES - 1)
            tail = os.pread(fd, size - start, start)
            if not tail or tail.endswith(b"\n"):
                return False
            cut = tail.rfind(b"\n")
            if cut == -1 and start > 0:
                raise ArchiveError(f"{self.path}: its last line is longer than {MAX_LINE_BYTES} bytes; it is damaged")
            os.ftruncate(fd, start + cut + 1)
            os.fsync(fd)
            log.warning("%s: dropped an incomplete last line of %d bytes", self.path, size - start - cut - 1)
            self._tail = None
            return True
        finally:
            os.close(fd)

    def _relative(self, path: Path) -> str:
        """`path` as a POSIX path relative to OUT (`path` may also be given relative to OUT)."""
        path = Path(path)
        try:
            return path.absolute().relative_to(self.out.absolute()).as_posix()
        except ValueError:
            if path.is_absolute():
                raise ArchiveError(f"cannot register {path}: it is not inside {self.out}") from None
            return path.as_posix()

    def _entry(
        self, chain: Chain, kind: str, key: str, relative: str, files: dict[str, str], facts: dict[str, object]
    ) -> LedgerEntry:
        markers = [((kind, key), "key")] + ([] if kind in AMENDMENTS else [((relative,), "path")])
        for marker, what in markers:
            if (entry := self._taken.get(marker)) is not None:
                raise ArchiveError(
                    f"cannot register {relative}: ledger entry {entry.sequence} registers {entry.path} with this "
                    f"{what} already; a registered {kind} is never replaced"
                )
        if kind in AMENDMENTS and (relative,) not in self._taken:
            raise ArchiveError(f"cannot register a {kind} of {relative}: the ledger registers no report there")
        raw = {
            "format": LEDGER_FORMAT, "sequence": chain.lines + 1, "kind": kind, "key": key, "path": relative,
            "files": files, "facts": facts, "previous": chain.head,
            "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        }
        try:
            return LedgerEntry.model_validate(raw)
        except ValidationError as exc:
            raise ArchiveError(f"cannot register {relative}: {first_problem(exc, 'entry')}") from exc

    def _current(self, fd: int) -> Chain:
        """The chain as it is on disk (reread when the file changed since this object saw it)."""
        size = os.fstat(fd).st_size
        if self._tail is None or self._tail.size != size:
            chain = read_chain(self.out)
            if chain.problem:
                raise ArchiveError(f"{self.path}: {chain.problem}")
            self._tail, self._taken = chain, {}
            for entry in chain.entries:
                self._take(entry)
        return self._tail

    def _take(self, entry: LedgerEntry) -> None:
        self._taken[(entry.kind, entry.key)] = entry
        if entry.kind not in AMENDMENTS:
            self._taken[(entry.path,)] = entry

    @contextmanager
    def _locked(self) -> Iterator[tuple[int, bool]]:
        """The ledger opened for appending under an exclusive lock, and whether it was created."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
        try:
            try:
                fd, created = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                fd, created = os.open(self.path, flags), False
        except OSError as exc:
            raise ArchiveError(f"cannot open {self.path} for appending: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ArchiveError(f"{self.path} is not a regular file; remove it")
            yield fd, created
        finally:
            os.close(fd)


def _write_line(fd: int, line: bytes, size: int, path: Path) -> None:
    """One write of the whole line, then fsync; a short write is cut off again."""
    try:
        written = os.write(fd, line)
        if written != len(line):
            os.ftruncate(fd, size)
            raise OSError(errno.ENOSPC, "short write")
        os.fsync(fd)
    except OSError as exc:
        raise ArchiveError(f"could not append to {path}: {exc.strerror or exc}; check free space") from exc


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    chain.head = hashes[-1]
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
    markers = [((entry.kind, entry.key), "key")] + ([] if entry.kind in AMENDMENTS else [(("path", entry.path), "path")])
    for marker, what in markers:
        if marker in seen:
            return number, f"{where}: registers the {what} of ledger entry {seen[marker]} again"
        seen[marker] = number
    return None


def walk_registered(target: Path, *, folder: bool) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The SHA-256 of each regular file of `target` (a folder, recursively, or one file) by relative
    path, and what is refused (a missing target, links, special files) as (path, problem); a
    problem with `target` itself has the path "."."""
    what = "the folder" if folder else "the file"
    try:
        info = target.lstat()
    except OSError:
        return {}, [(".", f"{what} is missing")]
    if stat.S_ISLNK(info.st_mode):
        return {}, [(".", f"{what} is a symbolic link")]
    if not (stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)):
        return {}, [(".", f"{target.name} is not a {'folder' if folder else 'regular file'}")]
    if not folder:
        return {target.name: sha256_file(target)}, []
    return _walk_folder(target)


def _walk_folder(root: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    walk = walk_folder(root, MAX_ENTRY_FILES)
    refused = [(p or ".", f"{p or root.name} cannot be listed ({why})") for p, why in walk.unlisted]
    refused += [(p, f"{p}: a symbolic link") for p in walk.links]
    refused += [(p, f"{p}: not a regular file (device, pipe or socket)") for p in walk.special]
    if walk.too_many:
        return {}, [*refused, (".", f"{root.name} holds more than {MAX_ENTRY_FILES} entries: refused")]
    return {name: sha256_file(walk.files[name]) for name in sorted(walk.files)}, refused


def entry_problems(out: Path, entry: LedgerEntry, amendments: Sequence[LedgerEntry] = ()) -> list[tuple[str, str]]:
    """What no longer matches `entry` and its later `amendments` in OUT, as (path inside the entry,
    problem): files missing, altered or added (in a registered folder), links and special files.
    Each problem reads well after "ledger entry N (PATH): "."""
    files, problems = walk_registered(Path(out) / entry.path, folder=entry.kind != "scan")
    if any(path == "." for path, _ in problems):
        return problems
    expected = {name: (digest, entry.sequence) for name, digest in entry.files.items()}
    for amendment in amendments:
        expected.update({name: (digest, amendment.sequence) for name, digest in amendment.files.items()})
    for name, (digest, sequence) in expected.items():
        own = sequence == entry.sequence
        if name not in files:
            problems.append((name, f"{name}: missing ({'the entry' if own else f'entry {sequence}'} registers it)"))
        elif files[name] != digest:
            by = "" if own else f" entry {sequence}"
            problems.append((name, f"{name}: altered (its SHA-256 is not the one{by} registered)"))
    for name in sorted(files.keys() - expected.keys()):
        problems.append((name, f"{name}: not registered (added after the entry)"))
    return problems


def amendments_of(entries: Sequence[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    """The amendment entries of each registered folder path, in ledger order."""
    found: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.kind in AMENDMENTS:
            found.setdefault(entry.path, []).append(entry)
    return found


def check_ledger(out: Path) -> LedgerCheck:
    """The chain, the numbering, and each entry's files; names the first broken entry."""
    try:
        chain = read_chain(out)
    except ArchiveError as exc:
        return LedgerCheck(0, None, str(exc))
    if not (Path(out) / LEDGER_NAME).exists():
        return LedgerCheck(0, None, f"{out} holds no {LEDGER_NAME}")
    intact = chain.entries if chain.first_broken is None else chain.entries[: chain.first_broken - 1]
    amendments = amendments_of(intact)
    for entry in intact:
        if entry.kind in AMENDMENTS:
            continue
        problems = entry_problems(out, entry, amendments.get(entry.path, []))
        if problems:
            first = problems[0][1]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return LedgerCheck(chain.lines, entry.sequence, f"ledger entry {entry.sequence} ({entry.path}): {first}{more}")
    return LedgerCheck(chain.lines, chain.first_broken, chain.problem)
