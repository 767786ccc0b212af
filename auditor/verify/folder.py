"""Verify a report folder: each sealed file, and the signed manifest that binds them to one report.

`manifest.json` (signed by `manifest.json.p7s`) lists every file with its size and SHA-256, the
report id, the record's SHA-256 and the seal certificate. A file is reported when it is missing,
altered, foreign (it carries its own intact signature, but is not the file listed: copied from
another report) or not listed; links and special files are refused. `report.pdf` may have grown
by signed revisions (a reviewer's approval): its first `size` bytes must be the sealed PDF, and
the PDF checks judge the rest. Every seal signature of the folder must be by the certificate the
manifest names. A problem is added to the verdict of the file it concerns (a `.p7s` to its file,
anything else to manifest.json's).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from auditor.archive.chain import LEDGER_NAME, REPORTS_DIR
from auditor.files import walk_folder
from auditor.names import (
    HTML_NAME,
    MANIFEST_NAME,
    PDF_NAME,
    RECORD_NAME,
    REVIEW_FILE,
    SIGNATURE_SUFFIX,
    review_name,
)
from auditor.review.submission_records import submission_files
from auditor.signing.seal import MANIFEST_FILES, FolderManifest, ManifestEntry
from auditor.verify.detached import check_detached
from auditor.verify.limits import (
    MAX_FILE_BYTES,
    MAX_FOLDER_FILES,
    MAX_MANIFEST_BYTES,
    MAX_MANIFEST_ENTRIES,
    read_capped,
)
from auditor.verify.pdf import check_pdf
from auditor.verify.review import check_review_file
from auditor.verify.status import FileVerdict, Findings
from auditor.verify.submissions import check_submissions
from auditor.verify.trust import TrustAnchors

SEALED = (PDF_NAME, HTML_NAME, RECORD_NAME, MANIFEST_NAME)  # the files with a verdict of their own


@dataclass
class _Binding:
    """Problems found while binding the folder's files, by the verdict they go to."""

    problems: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in SEALED})

    def add(self, path: str, problem: str) -> None:
        owner = path.removesuffix(SIGNATURE_SUFFIX)
        self.problems[owner if owner in SEALED else MANIFEST_NAME].append(problem)


