"""Shared fixtures: the demo run once per test session through the real command line."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliRun:
    """Run `python -m auditor ARGS` in a subprocess, as a user would."""
    done = subprocess.run(
        [sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class DemoOutput:
    folder: Path  # the --out folder
    report: Path  # folder/report
    run: CliRun


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> DemoOutput:
    """`auditor demo --out DIR`, run once for the whole session."""
    folder = tmp_path_factory.mktemp("demo") / "out"
    run = run_cli("demo", "--out", str(folder))
    assert run.returncode == 0, run.stderr
    return DemoOutput(folder, folder / "report", run)
