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
`folder` (the signed manifest).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from auditor.verify.detached import verify_detached
from auditor.verify.folder import verify_folder
from auditor.verify.pdf import verify_pdf
from auditor.verify.status import (
    EXIT_INVALID,
    EXIT_UNTRUSTED,
    EXIT_VALID,
    FileVerdict,
    SignatureSummary,
    Status,
    exit_code,
)
from auditor.verify.trust import TrustAnchors, load_trust

__all__ = [
    "EXIT_INVALID",
    "EXIT_UNTRUSTED",
    "EXIT_VALID",
    "FileVerdict",
    "SignatureSummary",
    "Status",
    "TrustAnchors",
    "exit_code",
    "load_trust",
    "verify_detached",
    "verify_folder",
    "verify_paths",
    "verify_pdf",
]


def verify_paths(paths: Iterable[Path], trust: Path | None) -> list[FileVerdict]:
    """Verify PDFs, files with a `.p7s` beside them, and whole report folders."""
    anchors = load_trust(trust)
    verdicts: list[FileVerdict] = []
    for path in map(Path, paths):
        if path.is_dir():
            verdicts += verify_folder(path, anchors)
        elif path.suffix.lower() == ".pdf":
            verdicts.append(verify_pdf(path, anchors))
        elif path.suffix.lower() == ".p7s":
            verdicts.append(verify_detached(path.with_suffix(""), anchors))
        else:
            verdicts.append(verify_detached(path, anchors))
    return verdicts
