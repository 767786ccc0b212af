"""A local PKI with a real RFC 3161 TSA, an OCSP responder and CRL distribution over loopback.

certomancer's Animator (a WSGI app) serves the PKI of `tests/fixtures/pki/auditor-pki.yml`
from a werkzeug server on 127.0.0.1 at a free port, in a thread, for the test session. Its
keys (ECDSA P-256) are generated when the session starts; validity periods and revocation
times are relative to that start (`LocalPki.start`), so the certificates are valid when a test
imports them and expired when a test moves the clock past `LocalPki.leaf_expiry`.

Usage (conftest registers this module as a plugin, so the fixture needs no import)::

    def test_x(local_pki: LocalPki, tmp_path: Path) -> None:
        run_cli("keys", "import", *map(str, local_pki.identity_files("seal", tmp_path)), ...)
        run_cli("report", ..., "--tsa-url", local_pki.tsa_url)
        run_cli("verify", str(folder), "--trust", str(local_pki.trust_file))

What it holds:
- `tsa_url` (certificates valid until `tsa_expiry`) and `long_tsa_url` (a second TSA key
  valid 30 years, for document timestamps that must outlive the first TSA: B-LTA);
- `root_file` (the organisation root, which issues seals and reviewers), `tsa_root_file` (a
  separate root of the TSAs: a second trust anchor, as a commercial TSA would be) and
  `trust_file` (both, one PEM file for `--trust`);
- identities for `auditor keys import` (`identity_files(label, folder)`: an unencrypted key
  PEM and the chain PEM up to the root): "seal" (valid until `leaf_expiry`), "seal-revoked"
  (revoked since an hour before `start`: everything it signs is signed after revocation),
  "seal-revoked-later" (revoked at `revoked_later`, a day after `start`) and "reviewer"
  (REVIEWER_POLICY, title "Duty officer", id-kp-documentSigning);
- every end-entity certificate names the CRL (`crl_url`) and OCSP responder (`ocsp_url`) of
  the organisation root; `crl_der(at)` is the root's CRL as it stands at a given time (e.g.
  after `revoked_later`, to put beside the root in a trust folder).

auditor's own `keys init` PKI has no OCSP/CRL URLs; it combines with this TSA all the same:
give `--trust` a PEM file holding both the auditor root and `tsa_root_file`.
"""

from __future__ import annotations

import datetime as dt
import string
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, PKIArchitecture, ServiceLabel
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server

CONFIG = Path(__file__).parent / "fixtures" / "pki" / "auditor-pki.yml"
ARCH = ArchLabel("auditor")
KEY_LABELS = (
    "root", "root-ocsp", "seal", "seal-revoked", "seal-revoked-later", "reviewer", "tsa-root", "tsa", "tsa-long",
)
LEAF_DAYS = 2 * 365  # seals and the reviewer
TSA_DAYS = 3 * 365  # the first TSA
LONG_TSA_DAYS = 30 * 365  # the TSA of document timestamps
ROOT_DAYS = 50 * 365

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class LocalPki:
    """The running PKI: its URLs, trust anchors, identities and times."""

    url: str
    folder: Path
    arch: PKIArchitecture
    start: dt.datetime

    @property
    def tsa_url(self) -> str:
        return f"{self.url}/auditor/tsa/tsa"

    @property
    def long_tsa_url(self) -> str:
        return f"{self.url}/auditor/tsa/tsa-long"

    @property
    def crl_url(self) -> str:
        return f"{self.url}/auditor/crls/root/latest.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.url}/auditor/ocsp/root"

    @property
    def leaf_expiry(self) -> dt.datetime:
        return self.start + dt.timedelta(days=LEAF_DAYS)

    @property
    def tsa_expiry(self) -> dt.datetime:
        return self.start + dt.timedelta(days=TSA_DAYS)

    @property
    def revoked_before(self) -> dt.datetime:
        return self.start - dt.timedelta(hours=1)

    @property
    def revoked_later(self) -> dt.datetime:
        return self.start + dt.timedelta(days=1)

    @property
    def root_file(self) -> Path:
        return self.folder / "root.cert.pem"

    @property
    def tsa_root_file(self) -> Path:
        return self.folder / "tsa-root.cert.pem"

    @property
    def trust_file(self) -> Path:
        return self.folder / "trust.pem"

    def cert_pem(self, label: str) -> bytes:
        """The certificate `label` as PEM."""
        return _pem(self.arch.get_cert(CertLabel(label)).dump())

    def identity_files(self, label: str, folder: Path) -> list[Path]:
        """`label`'s key (unencrypted PEM) and its chain up to the root, for `auditor keys import`."""
        folder.mkdir(parents=True, exist_ok=True)
        key = folder / f"{label}.key.pem"
        key.write_bytes((self.folder / "keys" / f"{label}.key.pem").read_bytes())
        chain = folder / f"{label}.chain.pem"
        chain.write_bytes(self.cert_pem(label) + self.cert_pem("root"))
        return [key, chain]

    def crl_der(self, at: dt.datetime, issuer: str = "root") -> bytes:
        """The CRL of `issuer` as it stands at `at` (DER)."""
        return bytes(self.arch.service_registry.get_crl(ServiceLabel(issuer), at).dump())


