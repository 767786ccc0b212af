"""Reviewer identities: a signing certificate under the organisation root that names the reviewer's
role, in a keys folder of its own, and the same key as a PKCS#12 file for PDF readers.

One person holds one reviewer certificate: the keys folder keeps a register of the names it has
issued reviewer certificates to (`reviewers/register.json`), and a second certificate for a name
already there is refused unless it renews (replaces) the first, so that one person's two keys can
never pass as two reviewers.

A reviewer's folder (default `<keys>/reviewers/<slug>/`) is an ordinary keys folder that
`load_identity(folder, passphrase)` reads, plus `<slug>.p12`: key, certificate and chain under
the same passphrase, PBES2 (PBKDF2-HMAC-SHA256, `KDF_ITERATIONS`, AES-256-CBC) with an
HMAC-SHA256 MAC, which OpenSSL 3, pyHanko and current PDF readers import. The MAC's key is
derived with `KDF_ITERATIONS` too (RFC 7292 B.2): cryptography writes 2 048, which would let a
guesser test passphrases through the MAC 300 times faster than through the key file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pydantic import BaseModel, TypeAdapter

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes
from auditor.keys.folder import IdentityPaths
from auditor.keys.identity import SigningIdentity, load_identity
from auditor.keys.issue import DEFAULT_KEY_TYPE, KeyType, RevocationUrls, check_subject_text, issue_identity
from auditor.keys.protection import KDF_ITERATIONS, REVIEWER_PASSPHRASE_ENV, check_new_passphrase

REVIEWERS_DIR = "reviewers"
REGISTER_FILE = "register.json"
P12_SUFFIX = ".p12"
MAX_SLUG = 48
MAX_REGISTER_BYTES = 4 * 1024 * 1024


class IssuedReviewer(BaseModel):
    """One reviewer certificate the root issued, as the register keeps it."""

    name: str
    role: str
    certificate_sha256: str
    folder: str
    issued_at: datetime
    replaces: str | None = None  # the certificate SHA-256 this one renewed


@dataclass(frozen=True)
class ReviewerPaths:
    """Where one reviewer's identity is: its keys folder and its PKCS#12 file."""

    identity: IdentityPaths
    p12: Path


