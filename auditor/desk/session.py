"""One desk session: the secret token of its URL, the CSRF token of its forms, and the reviewer's
identity once unlocked. The identity lives in this process's memory only: the passphrase is asked
once, used to load the key, and never written anywhere."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from auditor.errors import AuditorError
from auditor.keys import IdentityPaths, SigningIdentity, load_identity
from auditor.review.fill import reviewer_names

MAX_CERT_BYTES = 64 * 1024  # a reviewer certificate file is a few kilobytes


@dataclass
class DeskSession:
    """What the desk knows of the person at the keyboard, for as long as the server runs."""

    reviewer_dir: Path | None  # None: the desk shows reports but records no decision
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    identity: SigningIdentity | None = None
    opened: dict[str, float] = field(default_factory=dict)  # report name -> when its page was opened
    lock: threading.RLock = field(default_factory=threading.RLock)  # one verification or decision at a time

    @property
    def fingerprint(self) -> str | None:
        """SHA-256 of the reviewer's certificate, read without the passphrase (None without --as)."""
        if self.identity is not None:
            return self.identity.fingerprint
        return certificate_fingerprint(self.reviewer_dir) if self.reviewer_dir is not None else None

    def token_matches(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    def csrf_matches(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.csrf.encode())

    def open_report(self, name: str) -> None:
        """Note when the report's page was first opened (the review's minutes count from there)."""
        self.opened.setdefault(name, time.monotonic())

    def minutes_on(self, name: str) -> float:
        """Minutes since the report's page was first opened, to one decimal."""
        return round((time.monotonic() - self.opened.get(name, time.monotonic())) / 60, 1)

    def unlock(self, passphrase: str) -> str | None:
        """Load the reviewer's identity with `passphrase`; None when it is loaded, else what went
        wrong, in words for the person at the keyboard."""
        if self.reviewer_dir is None:
            return "this desk was started without --as REVIEWER_DIR: it shows reports but records no decision"
        if not passphrase:
            return "type the passphrase of your reviewer key: nothing was signed"
        try:
            identity = load_identity(self.reviewer_dir, passphrase)
            reviewer_names(identity)
        except AuditorError as exc:
            if "wrong passphrase" in str(exc):
                return f"the passphrase does not open the reviewer key in {self.reviewer_dir}: nothing was signed; type it again"
            return f"the reviewer key in {self.reviewer_dir} cannot sign: {exc}"
        self.identity = identity
        return None


def certificate_fingerprint(folder: Path) -> str | None:
    """SHA-256 of the certificate in a keys folder, or None when it cannot be read."""
    try:
        with open(IdentityPaths.of(folder).cert, "rb") as handle:
            data = handle.read(MAX_CERT_BYTES)
        return x509.load_pem_x509_certificate(data).fingerprint(hashes.SHA256()).hex()
    except (OSError, ValueError):
        return None
