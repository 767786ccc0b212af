"""What a user is told when something is wrong (issue 12): true facts and a remedy that works, in
one line on stderr, with the error's exit code, no traceback, and nothing left behind. One test
per class of problem, through the command line as a user meets it, on the real recording
vtest.avi (opencv-doc: 768×576, 10 fps, 795 frames) and on small made-up files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures.cli import CliRun, DemoOutput, run_cli
from fixtures.identities import Identities

from auditor._tensorflow import keras
from auditor.demo import demo_model_path
from auditor.video import write_video

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
NOISE = ("Traceback", "GetPassWarning", "may be echoed", "ParseError", "File not found", "@ 0x", "[ERROR", "WARN")


@dataclass(frozen=True)
class Inputs:
    """Small made-up files, each standing for a kind of bad input."""

    ten_frames: Path  # MJPG AVI, 10 frames: shorter than the demo model's 16
    street: Path  # mp4v, 640×272, 25 fps, 60 frames
    lying: Path  # MJPG AVI whose header claims 40 frames; fewer decode
    no_index: Path  # MP4 cut before its index ("moov atom not found")
    photo: Path  # a JPEG
    binary: Path  # one-unit sigmoid detector, T=4, no sidecar
    any_length: Path  # input (None, None, 32, 32, 3), no sidecar


def one_error_line(run: CliRun, code: int, *expected: str) -> str:
    """The run failed with `code` and said so in exactly one stderr line holding `expected`."""
    assert run.returncode == code, run.stdout + run.stderr
    assert not any(noise in run.stderr for noise in NOISE), run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: error: "), run.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def tiny_detector(frames: int | None, units: int, activation: str) -> keras.Model:
    inputs = keras.Input((frames, 32, 32, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"))(inputs)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    x = keras.layers.GRU(4)(x)
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation)(x))


def _write_mp4v(path: Path, frames: int, size: tuple[int, int], fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for t in range(frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:, 8 * t : 8 * t + 40] = (0, 200, 255)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    ten = write_video(folder / "ten.avi", rng.integers(0, 256, (10, 64, 64, 3), dtype=np.uint8), 10.0)
    full = write_video(folder / "full.avi", rng.integers(0, 256, (40, 64, 96, 3), dtype=np.uint8), 10.0)
    lying = folder / "lying.avi"
    lying.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])  # the index at the end is lost
    street = _write_mp4v(folder / "street.mp4", 60, (640, 272), 25.0)
    no_index = folder / "no_index.mp4"
    no_index.write_bytes(street.read_bytes()[: street.stat().st_size // 2])
    photo = folder / "photo.jpg"
    photo.write_bytes(cv2.imencode(".jpg", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))[1].tobytes())
    keras.utils.set_random_seed(3)
    tiny_detector(4, 1, "sigmoid").save(folder / "binary.keras")
    tiny_detector(None, 3, "softmax").save(folder / "any_length.keras")
    return Inputs(ten, street, lying, no_index, photo, folder / "binary.keras", folder / "any_length.keras")


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    """The report folder a run may create; after the test nothing else (no staging folder) is beside it."""
    work = tmp_path / "work"
    yield work / "report"
    assert not work.exists() or [p.name for p in work.iterdir()] in ([], ["report"])


def report(video: Path, model: Path, out: Path, *options: str, env: dict[str, str] | None = None) -> CliRun:
    return run_cli("report", str(video), "--model", str(model), "--out", str(out), *options, env=env)


def test_the_window_is_refused_with_the_true_length_and_starts_that_work(inputs: Inputs, out: Path) -> None:
    demo = demo_model_path()
    cases = [
        ((VTEST, "--start", "-5"), ["vtest.avi has 795 frames at 10 fps (1:19.5)", "--start -5 is before its first frame",
                                    "choose a start frame between 0 and 779 (a time between 0:00 and 1:17.9)"]),
        ((VTEST, "--at", "5:00"), ["has 795 frames", "--at 5:00 (frame 3000) is past its end", "between 0 and 779"]),
        ((VTEST, "--at", "1:19"), ["--at 1:19 (frame 790) leaves 5 frames for a 16-frame model", "between 0 and 779"]),
        ((inputs.ten_frames,), ["ten.avi has 10 frames", "too short for a 16-frame model"]),
        ((inputs.photo,), ["photo.jpg holds a single image, not a video: too short for a 16-frame model"]),
        ((inputs.street, "--start", "50"), ["street.mp4 has 60 frames at 25 fps", "between 0 and 44"]),
        ((inputs.lying, "--start", "30"), ["decodable frames (its header claims 40)"]),
    ]
    for (video, *options), expected in cases:
        line = one_error_line(report(video, demo, out, *options, "--no-sign"), 4, *expected)
        assert not out.exists()
    decodable = int(line.split("has ")[1].split(" decodable")[0])  # the last case's
    capture = cv2.VideoCapture(str(inputs.lying))
    assert decodable == sum(1 for _ in iter(lambda: capture.grab(), False)) < 40  # the count is the true one


def test_the_window_start_is_a_frame_or_a_time_not_both(inputs: Inputs, out: Path) -> None:
    demo = demo_model_path()
    bad = one_error_line(report(VTEST, demo, out, "--at", "1:7x", "--no-sign"), 2, "'1:7x' is not a time")
    assert "1:10.5" in bad and "01:10:05" in bad  # the forms that work
    one_error_line(report(VTEST, demo, out, "--at", "1:75", "--no-sign"), 2, "below 60")
    one_error_line(report(VTEST, demo, out, "--at", "10", "--start", "3", "--no-sign"), 2, "give one of them")
    assert not out.exists()


def test_paths_are_named_for_what_they_are(inputs: Inputs, tmp_path: Path, out: Path) -> None:
    demo, folder = demo_model_path(), tmp_path / "a-folder.avi"
    folder.mkdir()
    one_error_line(report(folder, demo, out, "--no-sign"), 4, "is a folder, not a video file")
    fake = tmp_path / "detector.keras"
    shutil.copy(inputs.photo, fake)
    one_error_line(report(VTEST, fake, out, "--no-sign"), 3, "detector.keras is not a Keras model file")
    fake_h5 = tmp_path / "detector.h5"
    shutil.copy(inputs.photo, fake_h5)
    one_error_line(report(VTEST, fake_h5, out, "--no-sign"), 3, "detector.h5 is not a Keras model file")
    one_error_line(report(VTEST, folder, out, "--no-sign"), 3, "is a folder, not a model file")
    one_error_line(report(VTEST, demo, out, "--profile", str(folder), "--no-sign"), 5, "is a folder, not a file")
    one_error_line(report(VTEST, demo, out, "--templates", str(inputs.photo), "--no-sign"), 5, "is a file, not a folder")
    under_file = tmp_path / "notes.txt"
    under_file.write_text("a file")
    one_error_line(report(VTEST, demo, under_file / "report", "--no-sign"), 7, f"{under_file} is a file, not a folder")
    assert not out.exists()


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder`, where nobody may create anything (immutable for root, mode 555 for others)."""
    folder.mkdir()
    as_root = os.geteuid() == 0  # root may write in a folder of mode 555, not in an immutable one
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_what_can_be_checked_is_checked_before_the_model_runs(
    identities: Identities, inputs: Inputs, tmp_path: Path
) -> None:
    """Each run names a broken model too: the error printed is the earlier check's."""
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 a zip cut short")
    with read_only(tmp_path / "archive") as archive:
        run = report(VTEST, broken, archive / "2024" / "case-7", "--no-sign")
        one_error_line(run, 7, f"cannot write in {archive};")
        assert list(archive.iterdir()) == []
    out = tmp_path / "report"
    one_error_line(report(VTEST, broken, out, "--templates", str(tmp_path / "none"), "--no-sign"), 5, "templates folder")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}
    run = report(VTEST, broken, out, "--keys", str(identities.seal_dir), env=env)
    one_error_line(run, 6, "no passphrase for the signing key", "set AUDITOR_KEY_PASSPHRASE")
    one_error_line(report(VTEST, broken, out, "--no-sign"), 3, "cannot read model file broken.keras", "incomplete or damaged")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["archive", "broken.keras"]


