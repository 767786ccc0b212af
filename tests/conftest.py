"""Shared fixtures: the demo run once per test session through the real command line, and
identities and sealed report folders for the signing, verification and attack tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.cli import DemoOutput, run_cli
from fixtures.identities import Identities, build_report, make_identities, signed_report


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
