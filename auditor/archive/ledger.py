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
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from auditor.archive.chain import (
    AMENDMENTS,
    LEDGER_FORMAT,
    LEDGER_NAME,
    MAX_LEDGER_BYTES,
    MAX_LINE_BYTES,
    SEALS,
    Chain,
    LedgerEntry,
    read_chain,
)
from auditor.archive.check import walk_registered
from auditor.errors import ArchiveError, first_problem
from auditor.files import sha256_bytes

log = logging.getLogger(__name__)


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
        if only is None:
            files, refused = walk_registered(target, folder=kind != "scan")
        else:  # an amendment: just the files it names, each a regular file inside the folder
            hashed = [(name, walk_registered(target / name, folder=False)) for name in only]
            files = {name: digest for name, (found, _) in hashed for digest in found.values()}
            refused = [(name, f"{name}: {problem}") for name, (_, problems) in hashed for _, problem in problems]
        if refused:
            raise ArchiveError(f"cannot register {relative}: {refused[0][1]}; a registered {kind} holds regular files only")
        with self._locked() as (fd, created):
            chain = self._current(fd)
            return self._write(fd, created, chain, self._entry(chain, kind, key, relative, files, facts))

    def append_seal(self, kind: str, build: Callable[[Chain], tuple[str, dict[str, object]]]) -> LedgerEntry:
        """Append an entry about the ledger itself (kind "checkpoint" or "timestamp"): `build` gets
        the chain as it is under the lock and returns the entry's key and facts."""
        with self._locked() as (fd, created):
            chain = self._current(fd)
            key, facts = build(chain)
            return self._write(fd, created, chain, self._entry(chain, kind, key, LEDGER_NAME, {}, facts))

    def _write(self, fd: int, created: bool, chain: Chain, new: LedgerEntry) -> LedgerEntry:
        line = new.line() + b"\n"
        entry = LedgerEntry.model_validate_json(line)  # as it will be read back
        if len(line) > MAX_LINE_BYTES or chain.size + len(line) > MAX_LEDGER_BYTES:
            raise ArchiveError(f"{self.path} would grow past its limits; start a new output folder")
        _write_line(fd, line, chain.size, self.path)
        if created or chain.size == 0:
            _sync_folder(self.out)
        chain.entries.append(entry)
        chain.lines, chain.size, chain.head = chain.lines + 1, chain.size + len(line), sha256_bytes(line[:-1])
        chain.first = chain.first if chain.lines > 1 else chain.head
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
        markers = [((kind, key), "key")] + ([] if kind in AMENDMENTS | SEALS else [((relative,), "path")])
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
        if entry.kind not in AMENDMENTS | SEALS:
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
