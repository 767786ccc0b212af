"""The keys folder's certificate revocation list: `revoked.crl`, signed by the root.

Format (RFC 5280, X.509 v2 CRL, DER), written by `auditor keys init` (empty, number 1) and
`auditor keys revoke` (one entry more each time):

- issuer: the root's subject; signature: the root key, SHA-256; an authority key identifier;
- a CRL number that increases by one at every issue;
- thisUpdate: when it was issued; nextUpdate: the root's own end. The list is issued offline,
  by whoever holds the root key, and reissued at every revocation, so it stays current until the
  root ends; an operator who publishes it at a `--crl-url` copies the file there after each issue;
- one entry per revoked certificate: its serial, the revocation date (`--at` when the
  revocation is backdated to a key compromise, else the time of issue), the reason code, and an
  invalidity date when backdated.

It is read back bounded and only when the root's signature over it holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes
from auditor.keys.certificates import PrivateKey

CRL_FILE = "revoked.crl"
MAX_CRL_BYTES = 8 * 1024 * 1024
_REVOKED_FOLDER_DEPTH = 2  # a reviewer's folder `<keys>/reviewers/<slug>` finds `<keys>/revoked.crl`


def write_crl(
    folder: Path,
    root_key: PrivateKey,
    root: x509.Certificate,
    entries: Sequence[x509.RevokedCertificate],
    *,
    number: int = 1,
    now: dt.datetime | None = None,
) -> Path:
    """Issue the CRL of `root` holding `entries` as `folder/revoked.crl` (atomically)."""
    now = now or dt.datetime.now(dt.UTC)
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now)
        .next_update(max(root.not_valid_after_utc, now))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(root_key, hashes.SHA256())
    return atomic_write_bytes(Path(folder) / CRL_FILE, crl.public_bytes(serialization.Encoding.DER))


def revoked_entry(serial: int, when: dt.datetime, reason: x509.ReasonFlags, *, backdated: bool) -> x509.RevokedCertificate:
    """One CRL entry; a backdated one also states its invalidity date (when the key was compromised)."""
    builder = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
    builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    if backdated:
        builder = builder.add_extension(x509.InvalidityDate(when.replace(tzinfo=None)), critical=False)
    return builder.build()


def read_crl(folder: Path, root: x509.Certificate) -> x509.CertificateRevocationList | None:
    """`folder/revoked.crl` (DER or PEM), checked to be issued and signed by `root`; None when
    there is none. A damaged or foreign list is a `SigningError`, never ignored."""
    path = Path(folder) / CRL_FILE
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_CRL_BYTES:
            raise ValueError(f"larger than {MAX_CRL_BYTES >> 20} MiB")
        data = path.read_bytes()
        crl = x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_crl(data)
    except (OSError, ValueError) as exc:
        raise SigningError(f"the revocation list {path} cannot be read ({exc}); restore it from a backup") from exc
    if crl.issuer != root.subject or not crl.is_signature_valid(root.public_key()):  # type: ignore[arg-type]
        raise SigningError(f"the revocation list {path} is not signed by the root {root.subject.rfc4514_string()}; restore it from a backup")
    return crl


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL number of `crl` (0 for a list without one)."""
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def find_local_crl(folder: Path, root: x509.Certificate) -> x509.CertificateRevocationList | None:
    """The root's CRL for an identity kept in `folder`: in the folder itself, or in the keys
    folder above a reviewer's folder (`<keys>/reviewers/<slug>`), when that one is `root`'s."""
    folder = Path(folder)
    for candidate in [folder, *folder.parents[:_REVOKED_FOLDER_DEPTH]]:
        if (candidate / CRL_FILE).is_file():
            try:
                return read_crl(candidate, root)
            except SigningError:
                if candidate == folder:
                    raise  # the identity's own list: damaged
                # a folder above holding another root's list is not this identity's CA
    return None


def revocation_of(crl: x509.CertificateRevocationList | None, cert: x509.Certificate) -> x509.RevokedCertificate | None:
    """The entry of `crl` that revokes `cert`, if any."""
    if crl is None or crl.issuer != cert.issuer:
        return None
    return crl.get_revoked_certificate_by_serial_number(cert.serial_number)
