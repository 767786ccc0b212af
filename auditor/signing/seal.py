"""Seal report files: a PAdES signature inside the PDF, detached CMS for the HTML and the JSON.

Choices, and why:

- **PAdES baseline B-B** (ETSI EN 319 142-1), subfilter `ETSI.CAdES.detached`, SHA-256. With a
  timestamp authority (`tsa_url`, CLI `--tsa-url`, env `AUDITOR_TSA_URL`) the signature carries
  an RFC 3161 timestamp and becomes **B-T**; nothing here calls the network unless a URL is given.
- **B-LT**: with a revocation source (CRL/OCSP URLs in the signer's certificates, or the keys
  folder's `revoked.crl`), the signature's own revision carries a DSS with the certificates and
  revocation data the signer was validated with (`auditor.signing.ltv`). No DSS-only revision follows a
  signature; `auditor archive extend` later adds DSS updates with document timestamps (B-LTA).
- **Certification with DocMDP level 2** ("form filling and signing allowed") for the first
  signature of a document; every later signature (a reviewer's approval in a new revision) is an
  approval signature. Level 1 ("no changes") would make any review signature break the seal;
  level 2 keeps the seal valid under a later signed revision while any other change (text,
  pages, embedded files, an unsigned update) still shows up as a modification.
- **Invisible signature**: the report template draws the seal block from the record's `seal`
  field (see `seal_fields`). A pyHanko stamp would add an appearance stream with a standard-14
  font that is not embedded, which breaks PDF/A; an invisible field has a zero-size widget,
  which PDF/A allows without an appearance.
- **PDF/A-3 is kept**: the file stays PDF 1.7 (ECDSA keys would otherwise register the
  ISO 32002 extension and raise the version to 2.0), and the Info `/Producer` is set to the
  value pyHanko writes into the XMP `pdf:Producer`, so the two stay equal.
- **Detached CMS** (`.p7s`, DER, CAdES signed attributes) over the exact file bytes, certificates
  included; `openssl cms -verify -binary -inform DER -content FILE -in FILE.p7s -CAfile ROOT`
  accepts it.
- **Signed manifest**: `manifest.json` lists every file of the folder (path, size, SHA-256), the
  report id, the record's SHA-256 and the seal certificate's SHA-256, and `manifest.json.p7s`
  signs it: a file copied from another report, added or removed shows at `auditor verify`.
- The pyHanko signer uses the key parsed once by `auditor.keys.load_identity` (pyHanko's own
  `SimpleSigner` re-parses the DER key on every signature, ~150 ms for RSA-3072).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pydantic import BaseModel, ConfigDict, Field
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.signers import constants
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.stamp.base import BaseStampStyle
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from auditor.errors import ArchiveError, SigningError
from auditor.evidence.model import Note
from auditor.files import atomic_write_bytes, atomic_write_text, sha256_file
from auditor.keys import SigningIdentity, create_identity, find_local_crl, load_identity
from auditor.names import (
    HTML_NAME,
    MANIFEST_NAME,
    PDF_NAME,
    RECORD_NAME,
    RELATIVE_PATH_PATTERN,
    SIGNATURE_SUFFIX,
    RelativePath,
    Sha256,
)
from auditor.signing.ltv import check_not_revoked, fetcher, has_revocation_source, signing_context, timestamper

TSA_ENV = "AUDITOR_TSA_URL"
SEAL_FIELD = "AuditorSeal"
DEFAULT_REASON = "Evidence report sealed by auditor"
DEMO_KEYS_DIR = "demo-keys"
MANIFEST_FILES = (MANIFEST_NAME, MANIFEST_NAME + SIGNATURE_SUFFIX)  # the two files the manifest cannot list
_DIGEST = "sha256"


@dataclass(frozen=True)
class SealSettings:
    """Who seals a report and with which timestamp authority; without an identity the report is
    an unsigned draft, marked so on every page."""

    identity: SigningIdentity | None = None
    tsa_url: str | None = None


class _CachedKeySigner(SimpleSigner):
    """`SimpleSigner` that signs with an already parsed `cryptography` key."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._key = identity.key
        super().__init__(
            signing_cert=_asn1_cert(identity.cert),
            signing_key=asn1_keys.PrivateKeyInfo.load(
                identity.key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in identity.chain]),
        )

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), algorithm)
        if mechanism == "ecdsa" and isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        return super().sign_raw(data, digest_algorithm)  # e.g. RSA-PSS: pyHanko's slower path


class _Pdf17Signer(signers.PdfSigner):
    """PdfSigner that registers only the ESIC (PAdES) extension, keeping the file at PDF 1.7."""

    def register_extensions(self, pdf_out, *, md_algorithm: str) -> None:
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(constants.ESIC_EXTENSION_1)


@lru_cache(maxsize=16)
def _signer(identity: SigningIdentity) -> _CachedKeySigner:
    return _CachedKeySigner(identity)


def _asn1_cert(cert: object) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))  # type: ignore[attr-defined]


