"""Shared fixtures: the demo run once per test session through the real command line, and
identities and sealed report folders for the signing, verification and attack tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.cli import DemoOutput, run_cli
from fixtures.identities import Identities, build_report, make_identities, signed_report

pytest_plugins = ("pki",)  # the local PKI (TSA, OCSP, CRLs) on loopback: the local_pki fixture


@pytest.fixture(scope="session", autouse=True)
def sanity_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The per-model sanity check is cached in a folder of the test session, never in ~/.cache
    (commands run as subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("AUDITOR_CACHE_DIR")
    os.environ["AUDITOR_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("AUDITOR_CACHE_DIR", None)
    else:
        os.environ["AUDITOR_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> DemoOutput:
    """`auditor demo --out DIR`, run once for the whole session."""
    folder = tmp_path_factory.mktemp("demo") / "out"
    run = run_cli("demo", "--out", str(folder))
    assert run.returncode == 0, run.stderr
    return DemoOutput(folder, folder / "report", run)


@pytest.fixture(scope="session")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    return make_identities(tmp_path_factory.mktemp("identities"))


@pytest.fixture(scope="session")
def unsigned_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(tmp_path_factory.mktemp("unsigned") / "report")


@pytest.fixture(scope="session")
def sealed_report(tmp_path_factory: pytest.TempPathFactory, identities: Identities) -> Path:
    return signed_report(tmp_path_factory.mktemp("sealed") / "report", identities.seal)


@pytest.fixture(scope="session")
def trust(identities: Identities) -> Path:
    """The test root certificate, as `auditor verify --trust` takes it."""
    return identities.seal_dir / "root.cert.pem"


@pytest.fixture
def report(sealed_report: Path, tmp_path: Path) -> Path:
    """A private copy of the sealed report, free to tamper with."""
    return shutil.copytree(sealed_report, tmp_path / "report")
