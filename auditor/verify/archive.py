"""Verify a batch output folder OUT (one that holds `ledger.jsonl`, or any file a batch writes).

- `ledger.jsonl`: the chain (numbering, each entry linked to the one before, each key and path
  registered once), naming the first broken entry; and each entry whose files no longer match;
- its seal (`verify.checkpoints`): a valid last checkpoint that covers every entry; entries after
  it are "not sealed yet" and fail; with `head` or `witness`, a cut back to an earlier checkpoint;
- each registered scan file: its SHA-256 is the one registered (it is not signed: the ledger binds it);
- each registered report folder: the folder verification (`verify_folder`: signatures, manifest,
  trust), plus every file the ledger registers there (missing, altered, added, links);
- anything in `OUT/reports` or `OUT/scans` that the ledger does not register is named;
- `index.csv` and `index.html` against the rows rebuilt from the ledger and the verified reviews.

A folder that holds batch files without a ledger is invalid: nothing proves what it held.
Entries past a break in the chain are still used to find and check what they register.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from auditor.archive.chain import (
    AMENDMENTS,
    KINDS,
    LEDGER_NAME,
    LOCK_NAME,
    MAX_ENTRY_FILES,
    REPORTS_DIR,
    SCANS_DIR,
    SEALS,
    Chain,
    LedgerEntry,
    read_chain,
    read_ledger_bytes,
)
from auditor.archive.check import amendments_of, entry_problems, extension_problems
from auditor.archive.index import INDEX_CSV, INDEX_HTML, IndexRow, registered_row
from auditor.errors import ArchiveError
from auditor.names import MANIFEST_NAME, SIGNATURE_SUFFIX
from auditor.verify.batch_index import check_index, describe, reviews_of, state_of
from auditor.verify.checkpoints import SealCheck, check_seal
from auditor.verify.folder import verify_folder
from auditor.verify.status import FileVerdict, Findings
from auditor.verify.trust import TrustAnchors

MAX_NAMED_ENTRIES = 20  # entries with altered files named in the ledger's verdict
BATCH_FILES = (LEDGER_NAME, INDEX_CSV, INDEX_HTML, LOCK_NAME, REPORTS_DIR, SCANS_DIR)  # what marks a batch folder


def is_archive(folder: Path) -> bool:
    """Whether `folder` is a batch output folder: it holds a ledger, an index, a batch lock, or
    the reports/ and scans/ folders a batch writes."""
    return any(os.path.lexists(Path(folder) / name) for name in BATCH_FILES)


def verify_archive(
    out: Path, anchors: TrustAnchors, *, head: str | None = None, witness: Path | None = None
) -> list[FileVerdict]:
    """The ledger's verdict, then the verdicts of what each entry registers, then one verdict for
    each thing in OUT/reports and OUT/scans that no entry registers, then the index's verdict."""
    out = Path(out)
    try:
        data = read_ledger_bytes(out)
        chain = read_chain(out)
    except ArchiveError as exc:
        return [_verdict(out / LEDGER_NAME, Findings(invalid=[str(exc)]), anchors)]
    if data is None:
        present = ", ".join(name for name in BATCH_FILES if os.path.lexists(out / name))
        missing = (
            f"{LEDGER_NAME} is missing: this folder holds batch files ({present}) without a sealed ledger; nothing "
            "proves what it held or that nothing was removed"
        )
        return [_verdict(out / LEDGER_NAME, Findings(invalid=[missing]), anchors), *_unregistered(out, set(), anchors)]
    now = datetime.now(UTC)
    seal = check_seal(out, chain, data.split(b"\n")[: chain.lines], anchors, head, witness)
    verdicts: list[FileVerdict] = []
    broken: list[str] = []
    registered: set[str] = set()
    expected: dict[str, IndexRow] = {}
    amendments = amendments_of(chain.entries)
    for entry in chain.entries:
        if entry.path in registered or entry.kind in AMENDMENTS | SEALS:
            continue
        registered.add(entry.path)
        problems = entry_problems(out, entry, amendments.get(entry.path, []))
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            broken.append(f"ledger entry {entry.sequence} ({entry.path}): {problems[0][1]}{more}")
        broken += extension_problems(out, entry, amendments.get(entry.path, []))
        found = _entry_verdicts(out, entry, problems, anchors)
        if entry.kind == "report" and not problems and any(v.status == "untrusted" for v in found):
            found = _as_of_archive_timestamp(out / entry.path, [entry, *amendments.get(entry.path, [])], seal, anchors, found)
        if entry.kind == "report":
            broken += _expect_row(out, entry, found, now, expected)
        verdicts += found
    if seal.foreign and any(v.kind == "pdf" and v.status == "valid" for v in verdicts):
        _resealed_by_someone_else(seal)
    ledger = _ledger_findings(chain, broken, seal.findings)
    index = _verdict(out / INDEX_CSV, check_index(out, expected, now), anchors)
    return [_verdict(out / LEDGER_NAME, ledger, anchors), *verdicts, *_unregistered(out, registered, anchors), index]


