"""Verify a batch output folder OUT (one that holds `ledger.jsonl`).

- `ledger.jsonl`: the chain (numbering, each entry linked to the one before, each key and path
  registered once), naming the first broken entry; and each entry whose files no longer match.
- each registered scan file: its SHA-256 is the one registered (it is not signed: the ledger binds it);
- each registered report folder: the folder verification (`verify_folder`: signatures, manifest,
  trust), plus every file the ledger registers there (missing, altered, added, links);
- anything in `OUT/reports` or `OUT/scans` that the ledger does not register is named.

Entries past a break in the chain are still used to find and check what they register.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from auditor.archive.chain import AMENDMENTS, KINDS, LEDGER_NAME, MAX_ENTRY_FILES, Chain, LedgerEntry, read_chain
from auditor.archive.check import amendments_of, entry_problems
from auditor.errors import ArchiveError
from auditor.report_folder import MANIFEST_NAME, SIGNATURE_SUFFIX
from auditor.verify.folder import verify_folder
from auditor.verify.status import FileVerdict, Findings
from auditor.verify.trust import TrustAnchors

MAX_NAMED_ENTRIES = 20  # entries with altered files named in the ledger's verdict


def is_archive(folder: Path) -> bool:
    """Whether `folder` is a batch output folder (it holds a ledger)."""
    return os.path.lexists(Path(folder) / LEDGER_NAME)


def verify_archive(out: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """The ledger's verdict, then the verdicts of what each entry registers, then one verdict for
    each thing in OUT/reports and OUT/scans that no entry registers."""
    out = Path(out)
    try:
        chain = read_chain(out)
    except ArchiveError as exc:
        return [_verdict(out / LEDGER_NAME, Findings(invalid=[str(exc)]), anchors)]
    verdicts: list[FileVerdict] = []
    broken: list[str] = []
    registered: set[str] = set()
    amendments = amendments_of(chain.entries)
    for entry in chain.entries:
        if entry.path in registered or entry.kind in AMENDMENTS:
            continue
        registered.add(entry.path)
        problems = entry_problems(out, entry, amendments.get(entry.path, []))
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            broken.append(f"ledger entry {entry.sequence} ({entry.path}): {problems[0][1]}{more}")
        verdicts += _entry_verdicts(out, entry, problems, anchors)
    ledger = _ledger_findings(chain, broken)
    return [_verdict(out / LEDGER_NAME, ledger, anchors), *verdicts, *_unregistered(out, registered, anchors)]


def _ledger_findings(chain: Chain, broken: list[str]) -> Findings:
    findings = Findings(invalid=[chain.problem] if chain.problem else [])
    findings.invalid += broken[:MAX_NAMED_ENTRIES]
    if len(broken) > MAX_NAMED_ENTRIES:
        findings.invalid.append(f"… and {len(broken) - MAX_NAMED_ENTRIES} more entries whose files do not match")
    findings.notes.append(
        f"{chain.lines} entries, last line's SHA-256 {chain.head} (the ledger is not signed: keep this value "
        "elsewhere to detect a ledger rewritten as a whole)"
    )
    return findings


def _entry_verdicts(
    out: Path, entry: LedgerEntry, problems: list[tuple[str, str]], anchors: TrustAnchors
) -> list[FileVerdict]:
    label = f"ledger entry {entry.sequence} ({entry.path})"
    target = out / entry.path
    whole = [p for path, p in problems if path == "."]
    if entry.kind == "scan" or whole:
        findings = Findings(invalid=[f"{label}: {p}" for _, p in problems])
        if entry.kind == "scan":
            findings.notes.append(f"registered by {label}; a scan file is not signed: the ledger binds it")
        return [_verdict(target, findings, anchors)]
    verdicts = verify_folder(target, anchors)
    own = {Path(verdict.path).relative_to(target).as_posix() for verdict in verdicts}
    by_owner: dict[str, list[str]] = {name: [] for name in own}
    for path, problem in problems:
        owner = path.removesuffix(SIGNATURE_SUFFIX)
        by_owner[owner if owner in own else MANIFEST_NAME].append(f"{label}: {problem}")
    return [verdict.with_problems(by_owner[Path(verdict.path).relative_to(target).as_posix()]) for verdict in verdicts]


def _unregistered(out: Path, registered: set[str], anchors: TrustAnchors) -> list[FileVerdict]:
    """A verdict for each entry of OUT/reports and OUT/scans that the ledger does not register."""
    verdicts: list[FileVerdict] = []
    for folder in sorted(set(KINDS.values())):
        place = out / folder
        try:
            info = place.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            problem = f"{folder}: not a folder (a link or a file); the batch writes a folder there"
            verdicts.append(_verdict(place, Findings(invalid=[problem]), anchors))
            continue
        names = sorted(os.listdir(place))
        for name in names[:MAX_ENTRY_FILES]:
            if f"{folder}/{name}" not in registered:
                problem = (
                    f"{folder}/{name}: not registered in {LEDGER_NAME} (left by an interrupted batch, which the "
                    "same batch command finishes, or added afterwards)"
                )
                verdicts.append(_verdict(place / name, Findings(invalid=[problem]), anchors))
        if len(names) > MAX_ENTRY_FILES:
            problem = f"{folder}: holds more than {MAX_ENTRY_FILES} entries: the rest is not looked at"
            verdicts.append(_verdict(place, Findings(invalid=[problem]), anchors))
    return verdicts


def _verdict(path: Path, findings: Findings, anchors: TrustAnchors) -> FileVerdict:
    return findings.verdict(path, "ledger", [], anchors.description)
