"""Validation data a signature carries for long-term validation (PAdES B-LT), gathered at signing.

A PDF signature embeds, in a document security store (DSS) inside its own signed revision, the
certificates and revocation data (CRLs, OCSP responses) its signer's chain, and its timestamp
authority's, were validated with when it was made. Where they come from, and nothing else:

- the URLs in the signer's own certificates (CRL distribution point, OCSP responder), which the
  operator configured when the certificates were issued (`auditor keys init --crl-url`);
- the root's revocation list in the keys folder (`revoked.crl`, `auditor.keys.crl`), given to
  pyHanko as a local CRL;
- for the timestamp authority (configured by the operator too): the certificates its answer
  carries and the URLs in them. Its root is taken from that answer where the TSA includes it:
  at signing this only decides which validation data is gathered, never whether a signature is
  trusted; `auditor verify` judges that against its own trust anchors.

With neither URLs nor a local list (a demo seal, an imported seal without URLs) there is no
revocation source: the signature stays PAdES B-B, or B-T with a timestamp, as the record's seal
note says. A TSA chain that cannot be built leaves out only the TSA's validation data.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import InvalidCertificateError, PathBuildingError, PathValidationError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.path import ValidationPath

from auditor.errors import SigningError
from auditor.keys import SigningIdentity, find_local_crl, revocation_of
from auditor.keys.certificates import subject_text
from auditor.keys.issue import RevocationUrls

TSA_TIMEOUT_SECONDS = 10


class BestEffortPaths(TimeStamper):
    """A timestamp client whose own validation data is gathered where its chain can be built."""

    async def validation_paths(self, validation_context: ValidationContext) -> AsyncGenerator[ValidationPath, None]:
        try:
            async for path in super().validation_paths(validation_context):
                yield path
        except (PathBuildingError, PathValidationError, InvalidCertificateError):
            return  # the TSA's chain does not end in a root we know: its data is left out


class LtvTimeStamper(BestEffortPaths, HTTPTimeStamper):
    """The RFC 3161 client of auditor's signatures (best-effort validation data for the TSA)."""

    def __init__(self, url: str) -> None:
        HTTPTimeStamper.__init__(self, url, timeout=TSA_TIMEOUT_SECONDS)

    async def answer_roots(self) -> list[asn1_x509.Certificate]:
        """The self-signed certificates the TSA's answer carries (its root, where included)."""
        answer = await self.async_dummy_response("sha256")
        signed = answer["content"]
        certs = [c.chosen for c in signed["certificates"] or [] if isinstance(c.chosen, asn1_x509.Certificate)]
        return [c for c in certs if c.self_signed in ("maybe", "yes")]


def timestamper(tsa_url: str | None) -> LtvTimeStamper | None:
    """The timestamp client for `tsa_url`; None without one."""
    return LtvTimeStamper(tsa_url) if tsa_url else None


def has_revocation_source(identity: SigningIdentity) -> bool:
    """Whether a signature by `identity` can embed revocation data (URLs or a local list)."""
    return _has_urls(identity) or find_local_crl(identity.paths.folder, identity.root) is not None


@asynccontextmanager
async def fetcher() -> AsyncIterator[AIOHttpFetcherBackend]:
    """The HTTP client validation data is fetched with, closed when the work is done."""
    backend = AIOHttpFetcherBackend()
    try:
        yield backend
    finally:
        await backend.close()


async def signing_context(
    identity: SigningIdentity, stamper: TimeStamper | None, backend: AIOHttpFetcherBackend
) -> ValidationContext | None:
    """The context pyHanko validates the signer (and TSA) with before signing, recording what it
    used; None without a revocation source. A certificate the local list revokes is refused."""
    crl = find_local_crl(identity.paths.folder, identity.root)
    check_not_revoked(identity, crl)
    if crl is None and not _has_urls(identity):
        return None
    roots = [_asn1(identity.root)] + (await stamper.answer_roots() if isinstance(stamper, LtvTimeStamper) else [])
    return ValidationContext(
        trust_roots=roots,
        other_certs=[_asn1(c) for c in identity.intermediates],
        crls=[crl.public_bytes(serialization.Encoding.DER)] if crl is not None else [],
        allow_fetching=_has_urls(identity),
        revocation_mode="soft-fail",
        fetcher_backend=backend,
    )


def check_not_revoked(identity: SigningIdentity, crl: x509.CertificateRevocationList | None) -> None:
    """Raise `SigningError` when the keys folder's revocation list revokes `identity`."""
    entry = revocation_of(crl, identity.cert)
    if entry is not None:
        raise SigningError(
            f"the certificate of {subject_text(identity.cert.subject)} was revoked as of "
            f"{entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC: nothing is signed with it; issue a new one"
        )


def _has_urls(identity: SigningIdentity) -> bool:
    urls = [RevocationUrls.of(c) for c in (identity.cert, *identity.intermediates)]
    return any(u.crl_url or u.ocsp_url for u in urls)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

