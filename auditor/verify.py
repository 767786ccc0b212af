"""Verify sealed reports: the PDF's PAdES signatures, the detached `.p7s` files, the record.

For every file the verdict is one of:

- "valid": every signature is intact, covers the file as required, and chains to a trusted root;
- "invalid": something was altered, added without a signature, or cannot be read;
- "untrusted": intact, but the signer does not chain to the trusted root.

A PDF is valid only if the last revision is covered by a valid signature (no unsigned update at
the end), every earlier signature allows what came after it (only signatures and form filling,
DocMDP level 2), the hex signature container is exactly what the signer wrote, and the
embedded `evidence.json` is a readable record whose listed artifacts match their SHA-256 when
they are present beside the PDF (always required for a report folder).
Validation time is "now": past the certificate's expiry a B-B signature reads as untrusted; a
B-T signature (timestamp authority) is what keeps proof of the signing time.
"""

from __future__ import annotations

import asyncio
import binascii
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from pydantic import BaseModel
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel, SignatureStatus
from pyhanko_certvalidator import ValidationContext

from auditor.errors import SigningError
from auditor.keys import ROOT_FILE, default_keys_dir, read_certificates

Status = Literal["valid", "invalid", "untrusted"]
EXIT_VALID, EXIT_INVALID, EXIT_UNTRUSTED = 0, 1, 8
REPORT_FILES = ("report.pdf", "report.html", "evidence.json")
RECORD_NAME = "evidence.json"
S = TypeVar("S", bound=SignatureStatus)


class SignatureSummary(BaseModel):
    """One signature found in a file."""

    field: str | None = None
    signer: str
    signed_at: dt.datetime | None = None
    intact: bool
    trusted: bool
    covers_whole_file: bool
    changes_after: str | None = None
    timestamped: bool = False


class FileVerdict(BaseModel):
    """The verdict on one file."""

    path: str
    kind: Literal["pdf", "detached"]
    status: Status
    signer: str | None = None
    trusted_root: str
    reasons: list[str] = []
    notes: list[str] = []
    signatures: list[SignatureSummary] = []


@dataclass(frozen=True)
class TrustAnchors:
    """The root certificates trusted in one verification run, and where they came from."""

    certs: tuple[x509.Certificate, ...]
    description: str

    def context(self) -> ValidationContext:
        """A pyHanko validation context that trusts exactly these roots, offline."""
        roots = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self.certs]
        return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")


@dataclass
class _Findings:
    """Problems found while checking one file, split by what they mean."""

    invalid: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.invalid:
            return "invalid"
        return "untrusted" if self.untrusted else "valid"


def load_trust(trust: Path | None) -> TrustAnchors:
    """The roots in `trust` (a PEM/DER file or a keys folder), else the `auditor keys` root."""
    source = Path(trust) if trust is not None else default_keys_dir() / ROOT_FILE
    if source.is_dir():
        source = source / ROOT_FILE
    if not source.is_file():
        if trust is not None:
            raise SigningError(f"trust certificate {source} does not exist; give a root certificate (PEM) with --trust")
        return TrustAnchors((), f"none (no {source}; run `auditor keys init` or pass --trust ROOT.pem)")
    certs = tuple(read_certificates(source))
    if not certs:
        raise SigningError(f"{source} holds no certificate; give a root certificate (PEM) with --trust")
    names = "; ".join(f"{c.subject.rfc4514_string()} (SHA-256 {c.fingerprint(hashes.SHA256()).hex()[:16]}…)" for c in certs)
    return TrustAnchors(certs, f"{names} from {source}")


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


def exit_code(verdicts: Sequence[FileVerdict]) -> int:
    """0 when all valid and trusted, 1 when anything is altered or invalid, 8 when only untrusted."""
    statuses = {v.status for v in verdicts}
    if "invalid" in statuses or not verdicts:
        return EXIT_INVALID
    return EXIT_UNTRUSTED if "untrusted" in statuses else EXIT_VALID


def verify_folder(folder: Path, anchors: TrustAnchors) -> list[FileVerdict]:
    """Verdicts for report.pdf (with the folder's artifacts), report.html and evidence.json."""
    pdf, html, record = (folder / name for name in REPORT_FILES)
    return [
        verify_pdf(pdf, anchors, in_report_folder=True),
        verify_detached(html, anchors),
        verify_detached(record, anchors),
    ]


# --- PDF --------------------------------------------------------------------------------------


