"""How key files are protected: passphrases and the encrypted PKCS#8 key-file format.

Key files are PKCS#8 "ENCRYPTED PRIVATE KEY" PEM: PBES2 with PBKDF2-HMAC-SHA256 at 600 000
iterations (OWASP 2023) and AES-256-CBC. scrypt at N=2^17 was the other candidate, but OpenSSL
3.0 refuses scrypt above 32 MiB (N=2^14 at r=8), so `openssl pkey` could not read such files.
Files written with fewer iterations (2 048 before this version) still load; `key_protection`
tells, and `rekey_key_file` re-encrypts them in place.

The seal's passphrase comes from `AUDITOR_KEY_PASSPHRASE`, the root's from
`AUDITOR_ROOT_PASSPHRASE`, a reviewer's from `AUDITOR_REVIEWER_PASSPHRASE`, or a prompt; never
from a command-line argument.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.padding import PKCS7

from auditor.errors import SigningError
from auditor.files import atomic_write_bytes
from auditor.keys.certificates import PrivateKey

PASSPHRASE_ENV = "AUDITOR_KEY_PASSPHRASE"
ROOT_PASSPHRASE_ENV = "AUDITOR_ROOT_PASSPHRASE"
REVIEWER_PASSPHRASE_ENV = "AUDITOR_REVIEWER_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 8
KDF_ITERATIONS = 600_000  # PBKDF2-HMAC-SHA256, OWASP 2023; also the floor below which a key file is weak


@dataclass(frozen=True)
class KeyKind:
    """Whose key a file holds, for the messages about it: what to call it, the variable its
    passphrase comes from, the option that names its folder and the command that made it."""

    name: str
    env: str
    option: str
    made_by: str


SEAL_KEY = KeyKind("signing key", PASSPHRASE_ENV, "--keys", "`auditor keys init`")
ROOT_KEY = KeyKind("root key", ROOT_PASSPHRASE_ENV, "--keys", "`auditor keys init`")
REVIEWER_KEY = KeyKind("reviewer key", REVIEWER_PASSPHRASE_ENV, "--as", "`auditor keys add-reviewer`")


@dataclass(frozen=True)
class KeyProtection:
    """How a key file is encrypted, and whether that resists offline guessing."""

    description: str
    strong: bool


def passphrase_from_env() -> str | None:
    """The passphrase in `AUDITOR_KEY_PASSPHRASE`, or None when unset or empty."""
    return os.environ.get(PASSPHRASE_ENV) or None


def check_new_passphrase(passphrase: str, env: str = PASSPHRASE_ENV) -> None:
    """Raise `SigningError` if `passphrase` is too short for a new key file."""
    if not passphrase or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise SigningError(
            f"the key passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters: "
            f"set {env} or type a longer one at the prompt"
        )


def check_passphrases_apart(passphrase: str, root_passphrase: str) -> None:
    """Raise `SigningError` if the root key's passphrase equals the signing key's."""
    if hmac.compare_digest(passphrase.encode("utf-8"), root_passphrase.encode("utf-8")):
        raise SigningError(
            "the root key's passphrase must differ from the signing key's: choose another one "
            f"({ROOT_PASSPHRASE_ENV} or the prompt) and keep it apart, with the root key, offline"
        )


def key_protection(path: Path) -> KeyProtection:
    """Read the encryption parameters of the PEM key file at `path` (no passphrase needed)."""
    try:
        kind, headers, der = asn1_pem.unarmor(Path(path).read_bytes())
        if kind != "ENCRYPTED PRIVATE KEY":
            legacy = "ENCRYPTED" in headers.get("Proc-Type", "")
            return KeyProtection("legacy PEM encryption (one MD5 round)" if legacy else "NOT ENCRYPTED", False)
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
        if algorithm["algorithm"].native != "pbes2" or algorithm.kdf != "pbkdf2":
            return KeyProtection(f"{algorithm['algorithm'].native} with {algorithm.kdf}", False)
        iterations, prf = algorithm.kdf_iterations, algorithm.kdf_hmac
        cipher = f"{algorithm.encryption_cipher}-{algorithm.key_length * 8}-{algorithm.encryption_mode}".upper()
    except OSError as exc:
        raise SigningError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SigningError(f"{path} is not a readable PEM key file ({exc}): restore it from a backup") from exc
    text = f"PBKDF2-HMAC-{prf.upper()}, {iterations} iterations, {cipher}"
    return KeyProtection(text, iterations >= KDF_ITERATIONS and prf != "sha1")


def rekey_key_file(path: Path, passphrase: str, new_passphrase: str | None = None) -> None:
    """Re-encrypt the key file at `path` in place (atomically, mode 0600) with the strong KDF.

    It keeps `passphrase` unless `new_passphrase` is given (used to give a root key written
    before this version, which shares the seal's passphrase, its own).
    """
    key = read_key(Path(path), passphrase)
    if new_passphrase is not None:
        check_new_passphrase(new_passphrase, ROOT_PASSPHRASE_ENV)
    atomic_write_bytes(Path(path), encrypted_pem(key, new_passphrase or passphrase), 0o600)


def read_key(path: Path, passphrase: str, kind: KeyKind = SEAL_KEY) -> PrivateKey:
    """Decrypt the key file at `path`; a wrong passphrase names the variable of `kind`, where the
    right one goes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"wrong passphrase for key {path} (the {kind.name}), or the key file is damaged: set {kind.env} "
            f"to the passphrase chosen at {kind.made_by}"
        ) from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"{path} holds a {type(key).__name__}: use an RSA or ECDSA key")
    return key


def encrypted_pem(key: PrivateKey, passphrase: str) -> bytes:
    """PKCS#8 EncryptedPrivateKeyInfo, PBES2: PBKDF2-HMAC-SHA256 (`KDF_ITERATIONS`), AES-256-CBC."""
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, KDF_ITERATIONS).derive(passphrase.encode("utf-8"))
    padder = PKCS7(128).padder()
    plain = padder.update(_plain_der(key)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": KDF_ITERATIONS,
                            "prf": {"algorithm": "sha256", "parameters": asn1_core.Null()},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encryptor.update(plain) + encryptor.finalize(),
        }
    )
    return asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())


def _plain_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