def reviewer_slug(name: str) -> str:
    """A file-name form of `name`: ASCII lower case, words joined by "-" (e.g. "jane-doe")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_SLUG].strip("-")
    if not slug:
        raise SigningError(f"the reviewer name {name!r} has no letters or digits to name a folder: give a real name")
    return slug


def reviewer_paths(keys_dir: Path, name: str, out: Path | None = None, *, renew: bool = False) -> ReviewerPaths:
    """The files of reviewer `name` (in `out`, default `keys_dir/reviewers/<slug>`, or
    `<slug>-<date>` when renewing where that is taken); refused if taken."""
    slug = reviewer_slug(name)
    folder = Path(out) if out is not None else Path(keys_dir) / REVIEWERS_DIR / slug
    if out is None and renew and folder.exists():
        folder = folder.with_name(f"{slug}-{datetime.now(UTC):%Y%m%d%H%M}")
    paths = ReviewerPaths(IdentityPaths.of(folder), folder / f"{slug}{P12_SUFFIX}")
    taken = next((p for p in (paths.identity.key, paths.p12) if p.exists()), None)
    if taken is not None:
        raise SigningError(
            f"{taken} already exists: this reviewer has keys; choose another folder (--out) or "
            "move the old identity away first; keys are never overwritten"
        )
    return paths


def add_reviewer(
    ca_folder: Path,
    root_passphrase: str,
    name: str,
    role: str,
    passphrase: str,
    *,
    out: Path | None = None,
    root_key: Path | None = None,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    renew: bool = False,
    urls: RevocationUrls | None = None,
) -> ReviewerPaths:
    """Issue reviewer `name` with `role` under the root of `ca_folder` and write its PKCS#12 file.

    Nothing is written unless the root key opens with `root_passphrase`. A name that holds a
    reviewer certificate already is refused unless `renew`. `urls` (CRL DP, OCSP) default to
    the seal's.
    """
    name, role = check_subject_text("name", name), check_subject_text("role", role)
    check_new_passphrase(passphrase, REVIEWER_PASSPHRASE_ENV)
    register = read_register(ca_folder)
    earlier = check_new_reviewer(register, name, renew)
    paths = reviewer_paths(ca_folder, name, out, renew=renew)
    issue_identity(
        ca_folder,
        root_passphrase,
        paths.identity.folder,
        passphrase,
        common_name=name,
        root_key=root_key,
        role=role,
        key_type=key_type,
        urls=urls,
    )
    identity = load_identity(paths.identity.folder, passphrase)
    atomic_write_bytes(paths.p12, pkcs12_bytes(identity, passphrase), 0o600)
    entry = IssuedReviewer(
        name=name, role=role, certificate_sha256=identity.fingerprint, folder=str(paths.identity.folder.absolute()),
        issued_at=datetime.now(UTC), replaces=earlier.certificate_sha256 if earlier else None,
    )
    _write_register(ca_folder, [*register, entry])
    return paths


def read_register(ca_folder: Path) -> list[IssuedReviewer]:
    """The reviewer certificates issued from `ca_folder`, oldest first (empty before the first)."""
    path = Path(ca_folder) / REVIEWERS_DIR / REGISTER_FILE
    if not path.is_file():
        return []
    try:
        if path.stat().st_size > MAX_REGISTER_BYTES:
            raise ValueError(f"larger than {MAX_REGISTER_BYTES >> 20} MiB")
        return _REGISTER.validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningError(f"the reviewer register {path} cannot be read ({exc}); restore it from a backup") from exc


def check_new_reviewer(register: list[IssuedReviewer], name: str, renew: bool) -> IssuedReviewer | None:
    """The certificate a new one for `name` renews (None for a new person); `SigningError` when
    `name` holds a certificate already and `renew` is not set."""
    key = person_key(name)
    earlier = next((entry for entry in reversed(register) if person_key(entry.name) == key), None)
    if earlier is not None and not renew:
        raise SigningError(
            f"{earlier.name} already has a reviewer certificate (issued {earlier.issued_at:%Y-%m-%d}, in {earlier.folder}); "
            "one person holds one reviewer key: pass --renew to issue a new one that replaces it"
        )
    return earlier


def person_key(name: str) -> str:
    """How two reviewer names are compared: Unicode-normalised, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _write_register(ca_folder: Path, entries: list[IssuedReviewer]) -> None:
    path = Path(ca_folder) / REVIEWERS_DIR / REGISTER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, _REGISTER.dump_json(entries, indent=2) + b"\n", 0o600)


_REGISTER = TypeAdapter(list[IssuedReviewer])


def pkcs12_bytes(identity: SigningIdentity, passphrase: str) -> bytes:
    """`identity` as PKCS#12 (key, certificate, chain with root), encrypted with `passphrase`."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ITERATIONS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase.encode("utf-8"))
    )
    data = pkcs12.serialize_key_and_certificates(
        identity.info.common_name.encode("utf-8"), identity.key, identity.cert, list(identity.chain), encryption
    )
    return _strong_mac(data, passphrase)


def _strong_mac(data: bytes, passphrase: str) -> bytes:
    """`data` (a PFX) with its HMAC-SHA256 recomputed under a new salt and `KDF_ITERATIONS`."""
    pfx = asn1_pkcs12.Pfx.load(data)
    salt = os.urandom(16)
    key = _pkcs12_kdf(passphrase, salt, KDF_ITERATIONS)
    digest = hmac.new(key, pfx["auth_safe"]["content"].native, hashlib.sha256).digest()
    pfx["mac_data"] = {
        "mac": {"digest_algorithm": {"algorithm": "sha256"}, "digest": digest},
        "mac_salt": salt,
        "iterations": KDF_ITERATIONS,
    }
    return pfx.dump(force=True)


def _pkcs12_kdf(passphrase: str, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 B.2 with SHA-256, ID 3 (MAC key), 32 bytes: one hash block is all it needs."""
    block = 64

    def stretched(value: bytes) -> bytes:
        size = block * -(-len(value) // block)
        return (value * (size // len(value) + 1))[:size]

    secret = (passphrase + "\0").encode("utf-16-be")
    digest = hashlib.sha256(bytes([3]) * block + stretched(salt) + stretched(secret)).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha256(digest).digest()
    return digest