def sign_pdf(
    src: Path,
    dst: Path,
    identity: SigningIdentity,
    *,
    tsa_url: str | None = None,
    reason: str = DEFAULT_REASON,
    field_name: str | None = None,
) -> Path:
    """Sign `src` into `dst` (which may be `src`) atomically; return `dst`.

    The first signature of a document certifies it (DocMDP level 2); later ones approve.
    `field_name` defaults to "AuditorSeal", or "AuditorSignature<n>" for later signatures.
    """
    identity.check_usable()
    data = _read(Path(src))
    with signing_errors(src, tsa_url):
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        existing = [s.field_name for s in writer.prev.embedded_signatures]
        name = field_name or (SEAL_FIELD if not existing else f"AuditorSignature{len(existing) + 1}")
        out = sign_revision(writer, identity, name, reason=reason, certify=not existing, tsa_url=tsa_url)
    return atomic_write_bytes(Path(dst), out)


def sign_revision(
    writer: IncrementalPdfFileWriter,
    identity: SigningIdentity,
    field_name: str,
    *,
    reason: str,
    certify: bool,
    tsa_url: str | None = None,
    stamp_style: BaseStampStyle | None = None,
) -> bytes:
    """Sign `writer`'s pending revision (the updates already made in it and the signature are one
    revision) in `field_name`; return the whole file. A certifying signature allows form filling
    and signing (DocMDP level 2). With a revocation source, the revision also carries the DSS
    (B-LT, `auditor.signing.ltv`). Call it inside `signing_errors`."""
    _align_producer(writer)
    stamper = timestamper(tsa_url)

    async def sign() -> bytes:
        async with fetcher() as backend:
            context = await signing_context(identity, stamper, backend)
            meta = signers.PdfSignatureMetadata(
                field_name=field_name,
                reason=reason,
                md_algorithm=_DIGEST,
                subfilter=fields.SigSeedSubFilter.PADES,
                certify=certify,
                docmdp_permissions=fields.MDPPerm.FILL_FORMS,
                embed_validation_info=context is not None,
                signer_key_usage=set(),  # key usage is judged by `auditor verify` (and at import), not here
                validation_context=context,
                dss_settings=DSSContentSettings(placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False),
            )
            signer = _Pdf17Signer(meta, _signer(identity), timestamper=stamper, stamp_style=stamp_style)
            return (await signer.async_sign_pdf(writer)).getvalue()

    return asyncio.run(sign())


def _align_producer(writer: IncrementalPdfFileWriter) -> None:
    """Make Info /Producer equal the XMP pdf:Producer pyHanko writes (a PDF/A requirement)."""
    info_ref = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
    if isinstance(info_ref, generic.IndirectObject):
        info = info_ref.get_object()
        info["/Producer"] = generic.TextStringObject(VENDOR)
        writer.mark_update(info_ref)


@contextmanager
def signing_errors(src: Path, tsa_url: str | None) -> Iterator[None]:
    """Turn pyHanko and timestamp-client failures into one-line `SigningError`s."""
    try:
        yield
    except PyHankoSigningError as exc:
        if not isinstance(exc.__cause__, (PathBuildingError, PathValidationError)):
            raise SigningError(f"could not sign {src}: {exc}; is it an unencrypted PDF?") from exc
        raise SigningError(
            f"could not sign {src}: the signer's certificate did not validate ({exc.__cause__}); is it revoked "
            "or expired? check `auditor keys show`"
        ) from exc
    except (PdfError, ValueError) as exc:
        raise SigningError(f"could not sign {src}: {exc}; is it an unencrypted PDF?") from exc
    except (TimestampRequestError, OSError) as exc:  # aiohttp errors derive from OSError
        if not tsa_url:
            raise
        raise SigningError(
            f"the timestamp authority {tsa_url} did not answer ({exc}); check the URL and the "
            f"network, or sign without a timestamp (unset {TSA_ENV} / drop --tsa-url) for PAdES B-B"
        ) from exc


def sign_detached(path: Path, identity: SigningIdentity, *, tsa_url: str | None = None) -> Path:
    """Write `path.p7s`: a detached CMS signature (DER) over the exact bytes of `path`."""
    path = Path(path)
    signature = sign_bytes(_read(path), identity, tsa_url=tsa_url, what=path)
    return atomic_write_bytes(path.with_name(path.name + SIGNATURE_SUFFIX), signature)


def sign_bytes(data: bytes, identity: SigningIdentity, *, tsa_url: str | None = None, what: object = "data") -> bytes:
    """A detached CMS signature (DER, CAdES attributes, with a timestamp when `tsa_url` is set)
    over `data`; `what` names the signed thing in errors."""
    identity.check_usable()
    check_not_revoked(identity, find_local_crl(identity.paths.folder, identity.root))
    with signing_errors(Path(str(what)), tsa_url):
        content_info = asyncio.run(
            _signer(identity).async_sign_general_data(
                data, _DIGEST, detached=True, use_cades=True, timestamper=timestamper(tsa_url)
            )
        )
    return bytes(content_info.dump())


