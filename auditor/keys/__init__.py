"""Signing identities: the organisation seal's private key, its certificate and the trust root.

One concern per module, each stating its own facts:

- `certificates`  reading certificates; issuer, validity, key-match and signing-use checks
- `protection`    passphrases and the encrypted PKCS#8 key-file format (PBKDF2, rekeying)
- `folder`        the keys folder: file names, default place, writing and reading an identity
- `identity`      `SigningIdentity` and `load_identity` with its cache
- `crl`           the root's revocation list `revoked.crl`: issuing and reading it
- `issue`         key types, `create_identity` (root and seal) and `issue_identity` (reviewers),
                  with the CRL/OCSP URLs they carry
- `imports`       `import_identity` from PKCS#12 or PEM files
- `reviewers`     `add_reviewer`: a reviewer's identity with its role, and its PKCS#12 file
- `revocation`    `revoke`: a seal or reviewer certificate onto the root's CRL

Modules import one another in that order only; none imports from this file.
"""

from auditor.keys.certificates import (
    DOCUMENT_SIGNING_EKU,
    REVIEWER_POLICY,
    SIGNING_EKUS,
    PrivateKey,
    check_key_matches,
    check_signing_certificate,
    is_reviewer_certificate,
    read_certificates,
    signed_by,
)
from auditor.keys.crl import CRL_FILE, find_local_crl, read_crl, revocation_of
from auditor.keys.folder import (
    CERT_FILE,
    CHAIN_FILE,
    INFO_FILE,
    KEY_FILE,
    ROOT_FILE,
    ROOT_KEY_FILE,
    IdentityInfo,
    IdentityPaths,
    default_keys_dir,
)
from auditor.keys.identity import SigningIdentity, load_identity, reviewer_role
from auditor.keys.imports import import_identity
from auditor.keys.issue import (
    DEFAULT_KEY_TYPE,
    DEFAULT_VALID_DAYS,
    ISSUED_VALID_DAYS,
    KEY_TYPES,
    KeyType,
    RevocationUrls,
    create_identity,
    issue_identity,
)
from auditor.keys.protection import (
    KDF_ITERATIONS,
    MIN_PASSPHRASE_LENGTH,
    PASSPHRASE_ENV,
    REVIEWER_KEY,
    REVIEWER_PASSPHRASE_ENV,
    ROOT_KEY,
    ROOT_PASSPHRASE_ENV,
    SEAL_KEY,
    KeyKind,
    KeyProtection,
    check_passphrases_apart,
    key_protection,
    passphrase_from_env,
    rekey_key_file,
)
from auditor.keys.reviewers import (
    P12_SUFFIX,
    REVIEWERS_DIR,
    ReviewerPaths,
    add_reviewer,
    pkcs12_bytes,
    reviewer_paths,
    reviewer_slug,
)
from auditor.keys.revocation import REASONS, Reason, Target, find_certificate, parse_serial, revoke

__all__ = [
    "CERT_FILE",
    "CHAIN_FILE",
    "CRL_FILE",
    "DEFAULT_KEY_TYPE",
    "DEFAULT_VALID_DAYS",
    "DOCUMENT_SIGNING_EKU",
    "INFO_FILE",
    "ISSUED_VALID_DAYS",
    "KDF_ITERATIONS",
    "KEY_FILE",
    "KEY_TYPES",
    "MIN_PASSPHRASE_LENGTH",
    "P12_SUFFIX",
    "PASSPHRASE_ENV",
    "REASONS",
    "REVIEWERS_DIR",
    "REVIEWER_KEY",
    "REVIEWER_PASSPHRASE_ENV",
    "REVIEWER_POLICY",
    "ROOT_FILE",
    "ROOT_KEY",
    "ROOT_KEY_FILE",
    "ROOT_PASSPHRASE_ENV",
    "SEAL_KEY",
    "SIGNING_EKUS",
    "IdentityInfo",
    "IdentityPaths",
    "KeyKind",
    "KeyProtection",
    "KeyType",
    "PrivateKey",
    "Reason",
    "ReviewerPaths",
    "RevocationUrls",
    "SigningIdentity",
    "Target",
    "add_reviewer",
    "check_key_matches",
    "check_passphrases_apart",
    "check_signing_certificate",
    "create_identity",
    "default_keys_dir",
    "find_certificate",
    "find_local_crl",
    "import_identity",
    "is_reviewer_certificate",
    "issue_identity",
    "key_protection",
    "load_identity",
    "parse_serial",
    "passphrase_from_env",
    "pkcs12_bytes",
    "read_certificates",
    "read_crl",
    "rekey_key_file",
    "reviewer_paths",
    "reviewer_role",
    "reviewer_slug",
    "revocation_of",
    "revoke",
    "signed_by",
]