def test_no_noise_reaches_the_user(inputs: Inputs, tmp_path: Path, out: Path) -> None:
    """Decoder messages, password-prompt warnings and ASN.1 parser dumps stay off stderr."""
    run = report(inputs.no_index, demo_model_path(), out, "--no-sign")
    one_error_line(run, 4, "no_index.mp4 cannot be opened", "truncated")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}
    keys = tmp_path / "keys"
    run = run_cli("keys", "init", "--organisation", "Example", "--keys", str(keys), env=env)
    one_error_line(run, 6, "no passphrase for the new seal key: set AUDITOR_KEY_PASSPHRASE")
    run = run_cli("keys", "init", "--organisation", "Example", "--keys", str(keys),
                  env={**env, "AUDITOR_KEY_PASSPHRASE": "correct horse battery"})
    one_error_line(run, 6, "no passphrase for the root key: set AUDITOR_ROOT_PASSPHRASE")
    assert not keys.exists()
    for not_a_certificate in (Path("/etc/passwd"), inputs.photo):
        run = run_cli("verify", str(inputs.photo), "--trust", str(not_a_certificate))
        one_error_line(run, 6, f"{not_a_certificate} holds no certificate")


def test_verify_finds_the_report_folders_in_a_folder(demo_output: DemoOutput, tmp_path: Path) -> None:
    root = demo_output.folder / "demo-keys" / "root.cert.pem"
    run = run_cli("verify", str(demo_output.folder), "--trust", str(root))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("VALID ") == 4 and "is missing" not in run.stdout
    assert all(line.split()[1].startswith(str(demo_output.report) + os.sep) for line in run.stdout.splitlines()
               if line.startswith("VALID"))
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    run = run_cli("verify", str(tmp_path / "empty"), "--trust", str(root))
    assert run.returncode == 1 and run.stdout.count("INVALID") == 1 and "is missing" not in run.stdout
    assert "not a report folder" in run.stdout and "give a report folder" in run.stdout
    assert "Traceback" not in run.stderr


