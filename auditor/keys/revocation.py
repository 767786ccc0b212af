"""Revoking a seal or a reviewer certificate: a new `revoked.crl`, signed by the root.

The certificate to revoke is named as the seal of the keys folder, a reviewer of its register,
a serial number of one of those, or a certificate file; it must have been issued by the folder's
root. The root key's passphrase is needed, as for `add_reviewer`. Revocations are final: a
serial already on the list is refused, and so is a revocation dated in the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from cryptography import x509

from auditor.errors import SigningError
from auditor.keys.certificates import read_certificates, signed_by, subject_text
from auditor.keys.crl import crl_number, read_crl, revocation_of, revoked_entry, write_crl
from auditor.keys.folder import IdentityPaths
from auditor.keys.issue import read_root_certificate, read_root_key
from auditor.keys.reviewers import person_key, read_register

Reason = Literal[
    "unspecified", "key-compromise", "affiliation-changed", "superseded", "cessation-of-operation", "privilege-withdrawn"
]
REASONS: tuple[Reason, ...] = get_args(Reason)
_FLAGS = {reason: x509.ReasonFlags[reason.replace("-", "_")] for reason in REASONS}
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Target:
    """Which certificate to revoke: exactly one of the four."""

    seal: bool = False
    reviewer: str | None = None
    serial: int | None = None
    cert_file: Path | None = None


@dataclass(frozen=True)
class Revoked:
    """What `revoke` did: the certificate, the CRL file and its number."""

    cert: x509.Certificate
    crl: Path
    number: int
    revoked_at: dt.datetime


def find_certificate(ca_folder: Path, target: Target) -> x509.Certificate:
    """The certificate `target` names, issued by the root of `ca_folder`."""
    paths = IdentityPaths.of(ca_folder)
    root = read_root_certificate(paths)
    if sum((target.seal, target.reviewer is not None, target.serial is not None, target.cert_file is not None)) != 1:
        raise SigningError("name exactly one certificate to revoke: --seal, --reviewer NAME, --serial N or --cert FILE")
    cert = _certificate(paths, target)
    if cert.serial_number == root.serial_number and cert.subject == root.subject:
        raise SigningError("the root cannot revoke itself: stop trusting root.cert.pem instead (replace it at verifiers)")
    if not signed_by(cert, root):
        raise SigningError(f"{subject_text(cert.subject)} was not issued by the root of {paths.folder}: only its own certificates can be revoked here")
    return cert


def revoke(
    ca_folder: Path,
    root_passphrase: str,
    cert: x509.Certificate,
    *,
    reason: Reason = "unspecified",
    at: dt.datetime | None = None,
    root_key: Path | None = None,
    now: dt.datetime | None = None,
) -> Revoked:
    """Put `cert` on the root's CRL in `ca_folder` (dated `at`, default now) and reissue it."""
    paths = IdentityPaths.of(ca_folder)
    root = read_root_certificate(paths)
    now = now or dt.datetime.now(dt.UTC)
    when = _revocation_time(at, now)
    key = read_root_key(paths, root, root_key, root_passphrase)
    old = read_crl(paths.folder, root)
    earlier = revocation_of(old, cert)
    if earlier is not None:
        raise SigningError(
            f"{subject_text(cert.subject)} (serial {cert.serial_number:x}) is already revoked since "
            f"{earlier.revocation_date_utc:%Y-%m-%d %H:%M} UTC: nothing to do"
        )
    number = crl_number(old) + 1 if old is not None else 1
    entries = [*(old or []), revoked_entry(cert.serial_number, when, _FLAGS[reason], backdated=at is not None)]
    path = write_crl(paths.folder, key, root, entries, number=number, now=now)
    return Revoked(cert, path, number, when)


def parse_serial(text: str) -> int:
    """A serial number as `openssl x509 -serial` and `auditor keys show` print it (hex, with or
    without colons or 0x), or a `SigningError`."""
    digits = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        if not digits or len(digits) > 40:
            raise ValueError(text)
        return int(digits, 16)
    except ValueError as exc:
        raise SigningError(f"serial {text[:60]!r} is not a hexadecimal serial number (e.g. 3f:a2:…)") from exc


def _certificate(paths: IdentityPaths, target: Target) -> x509.Certificate:
    if target.cert_file is not None:
        certs = read_certificates(target.cert_file)
        if not certs:
            raise SigningError(f"{target.cert_file} holds no certificate: give the PEM file of the certificate to revoke")
        return certs[0]
    known = _known_certificates(paths)
    if target.seal:
        if paths.cert.name not in known:
            raise SigningError(f"no seal certificate at {paths.cert}: give its file with --cert")
        return known[paths.cert.name]
    if target.reviewer is not None:
        return _reviewer_certificate(paths, target.reviewer)
    found = [c for c in known.values() if c.serial_number == target.serial]
    if not found:
        raise SigningError(
            f"no certificate with serial {target.serial:x} in {paths.folder} or its reviewer register: "
            "give the certificate file with --cert"
        )
    return found[0]


def _known_certificates(paths: IdentityPaths) -> dict[str, x509.Certificate]:
    """The seal's certificate and every registered reviewer certificate still on disk, by where."""
    places = {paths.cert.name: paths.cert}
    places |= {entry.folder: IdentityPaths.of(Path(entry.folder)).cert for entry in read_register(paths.folder)}
    return {where: certs[0] for where, file in places.items() if file.is_file() and (certs := read_certificates(file))}


def _reviewer_certificate(paths: IdentityPaths, name: str) -> x509.Certificate:
    """The current certificate of reviewer `name` (the last the register lists for that name)."""
    entries = [e for e in read_register(paths.folder) if person_key(e.name) == person_key(name)]
    if not entries:
        raise SigningError(f"no reviewer named {name!r} in the register of {paths.folder}: check the name (`auditor keys show`)")
    file = IdentityPaths.of(Path(entries[-1].folder)).cert
    certs = read_certificates(file) if file.is_file() else []
    if not certs:
        raise SigningError(f"the certificate of {entries[-1].name} is not at {file} any more: give its file with --cert")
    return certs[0]


def _revocation_time(at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise SigningError("--at needs a time zone (e.g. 2026-03-01T09:00:00Z): a revocation date must be exact")
    if at > now + _CLOCK_SKEW:
        raise SigningError(f"--at {at.isoformat()} is in the future: a revocation can be backdated, not postdated")
    return at.astimezone(dt.UTC)