def verify_pdf(path: Path, anchors: TrustAnchors, *, in_report_folder: bool = False) -> FileVerdict:
    """Check every signature in a PDF, its coverage, and the embedded evidence record."""
    findings = _Findings()
    summaries: list[SignatureSummary] = []
    data = _read(path, findings)
    if data is not None:
        try:
            reader = PdfFileReader(io.BytesIO(data))
            summaries = _check_pdf_signatures(reader, data, anchors, findings)
            if summaries and not findings.invalid:
                _check_embedded_record(reader, path, in_report_folder, findings)
        except Exception as exc:  # noqa: BLE001 -- hostile input may break the parser anywhere
            findings.invalid.append(f"cannot read the PDF ({type(exc).__name__}: {exc}); it is damaged or altered")
    return _verdict(path, "pdf", findings, summaries, anchors)


def _check_pdf_signatures(
    reader: PdfFileReader, data: bytes, anchors: TrustAnchors, findings: _Findings
) -> list[SignatureSummary]:
    signatures = reader.embedded_signatures
    if not signatures:
        findings.invalid.append("no signature: the PDF is unsigned (a draft?) or its signature was removed")
        return []
    summaries = []
    for index, sig in enumerate(signatures):
        status, path_error = _validated(lambda context, sig=sig: validate_pdf_signature(sig, context), anchors)
        summary = _pdf_summary(sig, status)
        summaries.append(summary)
        _judge_signature(summary, status, findings, anchors, path_error=path_error)
        problem = _pdf_container_problem(sig, data, anchors)
        if problem:
            findings.invalid.append(f"signature {summary.field}: the signature container {problem}")
        is_last = index == len(signatures) - 1
        if is_last and not summary.covers_whole_file:
            findings.invalid.append(
                f"content was appended after the last signature ({summary.field}) without a new signature"
            )
        if not is_last and not _later_changes_allowed(status):
            findings.invalid.append(
                f"the revision after signature {summary.field} changes more than signatures and form fields "
                f"({summary.changes_after})"
            )
    return summaries


def _pdf_summary(sig: EmbeddedPdfSignature, status: SignatureStatus) -> SignatureSummary:
    level = getattr(status, "modification_level", None)
    return SignatureSummary(
        field=sig.field_name,
        signer=_subject(status.signing_cert),
        signed_at=getattr(status, "signer_reported_dt", None),
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changes_after=level.name if level is not None else None,
        timestamped=getattr(status, "timestamp_validity", None) is not None,
    )


def _later_changes_allowed(status: SignatureStatus) -> bool:
    level = getattr(status, "modification_level", None)
    return (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and level is not None
        and level <= ModificationLevel.FORM_FILLING
        and getattr(status, "docmdp_ok", False) is not False
    )


def _pdf_container_problem(sig: EmbeddedPdfSignature, data: bytes, anchors: TrustAnchors) -> str | None:
    """The unsigned gap must read `<hex(CMS)00…>` in one letter case, and the CMS must pass
    `_container_problem`: no flipped case, padding, junk or unsigned field goes unnoticed."""
    start, length, end = (int(sig.byte_range[i]) for i in range(3))
    raw = sig.pkcs7_content
    der_length = len(cms.ContentInfo.load(raw).dump())
    hex_text = binascii.hexlify(raw)
    if data[start + length : end] not in (b"<" + hex_text + b">", b"<" + hex_text.upper() + b">"):
        return "is not plain hexadecimal"
    if raw[der_length:].strip(b"\0"):
        return "has data after the signature"
    return _container_problem(raw[:der_length], anchors)


def _check_embedded_record(reader: PdfFileReader, path: Path, in_report_folder: bool, findings: _Findings) -> None:
    embedded = _embedded_file(reader, RECORD_NAME)
    if embedded is None:
        findings.invalid.append("no embedded evidence.json: this is not a complete auditor report")
        return
    beside = path.parent / RECORD_NAME
    if (in_report_folder or beside.is_file()) and _read_quiet(beside) != embedded:
        findings.invalid.append(f"{beside} differs from (or is missing next to) the evidence record embedded in the PDF")
    _check_artifacts(embedded, path.parent, in_report_folder, findings)


