"""`archive extend`: carry an archive's PDFs past their certificates' and TSAs' ends (PAdES B-LTA).

For each report PDF, one new revision holds a DSS update with fresh validation data for every
signature and document timestamp already in the file (certificates, CRLs, OCSP responses, as
the URLs in their certificates and the local revocation lists give them now) and, over all of
it, an RFC 3161 document timestamp (pyHanko `PdfTimeStamper`, field `AuditorArchiveTimestampN`).
Run again before the newest timestamp's authority certificate ends, it renews the chain.

In a batch folder OUT, a PDF is extended only when it is the file the ledger registers (so an
extension can never re-register a damaged or truncated report), and each extension is a ledger
amendment of kind "extension" that registers the new `report.pdf` with the size and SHA-256 of
the registered file it extends: the bytes before it are exactly the registered PDF. The ledger
then gets an archive timestamp (`archive.checkpoint.timestamp_ledger`), which needs no seal key.

Each PDF is written atomically (temp file and rename); a run killed between the rename and the
ledger line leaves a PDF whose registered prefix is intact and whose last revision is the new
timestamp: the next run finds it and registers it (`_finish_interrupted`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.sign.validation.dss import collect_validation_info
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import InvalidCertificateError, PathBuildingError, PathValidationError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.path import ValidationPath

from auditor.archive.chain import LedgerEntry, read_chain
from auditor.archive.check import amendments_of, entry_problems
from auditor.archive.checkpoint import timestamp_ledger
from auditor.archive.ledger import Ledger
from auditor.errors import ArchiveError
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.names import PDF_NAME
from auditor.signing.ltv import LtvTimeStamper, fetcher

TIMESTAMP_FIELD = "AuditorArchiveTimestamp"
MAX_PDF_BYTES = 512 * 1024 * 1024
MAX_REVISIONS = 64  # revisions searched for an interrupted extension
_EOF = re.compile(rb"%%EOF[\r\n]{0,2}")
_PATH_ERRORS = (PathBuildingError, PathValidationError, InvalidCertificateError)


@dataclass(frozen=True)
class Extended:
    """One PDF: extended (with its document timestamp's field), or left as it was, and why."""

    pdf: Path
    field: str | None
    problem: str | None = None


@dataclass(frozen=True)
class ExtensionTrust:
    """What validation data is gathered with: the roots of the seals and the TSAs, and local
    revocation lists (DER); the CRL/OCSP URLs the certificates name are fetched too."""

    roots: tuple[x509.Certificate, ...]
    crls: tuple[bytes, ...] = ()

    def context(self, backend: AIOHttpFetcherBackend) -> ValidationContext:
        return ValidationContext(
            trust_roots=[_asn1(c) for c in self.roots], crls=list(self.crls), allow_fetching=True,
            revocation_mode="soft-fail", fetcher_backend=backend,
        )


def extend_pdf(pdf: Path, tsa_url: str, trust: ExtensionTrust) -> Extended:
    """Add DSS + document timestamp to `pdf` in one revision, written atomically."""
    data = _read(pdf)
    try:
        new = asyncio.run(_extended(data, LtvTimeStamper(tsa_url), trust))
    except _PATH_ERRORS as exc:
        return Extended(pdf, None, f"a signer's certificate does not validate now ({exc}); run `auditor verify`")
    except (TimestampRequestError, OSError) as exc:
        raise ArchiveError(f"the timestamp authority {tsa_url} did not answer ({exc}); check the URL and the network") from exc
    except (PdfError, PyHankoSigningError, ValueError) as exc:
        return Extended(pdf, None, f"cannot be extended ({exc}); run `auditor verify`")
    atomic_write_bytes(pdf, new[0])
    return Extended(pdf, new[1])


def extend_report_folder(folder: Path, tsa_url: str, trust: ExtensionTrust) -> Extended:
    """Extend a standalone report folder's PDF (the manifest accepts later revisions after the sealed bytes)."""
    return extend_pdf(Path(folder) / PDF_NAME, tsa_url, trust)


def extend_archive(out: Path, tsa_url: str, trust: ExtensionTrust) -> list[Extended]:
    """Extend every registered report PDF of the batch folder `out` that matches its ledger
    entry, register each as an "extension" amendment, then timestamp the ledger."""
    out = Path(out)
    chain = read_chain(out)
    if chain.problem:
        raise ArchiveError(f"{out}: the ledger is broken ({chain.problem}); run `auditor verify {out}` first")
    amendments = amendments_of(chain.entries)
    ledger, results = Ledger(out), []
    for entry in (e for e in chain.entries if e.kind == "report"):
        results.append(_extend_registered(out, ledger, entry, amendments.get(entry.path, []), tsa_url, trust))
    timestamp_ledger(out, tsa_url)
    return results


def _extend_registered(
    out: Path, ledger: Ledger, entry: LedgerEntry, amendments: list[LedgerEntry], tsa_url: str, trust: ExtensionTrust
) -> Extended:
    folder = out / entry.path
    pdf = folder / PDF_NAME
    registered = _registered_hash(entry, amendments)
    problems = entry_problems(out, entry, amendments)
    if problems and not _finish_interrupted(ledger, folder, registered, problems):
        path, problem = problems[0]
        return Extended(pdf, None, f"ledger entry {entry.sequence} ({entry.path}): {path}: {problem}; not extended, run `auditor verify {out}`")
    before = _read(pdf)
    done = extend_pdf(pdf, tsa_url, trust)
    if done.field is not None:
        _register(ledger, folder, len(before), sha256_bytes(before), done.field)
    return done


def _registered_hash(entry: LedgerEntry, amendments: list[LedgerEntry]) -> str | None:
    digest = entry.files.get(PDF_NAME)
    for amendment in amendments:
        digest = amendment.files.get(PDF_NAME, digest)
    return digest


def _finish_interrupted(ledger: Ledger, folder: Path, registered: str | None, problems: list[tuple[str, str]]) -> bool:
    """Register an extension a killed run wrote but did not register: `report.pdf` is the only
    problem, its registered bytes are a prefix of it, and what follows ends in our timestamp."""
    if registered is None or [p for p, _ in problems] != [PDF_NAME]:
        return False
    data = _read(folder / PDF_NAME)
    ends = [m.end() for m in _EOF.finditer(data)][-MAX_REVISIONS:]
    for end in ends[:-1]:
        if sha256_bytes(data[:end]) == registered:
            field = _last_timestamp_field(data)
            if field is None:
                return False
            _register(ledger, folder, end, registered, field)
            return True
    return False


def _register(ledger: Ledger, folder: Path, size: int, sha256: str, field: str) -> None:
    facts: dict[str, object] = {"file": PDF_NAME, "extends_size": size, "extends_sha256": sha256, "document_timestamp": field}
    key = hashlib.sha256(f"extension:{folder.name}:{sha256}".encode()).hexdigest()
    ledger.append("extension", key, folder.absolute(), facts, only=[PDF_NAME])


async def _extended(data: bytes, stamper: LtvTimeStamper, trust: ExtensionTrust) -> tuple[bytes, str]:
    """`data` with one more revision: DSS for every signature in it, and a document timestamp."""
    reader = PdfFileReader(io.BytesIO(data))
    field = f"{TIMESTAMP_FIELD}{1 + len(reader.embedded_timestamp_signatures)}"
    async with fetcher() as backend:
        context = trust.context(backend)
        paths = await _validation_paths(reader, context)
        output = await PdfTimeStamper(stamper, field_name=field).async_timestamp_pdf(
            IncrementalPdfFileWriter(io.BytesIO(data)),
            "sha256",
            validation_context=context,
            validation_paths=paths,
            dss_settings=TimestampDSSContentSettings(update_before_ts=True, include_vri=False),
        )
    return output.getvalue(), field


async def _validation_paths(reader: PdfFileReader, context: ValidationContext) -> list[ValidationPath]:
    """Validation data for the signatures in `reader`, as of now. What the newest document
    timestamp covers must validate (the first extension: every signature; later ones: that
    timestamp, pyHanko's B-LTA rule); older signatures, whose data earlier revisions hold and
    whose certificates may have ended since, add what they still can."""
    signatures = reader.embedded_signatures
    timestamps = reader.embedded_timestamp_signatures
    required = {s.field_name for s in (timestamps[-1:] if timestamps else signatures)}
    paths: list[ValidationPath] = []
    for sig in signatures:
        try:
            paths += await collect_validation_info(sig, context)
        except _PATH_ERRORS:
            if sig.field_name in required:
                raise
    return paths


def _last_timestamp_field(data: bytes) -> str | None:
    """The field of the last document timestamp, when it is ours and signs the end of the file."""
    try:
        timestamps = PdfFileReader(io.BytesIO(data)).embedded_timestamp_signatures
    except (PdfError, ValueError):
        return None
    last = timestamps[-1] if timestamps else None
    if last is None or not last.field_name.startswith(TIMESTAMP_FIELD) or last.signed_revision != last.reader.xrefs.total_revisions - 1:
        return None
    return last.field_name


def _read(pdf: Path) -> bytes:
    try:
        if pdf.stat().st_size > MAX_PDF_BYTES:
            raise ArchiveError(f"{pdf} is larger than {MAX_PDF_BYTES >> 20} MiB: not extended")
        return pdf.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {pdf}: {exc.strerror or exc}") from exc


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