def test_class_settings_must_agree(inputs: Inputs, tmp_path: Path, out: Path) -> None:
    demo = demo_model_path()
    one_error_line(report(VTEST, demo, out, "--classes", "normal,normal,fall", "--no-sign"), 3, "'normal' is named twice")
    one_error_line(report(VTEST, demo, out, "--classes", "calm,fight,fall", "--no-sign"), 3,
                   "normal_class 'normal' in model.json is not one of the class names ['calm', 'fight', 'fall']")
    one_error_line(report(VTEST, demo, out, "--classes", "normal,fight", "--no-sign"), 3, "has 3 outputs but 2")
    binary = tmp_path / "binary.keras"
    shutil.copy(inputs.binary, binary)
    binary.with_suffix(".json").write_text(json.dumps({"class_names": ["normal", "fight", "fall"]}))
    one_error_line(report(VTEST, binary, out, "--no-sign"), 3, "one output unit (a binary detector: two class names")
    binary.with_suffix(".json").write_text(json.dumps({"threshold": 0.3}))
    one_error_line(report(VTEST, binary, out, "--no-sign"), 3, "threshold 0.3 in binary.json is below 0.5")
    binary.with_suffix(".json").write_text(json.dumps({"class_names": ["anomaly", "normal"], "normal_class": "normal"}))
    one_error_line(report(VTEST, binary, out, "--no-sign"), 3, "normal_class must be 'anomaly'")
    assert not out.exists()


def test_a_binary_detector_reports_the_probability_of_the_anomaly(inputs: Inputs, out: Path) -> None:
    run = report(VTEST, inputs.binary, out, "--at", "1:10.5", "--no-sign")
    assert run.returncode == 0, run.stderr
    decision = json.loads((out / "evidence.json").read_text())["decision"]
    assert [c["name"] for c in decision["classes"]] == ["normal", "anomaly"]
    normal, anomaly = decision["classes"]
    assert normal["logit"] == 0 and anomaly["probability"] == pytest.approx(1 / (1 + np.exp(-anomaly["logit"])), abs=1e-5)
    assert normal["probability"] + anomaly["probability"] == pytest.approx(1, abs=1e-5)
    assert decision["explained_class"] == "anomaly" and "class_0" not in run.stdout


def test_a_model_of_any_clip_length_takes_its_length_from_the_sidecar(inputs: Inputs, tmp_path: Path, out: Path) -> None:
    model = tmp_path / "any.keras"
    shutil.copy(inputs.any_length, model)
    one_error_line(report(VTEST, model, out, "--no-sign"), 3,
                   "this model takes clips of any length: set frames_per_clip in its sidecar any.json")
    model.with_suffix(".json").write_text(json.dumps({"frames_per_clip": 6}))
    run = report(VTEST, model, out, "--at", "70.5", "--no-sign")
    assert run.returncode == 0, run.stderr
    assert json.loads((out / "evidence.json").read_text())["input"]["frame_indices"] == list(range(705, 711))