def sign_report_folder(
    folder: Path, identity: SigningIdentity, *, tsa_url: str | None = None
) -> list[Path]:
    """Sign report.pdf in place, write report.html.p7s and evidence.json.p7s, then the signed
    manifest (manifest.json and manifest.json.p7s) that binds every file to this report.

    Call it on the staging folder before the report folder is moved into place, so that a
    failed signature leaves no unsigned report where a signed one was expected.
    """
    folder = Path(folder)
    missing = [n for n in (PDF_NAME, HTML_NAME, RECORD_NAME) if not (folder / n).is_file()]
    if missing:
        raise ArchiveError(f"cannot sign {folder}: {', '.join(missing)} missing; render the report first")
    identity.check_usable()
    pdf = sign_pdf(folder / PDF_NAME, folder / PDF_NAME, identity, tsa_url=tsa_url)
    signatures = [sign_detached(folder / n, identity, tsa_url=tsa_url) for n in (HTML_NAME, RECORD_NAME)]
    manifest = write_manifest(folder, identity)
    return [pdf, *signatures, manifest, sign_detached(manifest, identity, tsa_url=tsa_url)]


class ManifestEntry(BaseModel):
    """One file of a report folder, as it was sealed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: RelativePath = Field(max_length=1024)  # POSIX, relative to the folder
    size: int = Field(ge=0)
    sha256: Sha256


class FolderManifest(BaseModel):
    """`manifest.json`: every file of one report folder, bound to its report and its seal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["auditor report manifest"] = "auditor report manifest"
    version: Literal[1] = 1
    report_id: str = Field(max_length=256)
    record_sha256: Sha256
    seal_certificate_sha256: Sha256
    files: list[ManifestEntry]

    def text(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, one final newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def build_manifest(folder: Path, identity: SigningIdentity) -> FolderManifest:
    """The manifest of `folder` as it is now: every regular file but the manifest's own two."""
    folder = Path(folder)
    record = folder / RECORD_NAME
    return FolderManifest(
        report_id=_report_id(record),
        record_sha256=sha256_file(record),
        seal_certificate_sha256=identity.fingerprint,
        files=[
            ManifestEntry(path=relative, size=path.stat().st_size, sha256=sha256_file(path))
            for relative, path in sorted(_folder_files(folder).items())
        ],
    )


def write_manifest(folder: Path, identity: SigningIdentity) -> Path:
    """Write `folder/manifest.json` (to be signed next); return its path."""
    return atomic_write_text(Path(folder) / MANIFEST_NAME, build_manifest(folder, identity).text())


def _report_id(record: Path) -> str:
    """`report.report_id` of an evidence.json, read as plain JSON."""
    try:
        report_id = json.loads(_read(record))["report"]["report_id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"cannot sign: {record} holds no report.report_id; write the evidence record first") from exc
    if not isinstance(report_id, str):
        raise ArchiveError(f"cannot sign: report.report_id in {record} is not a string")
    return report_id


def _folder_files(folder: Path) -> dict[str, Path]:
    """Regular files below `folder` by POSIX relative path, without the manifest's own two."""
    files = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink() or not (path.is_dir() or path.is_file()) or not re.fullmatch(RELATIVE_PATH_PATTERN, relative):
            raise ArchiveError(f"cannot sign {folder}: {relative} is not a report file (odd name, link or device); remove it")
        if path.is_file() and relative not in MANIFEST_FILES:
            files[relative] = path
    return files


def seal_fields(identity: SigningIdentity | None) -> dict[str, object]:
    """Values for the evidence record's `seal` section (`SealInfo(**seal_fields(identity))`); its
    note is a code the report words ("seal.unsigned", "seal.sealed" with the signer and the root)."""
    if identity is None:
        return {"signed": False, "note": Note(code="seal.unsigned")}
    note = Note(code="seal.sealed", params={
        "subject": identity.subject,
        "root": identity.root.subject.rfc4514_string(),
        "root_sha256": identity.root.fingerprint(hashes.SHA256()).hex(),
        "validation_data": has_revocation_source(identity),  # embedded (PAdES B-LT when timestamped), or no source
        "throwaway": identity.info.throwaway,
    })
    return {
        "signed": True,
        "signer": identity.subject,
        "certificate_sha256": identity.fingerprint,
        "throwaway_identity": identity.info.throwaway,
        "note": note,
    }


def create_demo_identity(output_folder: Path) -> SigningIdentity:
    """A throwaway seal in `output_folder/demo-keys`, its keys locked with forgotten passphrases.

    Its `root.cert.pem` lets `auditor verify --trust` check the demo reports; nobody can sign
    with its key, or issue under its root, after this process ends.
    """
    folder = Path(output_folder) / DEMO_KEYS_DIR
    passphrase = secrets.token_urlsafe(24)
    create_identity(
        folder,
        passphrase,
        root_passphrase=secrets.token_urlsafe(24),
        common_name="auditor demo seal (THROWAWAY: not a real identity)",  # no comma: DNs escape it
        organisation="auditor demo",
        valid_days=365,
        throwaway=True,
    )
    return load_identity(folder, passphrase)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from exc