def _embedded_file(reader: PdfFileReader, name: str) -> bytes | None:
    """Bytes of the embedded file `name` in the catalog's EmbeddedFiles name tree."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for index in range(0, len(names) - 1, 2):
        key, spec = names[index], names[index + 1].get_object()
        if str(key) == name or str(spec.get("/UF", "")) == name:
            stream = spec["/EF"]["/F"].get_object()
            return stream.data if isinstance(stream, generic.StreamObject) else None
    return None


def _check_artifacts(record_bytes: bytes, folder: Path, required: bool, findings: _Findings) -> None:
    try:
        from auditor.evidence import load_record, verify_artifacts
    except ImportError as exc:
        findings.invalid.append(f"cannot check the embedded record: auditor.evidence is unavailable ({exc})")
        return
    from auditor.errors import ReportError

    try:
        record = load_record(record_bytes)
    except ReportError as exc:
        findings.invalid.append(f"the embedded evidence record is unreadable: {exc}")
        return
    present = any((folder / a.path).exists() for a in record.artifacts)
    if not (required or present):
        findings.notes.append("artifact files are not beside the PDF: their hashes were not checked")
        return
    findings.invalid += [f"artifact {problem}" for problem in verify_artifacts(record, folder)]
    if not findings.invalid:
        findings.notes.append(f"{len(record.artifacts)} artifacts match the SHA-256 in the embedded record")


# --- detached CMS -----------------------------------------------------------------------------


def verify_detached(path: Path, anchors: TrustAnchors) -> FileVerdict:
    """Check `path` against the detached CMS signature in `path.p7s`."""
    findings = _Findings()
    summaries: list[SignatureSummary] = []
    signature_path = path.with_name(path.name + ".p7s")
    data = _read(path, findings)
    signature = _read(signature_path, findings)
    if data is not None and signature is not None:
        try:
            signed_data = cms.ContentInfo.load(signature, strict=True)["content"]
            status, path_error = _validated(
                lambda context: asyncio.run(
                    async_validate_detached_cms(data, signed_data, signer_validation_context=context)
                ),
                anchors,
            )
            summary = _cms_summary(status)
            summaries.append(summary)
            _judge_signature(summary, status, findings, anchors, what=signature_path.name, path_error=path_error)
            problem = _container_problem(signature, anchors)
            if problem:
                findings.invalid.append(f"{signature_path.name}: the signature container {problem}")
        except Exception as exc:  # noqa: BLE001 -- hostile input may break the parser anywhere
            findings.invalid.append(f"cannot read {signature_path.name} ({type(exc).__name__}: {exc}); it is damaged")
    return _verdict(path, "detached", findings, summaries, anchors)


def _cms_summary(status: SignatureStatus) -> SignatureSummary:
    return SignatureSummary(
        signer=_subject(status.signing_cert),
        signed_at=getattr(status, "signer_reported_dt", None),
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=bool(status.intact),
        timestamped=getattr(status, "timestamp_validity", None) is not None,
    )


# --- shared -----------------------------------------------------------------------------------


def _container_problem(der: bytes, anchors: TrustAnchors) -> str | None:
    """Check the parts of a CMS container that its signature does not cover.

    The signature protects the signed attributes only; the digest-algorithm list, versions,
    content type, certificates and unsigned attributes ride alongside. They must parse strictly,
    agree with the signer info, and every carried certificate must verify.
    """
    if not _der_is_tight(der):
        return "is not strict DER (slack, padding or odd lengths inside)"
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        return f"holds {info['content_type'].native}, not signed data"
    return _signed_data_problem(info["content"], "data", anchors)


def _der_is_tight(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Every constructed element is exactly filled by its children, lengths are minimal, and no
    end-of-content (zero) elements appear: no bytes can hide between the parsed values."""
    end = len(data) if end is None else end
    pos = start
    try:
        while pos < end:
            content_start, content_end, constructed = _der_element(data, pos)
            if content_end > end or (constructed and not _der_is_tight(data, content_start, content_end)):
                return False
            pos = content_end
    except (IndexError, ValueError):
        return False
    return pos == end and (start > 0 or _der_element(data, 0)[1] == end)


