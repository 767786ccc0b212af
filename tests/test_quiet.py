"""Only auditor's own lines reach stderr. Libraries' warnings and logs (cryptography's DSA
deprecation warning on pyHanko's import, repeated by every worker process; the `distributed.*`
lines of a Dask cluster) appear with --debug only. CI runs this module under the locked versions
and under the newest the bounds allow (.ci/try-newest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.demo import demo_model_path
from auditor.quiet import QUIET_ENVIRONMENT
from auditor.synthetic import make_clip
from auditor.video import write_video

CHEAP = ("--skip-check", "counterfactuals", "--skip-check", "faithfulness", "--skip-check", "persons")


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("footage") / "cam1"
    folder.mkdir()
    write_video(folder / "fight.avi", make_clip("fight", 3).frames, 10.0)
    return folder


@pytest.mark.parametrize("scheduler", [("--workers", "2"), ("--scheduler", "local", "--workers", "2")])
def test_a_batch_on_worker_processes_prints_nothing_but_its_result(
    scheduler: tuple[str, ...], footage: Path, identities: Identities, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT} | {"AUDITOR_KEY_PASSPHRASE": PASSPHRASE}
    args = ["batch", str(footage), "--model", str(demo_model_path()), "--keys", str(identities.seal_dir), *scheduler, *CHEAP]
    quiet = run_cli(*args, "--out", str(tmp_path / "quiet"), env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("1 reported, 0 failed")
    debug = run_cli("--debug", *args, "--out", str(tmp_path / "debug"), env=env)
    assert debug.returncode == 0, debug.stderr
    library_lines = [line for line in debug.stderr.splitlines() if not line.startswith("auditor")]
    assert library_lines  # what the quiet run kept off the terminal
    if scheduler[0] == "--scheduler":
        assert sum("distributed." in line for line in library_lines) >= 10


def test_a_failing_command_that_loads_every_library_prints_one_line(tmp_path: Path) -> None:
    """`report` imports TensorFlow, OpenCV, WeasyPrint and pyHanko before it finds the bad video."""
    bad = tmp_path / "clip.avi"
    bad.write_bytes(b"RIFF not a video")
    run = run_cli("report", str(bad), "--model", str(demo_model_path()), "--out", str(tmp_path / "out"), "--no-sign")
    assert run.returncode != 0
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("auditor: error: "), run.stderr
    assert "clip.avi" in run.stderr


def test_output_cut_short_by_its_reader_ends_without_a_traceback(tmp_path: Path, identities: Identities) -> None:
    """`auditor verify … | head -1`: the reader closes the pipe after one line; auditor stops with
    exit 141 (SIGPIPE's code) and nothing on stderr (a BrokenPipeError traceback before)."""
    import subprocess
    import sys

    for number in range(400):  # each one an INVALID verdict of a few lines: more than a pipe holds
        (tmp_path / f"damaged-{number:03d}.pdf").write_bytes(b"%PDF-1.7\nnot a PDF\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor", "verify", str(tmp_path), "--trust", str(identities.seal_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) in (141, 1), errors  # 1 only if every verdict fitted the pipe first
    assert first and "Traceback" not in errors