def _as_of_archive_timestamp(
    folder: Path, registered: list[LedgerEntry], seal: SealCheck, anchors: TrustAnchors, verdicts: list[FileVerdict]
) -> list[FileVerdict]:
    """A registered report folder whose signatures lack a proof of time now (their certificates
    expired) verified as of the first archive timestamp after its last registration: the ledger
    binds the SHA-256 of each of its files, and the timestamp proves the ledger existed then."""
    proof = seal.proof_after(max(entry.sequence for entry in registered), anchors)
    if proof is None:
        return verdicts
    then = verify_folder(folder, replace(anchors, moment=proof[1]))
    if any(verdict.status != "valid" for verdict in then):
        return verdicts
    note = (
        f"valid as of {proof[1]:%Y-%m-%d %H:%M} UTC, when the archive timestamp at ledger entry {proof[0]} proves "
        "that the ledger binding this file existed"
    )
    return [
        later if before.status == "valid" else later.model_copy(update={"notes": [*later.notes, note]})
        for before, later in zip(verdicts, then, strict=True)
    ]


def _expect_row(
    out: Path, entry: LedgerEntry, verdicts: list[FileVerdict], now: datetime, expected: dict[str, IndexRow]
) -> list[str]:
    """Add the index row `entry` registers, with the review status its verified reviews give."""
    try:
        row = registered_row(entry.facts.get("row"), entry.path)
    except ArchiveError as exc:
        return [f"ledger entry {entry.sequence} ({entry.path}): {exc}"]
    found = reviews_of(out / entry.path, verdicts)
    expected[entry.path] = row.model_copy(update={"review": describe(state_of(found, now), found.problem)})
    return []


def _resealed_by_someone_else(seal: SealCheck) -> None:
    """A checkpoint signer outside the trusted roots, in a folder whose reports verify under them:
    the ledger was sealed by someone else (a rewritten ledger signed with another key)."""
    findings = seal.findings
    findings.untrusted = [reason for reason in findings.untrusted if reason not in seal.foreign]
    findings.invalid += [
        f"{reason}, while the reports are sealed under it: the ledger was sealed by someone else" for reason in seal.foreign
    ]


def _ledger_findings(chain: Chain, broken: list[str], seal: Findings) -> Findings:
    findings = Findings(invalid=[chain.problem] if chain.problem else [])
    findings.invalid += broken[:MAX_NAMED_ENTRIES]
    if len(broken) > MAX_NAMED_ENTRIES:
        findings.invalid.append(f"… and {len(broken) - MAX_NAMED_ENTRIES} more entries whose files do not match")
    findings.invalid += seal.invalid
    findings.untrusted += seal.untrusted
    findings.notes.append(f"{chain.lines} entries, last line's SHA-256 {chain.head}")
    findings.notes += seal.notes
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