def verify_folder(folder: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """Verdicts for report.pdf (with the folder's artifacts), report.html, evidence.json and
    manifest.json, each including what binding the folder to one report found about it."""
    pdf, embedded_record = check_pdf(folder / PDF_NAME, anchors, in_report_folder=True)
    verdicts = {
        PDF_NAME: pdf,
        HTML_NAME: check_detached(folder / HTML_NAME, anchors)[0],
        RECORD_NAME: check_detached(folder / RECORD_NAME, anchors)[0],
    }
    verdicts[MANIFEST_NAME], manifest = _check_manifest(folder / MANIFEST_NAME, anchors)
    later = _later_files(folder)
    if manifest is not None:
        binding = _bind(folder, manifest, verdicts, embedded_record, anchors, later)
        verdicts = {name: verdict.with_problems(binding.problems[name]) for name, verdict in verdicts.items()}
    return [*verdicts.values(), *_review_verdicts(folder, pdf, anchors), *check_submissions(folder, anchors)]


def verify_standalone(folder: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """`verify_folder` of a report folder outside a batch archive, with what it cannot prove."""
    verdicts = verify_folder(folder, anchors)
    out = Path(folder).absolute().parent.parent
    if Path(folder).absolute().parent.name == REPORTS_DIR and os.path.lexists(out / LEDGER_NAME):
        note = f"the completeness of its reviews is proven by its batch folder's ledger: verify {out}"
    else:
        note = (
            "this report folder stands alone: the completeness of its reviews cannot be proven outside an archive (a "
            "review removed with its PDF revision leaves no trace); register it with `auditor archive add REPORT --to OUT`"
        )
    return [verdicts[0].model_copy(update={"notes": [*verdicts[0].notes, note]}), *verdicts[1:]]


def _later_files(folder: Path) -> set[str]:
    """Files a report folder gains after sealing, each signed on its own and checked by its own
    rules: reviews (`review-N.json` + `.p7s`) and the person's submissions with their answers."""
    reviews = {p.name for p in folder.iterdir() if REVIEW_FILE.match(p.name.removesuffix(SIGNATURE_SUFFIX))}
    return reviews | submission_files(folder)


def _review_verdicts(folder: Path, pdf: FileVerdict, anchors: TrustAnchors) -> list[FileVerdict]:
    """A verdict for each review-N.json beside the PDF; a signed review in the PDF without its file is noted."""
    names = sorted(p.name for p in folder.iterdir() if REVIEW_FILE.match(p.name))
    verdicts = [check_review_file(folder, name, anchors, pdf.reviews) for name in names]
    lone = sorted(p.name for p in folder.iterdir() if p.name.removesuffix(SIGNATURE_SUFFIX) not in names
                  and p.name.endswith(SIGNATURE_SUFFIX) and REVIEW_FILE.match(p.name.removesuffix(SIGNATURE_SUFFIX)))
    verdicts += [
        Findings(invalid=[f"{name} signs a review file that is not there: foreign to this report"]).verdict(
            folder / name, "detached", [], anchors.description)
        for name in lone
    ]
    for review in pdf.reviews:
        if review_name(review.slot) not in names:
            verdicts.append(Findings(notes=[
                f"review slot {review.slot} is signed in the PDF but review-{review.slot}.json is missing beside it "
                "(the PDF's review stands; the file only repeats it)"
            ]).verdict(folder / review_name(review.slot), "detached", [], anchors.description))
    return verdicts


def _check_manifest(path: Path, anchors: TrustAnchors) -> tuple[FileVerdict, FolderManifest | None]:
    if not os.path.lexists(path):
        missing = f"{MANIFEST_NAME} is missing: the files are not bound to one report (any may come from another)"
        return Findings(invalid=[missing]).verdict(path, "detached", [], anchors.description), None
    verdict, data = check_detached(path, anchors, MAX_MANIFEST_BYTES)
    if verdict.status == "invalid" or data is None:
        return verdict, None
    manifest, problem = parse_manifest(data)
    return verdict.with_problems([problem] if problem else []), manifest


def parse_manifest(data: bytes) -> tuple[FolderManifest | None, str | None]:
    """The manifest in `data`, or why it cannot be used; its entries are counted before they are read."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return None, f"{MANIFEST_NAME} is not valid JSON ({type(exc).__name__})"
    files = raw.get("files") if isinstance(raw, dict) else None
    if not isinstance(files, list):
        return None, f"{MANIFEST_NAME} lists no files"
    if len(files) > MAX_MANIFEST_ENTRIES:
        return None, f"{MANIFEST_NAME} lists {len(files)} files, more than the {MAX_MANIFEST_ENTRIES} allowed"
    try:
        return FolderManifest.model_validate(raw), None
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        return None, f"{MANIFEST_NAME} is not an auditor manifest ({where}: {exc.errors()[0]['msg']})"


def _bind(
    folder: Path,
    manifest: FolderManifest,
    verdicts: dict[str, FileVerdict],
    embedded_record: bytes | None,
    anchors: TrustAnchors,
    later: set[str],
) -> _Binding:
    binding = _Binding()
    present, walk_problems = _walk(folder)
    for path, refused in walk_problems:
        binding.add(path, refused)
    listed = {entry.path: entry for entry in manifest.files}
    for entry in manifest.files:
        if entry.path in present:
            problem = _entry_problem(folder, entry, present[entry.path], verdicts, anchors)
            if problem:
                binding.add(entry.path, f"{entry.path}: {problem}")
        elif entry.path.removesuffix(SIGNATURE_SUFFIX) not in SEALED:  # those have a verdict saying so
            binding.add(entry.path, f"{entry.path}: missing (the manifest lists it)")
    for path in sorted(present.keys() - listed.keys() - set(MANIFEST_FILES) - later):
        binding.add(path, f"{path}: not listed in the manifest (added after sealing?)")
    _bind_report(folder, manifest, embedded_record, binding)
    _bind_signer(manifest, verdicts, binding)
    return binding


def _walk(folder: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Regular files below `folder` with their sizes, and the entries that are refused."""
    walk = walk_folder(folder, MAX_FOLDER_FILES)
    refused = [(p or MANIFEST_NAME, f"{p or folder}: cannot be listed ({why})") for p, why in walk.unlisted]
    refused += [(p, f"{p}: a symbolic link; a report folder holds regular files only") for p in walk.links]
    refused += [(p, f"{p}: not a regular file (device, pipe or socket)") for p in walk.special]
    if walk.too_many:
        refused.append((MANIFEST_NAME, f"the folder holds more than {MAX_FOLDER_FILES} entries: refused"))
    return {name: path.stat(follow_symlinks=False).st_size for name, path in walk.files.items()}, refused


def _entry_problem(
    folder: Path, entry: ManifestEntry, size: int, verdicts: dict[str, FileVerdict], anchors: TrustAnchors
) -> str | None:
    if entry.path == PDF_NAME and size > entry.size:  # later signed revisions: the PDF checks judge them
        if _sha256_prefix(folder / PDF_NAME, entry.size) == entry.sha256:
            return None
        return f"altered (its first {entry.size} bytes are not the sealed PDF the manifest lists)"
    if size == entry.size and _sha256_prefix(folder / entry.path, size) == entry.sha256:
        return None
    if _signed_on_its_own(folder, entry.path.removesuffix(SIGNATURE_SUFFIX), verdicts, anchors):
        return (
            "foreign to this report: it has its own intact signature but is not the file the manifest lists "
            "(copied from another report?)"
        )
    return "altered (size or SHA-256 differs from the manifest)"


def _signed_on_its_own(folder: Path, path: str, verdicts: dict[str, FileVerdict], anchors: TrustAnchors) -> bool:
    """Whether `path` holds its own intact signature (the PDF) or has one beside it (`.p7s`)."""
    if path != PDF_NAME and not os.path.lexists(folder / (path + SIGNATURE_SUFFIX)):
        return False
    verdict = verdicts.get(path) or check_detached(folder / path, anchors)[0]
    return verdict.status != "invalid" and bool(verdict.signatures) and verdict.signatures[0].intact


def _bind_report(folder: Path, manifest: FolderManifest, embedded_record: bytes | None, binding: _Binding) -> None:
    """The manifest names this folder's record and report id, and the PDF embeds that record."""
    record = read_capped(folder / RECORD_NAME, MAX_FILE_BYTES, Findings())
    report_id = _report_id(record) if record is not None else manifest.report_id
    if report_id != manifest.report_id:
        binding.add(RECORD_NAME, f"{RECORD_NAME} names report {report_id!r}, the manifest {manifest.report_id!r}")
    listed = next((e.sha256 for e in manifest.files if e.path == RECORD_NAME), None)
    if listed != manifest.record_sha256:
        binding.add(MANIFEST_NAME, f"{MANIFEST_NAME}: its record_sha256 is not the SHA-256 it lists for {RECORD_NAME}")
    if embedded_record is not None and hashlib.sha256(embedded_record).hexdigest() != manifest.record_sha256:
        binding.add(PDF_NAME, f"the record embedded in {PDF_NAME} is not the record the manifest binds")


def _bind_signer(manifest: FolderManifest, verdicts: dict[str, FileVerdict], binding: _Binding) -> None:
    """One report, one seal: each file's first signature is by the manifest's seal certificate."""
    for name, verdict in verdicts.items():
        if verdict.signatures and verdict.signatures[0].certificate_sha256 != manifest.seal_certificate_sha256:
            first = verdict.signatures[0]
            certificate = (first.certificate_sha256 or "")[:16]
            binding.add(
                name,
                f"{name} was sealed by {first.signer} (certificate SHA-256 {certificate}…), not by the seal the "
                f"manifest names ({manifest.seal_certificate_sha256[:16]}…): one report has one signer",
            )


def _report_id(record: bytes) -> object:
    try:
        data = json.loads(record)
        return data["report"]["report_id"]
    except (ValueError, RecursionError, KeyError, TypeError):
        return None


def _sha256_prefix(path: Path, size: int, chunk: int = 1 << 20) -> str | None:
    """Hex SHA-256 of the first `size` bytes of `path` (None if it is shorter or unreadable)."""
    digest, left = hashlib.sha256(), size
    try:
        with path.open("rb") as handle:
            while left and (block := handle.read(min(chunk, left))):
                digest.update(block)
                left -= len(block)
    except OSError:
        return None
    return digest.hexdigest() if left == 0 else None