def start_time() -> dt.datetime:
    """Now, to the minute (the start of the session's PKI)."""
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def config_text(url: str, start: dt.datetime) -> str:
    """The YAML config with its URL prefix and times filled in."""

    def at(days: float) -> str:
        return (start + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S+0000")

    return string.Template(CONFIG.read_text(encoding="utf-8")).substitute(
        url=url,
        root_from=at(-1),
        root_to=at(ROOT_DAYS),
        leaf_from=at(-1),
        leaf_to=at(LEAF_DAYS),
        tsa_to=at(TSA_DAYS),
        long_tsa_to=at(LONG_TSA_DAYS),
        tsa_root_to=at(ROOT_DAYS),
        revoked_before=at(-1 / 24),
        revoked_later=at(1),
    )


def write_keys(folder: Path) -> None:
    """A fresh ECDSA P-256 key per label, unencrypted PKCS#8 PEM."""
    folder.mkdir(parents=True, exist_ok=True)
    for label in KEY_LABELS:
        key = ec.generate_private_key(ec.SECP256R1())
        (folder / f"{label}.key.pem").write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )


class _LateApp:
    """A WSGI app whose target is set after the server is bound (the URL needs the port)."""

    def __init__(self) -> None:
        self.target: WsgiApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.target is not None
        return self.target(environ, start_response)


@contextmanager
def serve_local_pki(folder: Path) -> Iterator[LocalPki]:
    """The local PKI, its keys made in `folder`, served on loopback until the block ends (the
    tests' fixture and the benchmarks use it)."""
    app = _LateApp()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    start = start_time()
    write_keys(folder / "keys")
    config = CertomancerConfig.from_yaml(config_text(url, start), key_search_dir=str(folder))
    arch = config.get_pki_arch(ARCH)
    app.target = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
    pki = LocalPki(url, folder, arch, start)
    pki.root_file.write_bytes(pki.cert_pem("root"))
    pki.tsa_root_file.write_bytes(pki.cert_pem("tsa-root"))
    pki.trust_file.write_bytes(pki.cert_pem("root") + pki.cert_pem("tsa-root"))
    thread = threading.Thread(target=server.serve_forever, name="local-pki", daemon=True)
    thread.start()
    try:
        yield pki
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def local_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPki]:
    """The local PKI, served on loopback for the whole session."""
    with serve_local_pki(tmp_path_factory.mktemp("pki")) as pki:
        yield pki


def _pem(der: bytes) -> bytes:
    return bytes(pem.armor("CERTIFICATE", der))
