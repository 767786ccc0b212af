"""The command line as a user meets it: clean output, one-line errors, nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fixtures.cli import DemoOutput, run_cli

from auditor._tensorflow import keras
from auditor.video import write_video


def _assert_one_line_error(stderr: str, expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert lines[-1].startswith("auditor: error: ") and expected in lines[-1], stderr
    assert not any(noise in stderr for noise in ("oneDNN", "cuda", "absl", "WARNING"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = np.random.default_rng(0).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames, 10.0)


def test_demo_output_is_clean_and_complete(demo_output: DemoOutput) -> None:
    run = demo_output.run
    assert not any(noise in run.stderr + run.stdout for noise in ("oneDNN", "cuda", "absl", "Traceback"))
    assert "FLAGGED: fight" in run.stdout
    assert "a person must review this decision" in run.stdout
    for name in ("report.pdf", "report.html", "evidence.json", "arrays.npz", "report.html.p7s", "evidence.json.p7s"):
        assert (demo_output.report / name).is_file(), name
    assert len(list((demo_output.report / "images").glob("gradcam_[0-9][0-9].jpg"))) == 16
    assert (demo_output.report / "images" / "gradcam_grid.jpg").is_file()
    assert not [p for p in demo_output.folder.parent.iterdir() if p.name.startswith(".")], "temporary folder left"


def test_the_demo_report_verifies_as_printed(demo_output: DemoOutput) -> None:
    """The check the demo prints passes on a real report (pictures, fonts, compressed streams)."""
    root = demo_output.folder / "demo-keys" / "root.cert.pem"
    assert f"auditor verify {demo_output.report} --trust {root}" in demo_output.run.stdout
    check = run_cli("verify", str(demo_output.report), "--trust", str(root))
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("VALID ") == 4 and "artifacts match" in check.stdout


def test_bad_model_file(tmp_path: Path, clip: Path) -> None:
    model = tmp_path / "broken.keras"
    model.write_bytes(b"PK\x03\x04 truncated zip")
    out = tmp_path / "report"
    run = run_cli("report", str(clip), "--model", str(model), "--out", str(out), "--no-sign")
    assert run.returncode == 3
    _assert_one_line_error(run.stderr, "cannot read model file broken.keras")
    assert not out.exists()


def test_model_without_time_distributed_cnn(tmp_path: Path, clip: Path) -> None:
    inputs = keras.Input((16, 64, 64, 3))
    x = keras.layers.GlobalAveragePooling3D()(keras.layers.Conv3D(2, 3)(inputs))
    model = tmp_path / "conv3d.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(model)
    out = tmp_path / "report"
    run = run_cli("report", str(clip), "--model", str(model), "--out", str(out), "--no-sign")
    assert run.returncode == 3
    _assert_one_line_error(run.stderr, "does not start with a TimeDistributed CNN")
    assert not out.exists()


def test_corrupt_video(tmp_path: Path) -> None:
    video = tmp_path / "incident.mp4"
    video.write_bytes(os.urandom(2048))
    out = tmp_path / "report"
    from auditor.demo import demo_model_path

    run = run_cli("report", str(video), "--model", str(demo_model_path()), "--out", str(out), "--no-sign")
    assert run.returncode == 4
    _assert_one_line_error(run.stderr, "incident.mp4")
    assert not out.exists()


def test_clip_too_short_for_the_model(tmp_path: Path, clip: Path) -> None:
    from auditor.demo import demo_model_path

    out = tmp_path / "report"
    run = run_cli("report", str(clip), "--model", str(demo_model_path()), "--out", str(out), "--start", "10", "--no-sign")
    assert run.returncode == 4
    _assert_one_line_error(run.stderr, "choose a start frame between 0 and 4")
    assert not out.exists()


def test_existing_report_is_not_overwritten(demo_output: DemoOutput, clip: Path) -> None:
    from auditor.demo import demo_model_path

    before = (demo_output.report / "evidence.json").read_bytes()
    run = run_cli("report", str(clip), "--model", str(demo_model_path()), "--out", str(demo_output.report), "--no-sign")
    assert run.returncode == 7
    _assert_one_line_error(run.stderr, "already holds a report")
    assert (demo_output.report / "evidence.json").read_bytes() == before


def test_report_with_the_organisation_seal_and_a_wrong_passphrase(tmp_path: Path, clip: Path) -> None:
    from auditor.demo import demo_model_path

    env = {**os.environ, "AUDITOR_HOME": str(tmp_path / "home"), "AUDITOR_KEY_PASSPHRASE": "correct horse battery"}
    init = run_cli(
        "keys", "init", "--organisation", "Example Transit Authority",
        env={**env, "AUDITOR_ROOT_PASSPHRASE": "root of the evidence seal"},
    )
    assert init.returncode == 0, init.stderr
    args = ("report", str(clip), "--model", str(demo_model_path()), "--start", "2")

    wrong = run_cli(*args, "--out", str(tmp_path / "wrong"), env={**env, "AUDITOR_KEY_PASSPHRASE": "wrong passphrase"})
    assert wrong.returncode == 6
    _assert_one_line_error(wrong.stderr, "passphrase")
    assert not (tmp_path / "wrong").exists()

    signed = run_cli(*args, "--out", str(tmp_path / "signed"), env=env)
    assert signed.returncode == 0, signed.stderr
    assert "signed report" in signed.stdout
    verified = run_cli("verify", str(tmp_path / "signed"), env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "trusted root" in verified.stdout


@pytest.mark.parametrize(
    ("score", "threshold", "flagged", "line"),
    [
        (0.89996, 0.9, False, "not flagged: fight (89.996%, threshold 90%)"),  # was "90.0%, threshold 90%"
        (0.8977, 0.9, False, "not flagged: fight (89.8%, threshold 90%)"),
        (0.892, 0.5, True, "FLAGGED: fight (89.2%, threshold 50%); a person must review this decision"),
    ],
)
def test_the_printed_score_stays_on_its_side_of_the_threshold(
    score: float, threshold: float, flagged: bool, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from auditor.cli.output import print_result

    decision = SimpleNamespace(predicted_class="fight", predicted_probability=score, threshold=threshold, flagged=flagged)
    print_result(SimpleNamespace(record=SimpleNamespace(decision=decision), signed=False, folder=Path("out")))  # type: ignore[arg-type]
    assert capsys.readouterr().out.splitlines()[0] == line