def test_a_source_id_with_a_control_character_is_refused_before_any_work(tmp_path: Path) -> None:
    run = run_cli("report", str(VTEST), "--model", str(demo_model_path()), "--out", str(tmp_path / "out"),
                  "--source-id", "cam\n1", "--no-sign")
    one_error_line(run, 2, "--source-id", "U+000A")
    assert not (tmp_path / "out").exists()


def _without_passphrases() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}


def test_a_reviewer_key_is_named_with_its_own_variable_and_option(
    identities: Identities, sealed_report: Path, tmp_path: Path
) -> None:
    """A reviewer's passphrase goes in AUDITOR_REVIEWER_PASSPHRASE and its folder in --as (review has
    --keys too, but for the seal): the hints name those, not the seal's."""
    reviewer = identities.seal_dir.parent / "reviewer"
    review = ("review", str(sealed_report), "--decision", "confirm", "--reason", "I watched the clip myself.")
    wrong = {**_without_passphrases(), "AUDITOR_REVIEWER_PASSPHRASE": "not the reviewer's passphrase"}
    line = one_error_line(run_cli(*review, "--as", str(reviewer), env=wrong), 6,
                          "wrong passphrase for key", "set AUDITOR_REVIEWER_PASSPHRASE", "`auditor keys add-reviewer`")
    assert "AUDITOR_KEY_PASSPHRASE" not in line and "keys init" not in line
    line = one_error_line(run_cli(*review, "--as", str(tmp_path), env=_without_passphrases()), 6,
                          f"no reviewer key at {tmp_path / 'seal.key.pem'}", "give --as the folder")
    assert "--keys" not in line and "passphrase" not in line  # the folder is wrong: no passphrase is asked for
    assert not (sealed_report / "review-1.json").exists()


def test_a_submission_names_a_wrong_folder_before_it_asks_for_the_seal(
    identities: Identities, tmp_path: Path
) -> None:
    text = tmp_path / "letter.txt"
    text.write_text("I was not fighting; I was helping a friend who fell.", encoding="utf-8")
    submission = ("submission", "--from", "A. Person", "--text", str(text), "--keys", str(identities.seal_dir))
    for folder, says in ((tmp_path, "it holds no evidence.json and no report.pdf"), (tmp_path / "none", "does not exist")):
        line = one_error_line(run_cli(submission[0], str(folder), *submission[1:], env=_without_passphrases()), 7,
                              f"{folder} ", says, "give a report folder (the --out of `auditor report`")
        assert "evidence record" not in line and "passphrase" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.txt"]


def test_scan_checks_where_it_writes_before_it_scans(tmp_path: Path) -> None:
    """Each run names a broken model too: the destination is checked before the model is read,
    so the whole scan never runs only to find it cannot write its result."""
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 a zip cut short")
    missing = tmp_path / "missing" / "detections.jsonl"
    line = one_error_line(run_cli("scan", str(VTEST), "--model", str(broken), "--out", str(missing)), 7,
                          f"cannot write --out {missing}: the folder {missing.parent} does not exist", "create it first")
    assert "free space" not in line
    notes = tmp_path / "notes.txt"
    notes.write_text("a file")
    one_error_line(run_cli("scan", str(VTEST), "--model", str(broken), "--out", str(notes / "d.jsonl")), 7,
                   f"{notes} is a file, not a folder")
    with read_only(tmp_path / "locked") as locked:
        one_error_line(run_cli("scan", str(VTEST), "--model", str(broken), "--out", str(locked / "d.jsonl")), 7,
                       f"you cannot write in {locked}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.keras", "locked", "notes.txt"]


def test_queue_refuses_a_status_it_does_not_know_and_lists_the_ones_it_does(tmp_path: Path) -> None:
    """Before issue 21 any --status was taken and matched nothing: `queue --status bogus` listed no
    report and exited 0 (the field test's finding). It is a usage error naming every status."""
    from auditor.review.state import STATUSES

    for bogus in ("bogus", "Overdue", "awaiting", "overdue,reviewed"):
        line = one_error_line(run_cli("queue", str(tmp_path), "--status", bogus), 2, f"'{bogus}' is not one of")
        assert all(f"'{status}'" in line for status in STATUSES) and "see `auditor queue --help`" in line
    assert list(tmp_path.iterdir()) == []  # nothing was read or written
