"""Checking a ledger against what it registers: each entry's files (with the amendments that
re-register a report folder's changed files), and the first broken entry."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.archive.chain import AMENDMENTS, LEDGER_NAME, MAX_ENTRY_FILES, SEALS, LedgerEntry, read_chain
from auditor.errors import ArchiveError
from auditor.files import sha256_file, walk_folder
from auditor.names import PDF_NAME


@dataclass
class LedgerCheck:
    """The result of `check_ledger`."""

    entries: int
    first_broken: int | None
    problem: str | None


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


def extension_problems(out: Path, entry: LedgerEntry, amendments: Sequence[LedgerEntry]) -> list[str]:
    """What is wrong with the extensions (kind "extension", by `auditor archive extend`) of the
    report folder `entry` registers: each must extend the report.pdf registered before it, which
    must be the first `extends_size` bytes of the PDF as it is now (an extension only appends)."""
    problems = []
    registered = entry.files.get(PDF_NAME)
    for amendment in amendments:
        if amendment.kind == "extension":
            size, digest = amendment.facts.get("extends_size"), amendment.facts.get("extends_sha256")
            where = f"ledger entry {amendment.sequence} ({amendment.path})"
            if not isinstance(size, int) or isinstance(size, bool) or digest != registered:
                problems.append(f"{where}: does not extend the {PDF_NAME} registered before it")
            elif sha256_prefix(Path(out) / amendment.path / PDF_NAME, size) != digest:
                problems.append(f"{where}: {PDF_NAME} does not start with the PDF it extends: it was rewritten, not extended")
        registered = amendment.files.get(PDF_NAME, registered)
    return problems


def sha256_prefix(path: Path, size: int, chunk: int = 1 << 20) -> str | None:
    """Hex SHA-256 of the first `size` bytes of `path` (None when it is shorter or unreadable)."""
    digest, left = hashlib.sha256(), size
    try:
        with open(path, "rb") as handle:
            while left > 0 and (block := handle.read(min(chunk, left))):
                digest.update(block)
                left -= len(block)
    except OSError:
        return None
    return digest.hexdigest() if left == 0 else None


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
        if entry.kind in AMENDMENTS | SEALS:
            continue
        problems = entry_problems(out, entry, amendments.get(entry.path, []))
        if problems:
            first = problems[0][1]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return LedgerCheck(chain.lines, entry.sequence, f"ledger entry {entry.sequence} ({entry.path}): {first}{more}")
    return LedgerCheck(chain.lines, chain.first_broken, chain.problem)