def _der_element(data: bytes, pos: int) -> tuple[int, int, bool]:
    """Content start, content end and constructed flag of the DER element at `pos`."""
    tag = data[pos]
    if tag == 0:
        raise ValueError("end-of-content element in DER")
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number form
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    first = data[pos]
    pos += 1
    length = first
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or data[pos] == 0:
            raise ValueError("indefinite or non-minimal length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80:
            raise ValueError("non-minimal length")
    if pos + length > len(data):
        raise ValueError("truncated element")
    return pos, pos + length, bool(tag & 0x20)


def _signed_data_problem(signed: cms.SignedData, content_type: str, anchors: TrustAnchors | None) -> str | None:
    infos = list(signed["signer_infos"])
    uses_key_id = any(si["sid"].name == "subject_key_identifier" for si in infos)
    expected_version = "v3" if uses_key_id or content_type != "data" else "v1"
    if signed["version"].native != expected_version:
        return f"has version {signed['version'].native}, not {expected_version}"
    if [a.dump() for a in signed["digest_algorithms"]] != [si["digest_algorithm"].dump() for si in infos]:
        return "lists digest algorithms its signer does not use"
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != content_type:
        return f"declares content type {encapsulated['content_type'].native}"
    if content_type == "data" and encapsulated["content"].native is not None:
        return "encapsulates content although the signature is detached"
    if signed["crls"].native:
        return "carries revocation lists, which auditor never writes there"
    if anchors is not None and not _embedded_certificates_intact(signed, anchors):
        return "carries an altered certificate"
    return next(filter(None, map(_signer_info_problem, infos)), None)


def _signer_info_problem(info: cms.SignerInfo) -> str | None:
    expected = "v3" if info["sid"].name == "subject_key_identifier" else "v1"
    if info["version"].native != expected:
        return f"has a signer version {info['version'].native}, not {expected}"
    for attribute in info["unsigned_attrs"] if info["unsigned_attrs"] else []:
        if attribute["type"].native != "signature_time_stamp_token":
            return f"has an unexpected unsigned attribute {attribute['type'].native}"
        for token in attribute["values"]:  # the TSA's chain is checked by pyHanko, not against our roots
            problem = _signed_data_problem(token["content"], "tst_info", None)
            if problem:
                return f"timestamp token {problem}"
    return None


def _embedded_certificates_intact(signed_data: cms.SignedData, anchors: TrustAnchors) -> bool:
    """CMS carries its certificates outside the signed bytes: each must verify under an issuer
    found among them or the trusted roots, or a flipped byte there would go unnoticed."""
    choices = list(signed_data["certificates"] or [])
    if any(choice.name != "certificate" for choice in choices):
        return False
    carried = [x509.load_der_x509_certificate(choice.chosen.dump()) for choice in choices]
    pool = carried + list(anchors.certs)  # no issuer at hand counts as altered
    return all(any(_issued_by(cert, issuer) for issuer in pool if issuer.subject == cert.issuer) for cert in carried)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _validated(
    validate: Callable[[ValidationContext], S], anchors: TrustAnchors
) -> tuple[S, str | None]:
    """Run `validate` against the anchors; if path building itself crashes (pyHanko asserts on a
    root whose name matches but whose key type differs), check integrity with no roots instead."""
    try:
        return validate(anchors.context()), None
    except Exception as exc:  # noqa: BLE001 -- any failure to build the path means "not trusted"
        return validate(TrustAnchors((), "none").context()), f"{type(exc).__name__}: {exc}".rstrip(": ")


def _judge_signature(
    summary: SignatureSummary,
    status: SignatureStatus,
    findings: _Findings,
    anchors: TrustAnchors,
    what: str | None = None,
    path_error: str | None = None,
) -> None:
    name = what or f"signature {summary.field}"
    if not summary.intact:
        findings.invalid.append(f"{name}: the signed bytes were altered (digest or signature mismatch)")
    elif not summary.trusted:
        problem = getattr(status, "trust_problem_indic", None)
        detail = f" ({problem.name})" if problem is not None and path_error is None else ""
        detail = f" (path validation failed: {path_error})" if path_error else detail
        findings.untrusted.append(
            f"{name}: signer {summary.signer} does not chain to the trusted root{detail}; trusted: {anchors.description}"
        )


def _verdict(
    path: Path, kind: Literal["pdf", "detached"], findings: _Findings, summaries: list[SignatureSummary], anchors: TrustAnchors
) -> FileVerdict:
    return FileVerdict(
        path=str(path),
        kind=kind,
        status=findings.status,
        signer=summaries[0].signer if summaries else None,
        trusted_root=anchors.description,
        reasons=findings.invalid + findings.untrusted,
        notes=findings.notes,
        signatures=summaries,
    )


def _subject(cert: asn1_x509.Certificate) -> str:
    return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()


def _read(path: Path, findings: _Findings) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        hint = "; was the file signed (no .p7s for drafts)?" if path.suffix == ".p7s" else ""
        findings.invalid.append(f"{path.name} is missing{hint}")
    except OSError as exc:
        findings.invalid.append(f"cannot read {path}: {exc.strerror or exc}")
    return None


def _read_quiet(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
