"""Verify sealed reports: the PDF's PAdES signatures, the detached `.p7s` files, the signed
manifest that binds a report folder, and the record.

For every file the verdict is one of:

- "valid": every signature is intact, by a signer that may sign, covers the file as required,
  and chains to a trusted root;
- "invalid": something was altered, added, removed, borrowed from another report, signed by a
  certificate that must not sign, or cannot be read within the limits;
- "untrusted": intact, but the signer does not chain to the trusted root.

Validation time is "now": past the certificate's expiry a B-B signature reads as untrusted; a
B-T signature (a timestamp from an authority that chains to the trusted roots) is what keeps
proof of the signing time.

Modules: `status` (verdict records), `trust` (roots, who may sign, timestamps), `limits` (bounded
work), `cms_strict` (what a CMS container may carry), `pdf` and `pdf_metadata`, `detached`, and
`folder` (the signed manifest), `archive` (a batch output folder: its ledger and what it registers),
`notice` (a notice to the person concerned, bound to its report).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from auditor.names import SIGNATURE_SUFFIX
from auditor.verify.archive import is_archive, verify_archive
from auditor.verify.detached import verify_detached
from auditor.verify.folder import SEALED, verify_folder, verify_standalone
from auditor.verify.notice import given_records, is_notice, verify_notice
from auditor.verify.pdf import verify_pdf
from auditor.verify.status import (
    EXIT_INVALID,
    EXIT_UNTRUSTED,
    EXIT_VALID,
    FileVerdict,
    Findings,
    SignatureSummary,
    Status,
    exit_code,
)
from auditor.verify.trust import TrustAnchors, load_trust

SEARCH_DEPTH = 2  # levels below a folder that is no report folder where report folders are looked for
MAX_SEARCHED_FOLDERS = 1_000  # folders looked at in that search (bounded work on any folder)

__all__ = [
    "EXIT_INVALID",
    "EXIT_UNTRUSTED",
    "EXIT_VALID",
    "FileVerdict",
    "SignatureSummary",
    "Status",
    "TrustAnchors",
    "exit_code",
    "find_report_folders",
    "is_report_folder",
    "load_trust",
    "verify_archive",
    "verify_detached",
    "verify_folder",
    "verify_paths",
    "verify_pdf",
]


def verify_paths(
    paths: Iterable[Path], trust: Path | None, *, head: str | None = None, witness: Path | None = None,
    at: datetime | None = None,
) -> list[FileVerdict]:
    """Verify PDFs, files with a `.p7s` beside them, whole report folders (a folder that is
    none stands for the report folders found in it), batch output folders (with a ledger or
    other batch files; `head` and `witness`: see `verify.checkpoints`) and notices (bound to the
    report folders given with them: `verify.notice`), as of `at` (default: now)."""
    anchors = load_trust(trust, at)
    paths = [Path(path) for path in paths]
    records = given_records(path for path in paths if path.is_dir())
    verdicts: list[FileVerdict] = []
    for path in paths:
        if path.is_dir() and is_archive(path):
            verdicts += verify_archive(path, anchors, head=head, witness=witness)
        elif is_notice(path):
            verdicts += verify_notice(path, anchors, records)
        elif path.is_dir():
            verdicts += _verify_folders(path, anchors)
        elif path.suffix.lower() == ".pdf":
            verdicts.append(verify_pdf(path, anchors))
        elif path.suffix.lower() == ".p7s":
            verdicts.append(verify_detached(path.with_suffix(""), anchors))
        else:
            verdicts.append(verify_detached(path, anchors))
    return verdicts


def _verify_folders(folder: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """The verdicts of a report folder; for another folder, those of the report folders in it (up
    to `SEARCH_DEPTH` levels down), or one verdict saying that it is not a report folder."""
    found = [folder] if is_report_folder(folder) else find_report_folders(folder)
    if found:
        return [verdict for report in found for verdict in verify_standalone(report, anchors)]
    problem = (
        f"not a report folder: it holds no {', '.join(SEALED)}, nor a report folder up to {SEARCH_DEPTH} levels "
        "down; give a report folder (the --out of `auditor report`) or a report.pdf"
    )
    return [Findings(invalid=[problem]).verdict(folder, "detached", [], anchors.description)]


def is_report_folder(folder: Path) -> bool:
    """Whether `folder` holds any file of a sealed report (a damaged report folder is one too)."""
    return any(os.path.lexists(folder / name) for sealed in SEALED for name in (sealed, sealed + SIGNATURE_SUFFIX))


def find_report_folders(folder: Path) -> list[Path]:
    """Report folders below `folder`, breadth first, at most `SEARCH_DEPTH` levels down and
    `MAX_SEARCHED_FOLDERS` folders looked at; links and hidden folders are not followed."""
    found: list[Path] = []
    level, looked = [folder], 0
    for _ in range(SEARCH_DEPTH):
        below: list[Path] = []
        for parent in level:
            try:
                children = sorted(e.path for e in os.scandir(parent) if e.is_dir(follow_symlinks=False))
            except OSError:
                continue
            for child in map(Path, children):
                looked += 1
                if looked > MAX_SEARCHED_FOLDERS:
                    return found
                if child.name.startswith("."):
                    continue
                (found if is_report_folder(child) else below).append(child)
        level = below
    return found
