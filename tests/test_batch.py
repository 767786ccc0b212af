"""`auditor scan` and `auditor batch`: the scan against a window-by-window reference on a recording
of synthetic incidents between normal scenes; the batch end to end, run again (nothing redone),
on a Dask LocalCluster (same detections and reports); vtest.avi and a truncated copy of it
batch-reported while the batch is SIGKILLed at random moments; alert logs and their errors; the
hash a scan or a window records is the decoded file's. Attacks on a batch: tests/test_batch_attacks.py."""

from __future__ import annotations

import csv
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.batch.executors import open_executor
from auditor.batch.inputs import collect_inputs
from auditor.batch.run import BatchSettings, run_batch
from auditor.batch.tasks import DetectorSpec
from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.errors import VideoError
from auditor.scan.requests import BadRow, read_requests
from auditor.scan.sliding import ScanSettings, scan_video
from auditor.signing.seal import SealSettings
from auditor.synthetic import make_clip
from auditor.video import read_video, write_video

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # opencv-doc: 768×576, 10 fps, 795 frames
SCENES = (("normal", 11), ("fight", 101), ("normal", 12), ("fall", 102), ("normal", 13))
FPS = 10.0


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cam01/recording.avi: five 16-frame scenes (normal, fight, normal, fall, normal), 80 frames."""
    folder = tmp_path_factory.mktemp("footage") / "cam01"
    folder.mkdir()
    frames = np.concatenate([make_clip(label, seed).frames for label, seed in SCENES])
    return write_video(folder / "recording.avi", frames, FPS)


# Tests of crash safety and of workers leave out the trust checks that cost the most (what they
# test does not depend on them); the other batch tests run every check.
SKIP_COSTLY_CHECKS = ("--skip-check", "counterfactuals", "--skip-check", "faithfulness", "--skip-check", "persons")

def reference_detections(detector: Detector, frames: np.ndarray, length: int = 16) -> list[tuple[str, int, int, int]]:
    """(class, best window start, span first, span last) by running the whole model on every window
    and merging overlapping flagged windows of one class, without the scan's feature reuse."""
    rule = detector.sidecar.decision_rule
    groups: dict[str, list] = {}
    closed = []
    for start in range(len(frames) - length + 1):
        probabilities = detector.predict(frames[start : start + length])
        top = int(np.argmax(probabilities))
        name, score = detector.class_names[top], float(probabilities[top])
        if not rule.raises_alert(name, score):
            continue
        group = groups.get(name)
        if group is not None and start <= group[3]:
            group[3] = start + length - 1
            if score > group[0]:
                group[0], group[1] = score, start
        else:
            if group is not None:
                closed.append((name, group))
            groups[name] = [score, start, start, start + length - 1]
    found = closed + list(groups.items())
    return sorted((name, g[1], g[2], g[3]) for name, g in found)


def test_scan_finds_what_the_model_finds_window_by_window(detector: Detector, recording: Path) -> None:
    result = scan_video(recording, detector, source_id="cam01")
    frames = read_video(recording).frames
    expected = reference_detections(detector, frames)
    found = sorted((d.class_name, d.first_frame, d.span_first_frame, d.span_last_frame) for d in result.detections)
    assert found == expected
    assert {name for name, *_ in found} >= {"fight", "fall"}  # the incidents are found
    assert result.windows == len(frames) - 15 and result.frames == len(frames)
    for d in result.detections:
        window = frames[d.first_frame : d.first_frame + 16]
        assert d.score == pytest.approx(float(detector.predict(window).max()), abs=1e-5)
        assert d.last_frame == d.first_frame + 15
        assert d.start_seconds == pytest.approx(d.first_frame / FPS) and d.end_seconds == pytest.approx((d.last_frame + 1) / FPS)
        assert d.source_id == "cam01" and d.model_sha256 == detector.model_sha256


def test_scan_at_a_stride_takes_every_kth_window(detector: Detector, recording: Path) -> None:
    result = scan_video(recording, detector, ScanSettings(stride=4))
    assert result.windows == len(range(0, 80 - 15, 4))
    assert all(d.first_frame % 4 == 0 for d in result.detections)


def batch_env(identities: Identities) -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


def batch_args(recording: Path, out: Path, identities: Identities | None, *extra: str) -> list[str]:
    keys = ["--keys", str(identities.seal_dir)] if identities else []
    return ["batch", str(recording.parent.parent), "--model", str(demo_model_path()), "--out", str(out), *keys, *extra]


def reported_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "reports").iterdir() if p.is_dir())


def ledger_entries(out: Path) -> list[dict]:
    """The entries that register something (checkpoints, which seal them, left out)."""
    entries = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    return [entry for entry in entries if entry["kind"] != "checkpoint"]


@pytest.fixture(scope="module")
def local_batch(recording: Path, identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The recording's folder batch-reported through the CLI in this process's way (one worker)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    run = run_cli(*batch_args(recording, out, identities, "--json"), env=batch_env(identities))
    assert run.returncode == 0, run.stderr
    return out, json.loads(run.stdout)


def test_batch_reports_every_detection_once_and_a_second_run_does_nothing(
    local_batch: tuple[Path, dict], recording: Path, identities: Identities, trust: Path
) -> None:
    out, summary = local_batch
    folders = reported_folders(out)
    assert summary["reported"] == summary["detections"] == len(folders) >= 2
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert sorted(r["status"] for r in rows) == ["reported"] * len(folders)
    assert {r["source"] for r in rows} == {"cam01"} and {r["class_name"] for r in rows} >= {"fight", "fall"}
    assert sorted(r["report"] for r in rows) == [f"reports/{f.name}" for f in folders]
    entries = ledger_entries(out)
    assert [e["kind"] for e in entries] == ["scan"] + ["report"] * len(folders)
    assert json.loads((out / "ledger.jsonl").read_text().splitlines()[-1])["kind"] == "checkpoint"  # the run's end
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith("index.")}
    index = (out / "index.csv").read_text()

    again = run_cli(*batch_args(recording, out, identities, "--json"), env=batch_env(identities))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped_as_done"] == 1 + len(folders)
    assert ledger_entries(out) == entries
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert (out / "index.csv").read_text() == index
    assert not (out / ".staging").exists()


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with vtest.avi and a copy cut to its first 60 % of bytes (a truncated recording)."""
    folder = tmp_path_factory.mktemp("street")
    data = VTEST.read_bytes()
    (folder / "vtest.avi").write_bytes(data)
    (folder / "vtest-cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    return folder


def test_real_footage_batch_killed_at_random_moments_ends_with_each_detection_reported_once(
    footage: Path, identities: Identities, tmp_path: Path, trust: Path
) -> None:
    out = tmp_path / "batch"
    profile = tmp_path / "no-masking.toml"
    profile.write_text("mask_faces = false\n", encoding="utf-8")  # what is tested here does not need it
    args = ["batch", str(footage), "--model", str(demo_model_path()), "--out", str(out), "--keys", str(identities.seal_dir),
            "--profile", str(profile), *SKIP_COSTLY_CHECKS]
    registered = []
    # the first run is killed right after its first ledger entry (mid-batch whatever the machine's
    # speed), the others at seeded random moments, or right after their first entry if sooner
    for moment in [None, *sorted(random.Random(13).sample([x / 2 for x in range(16, 80)], 2))]:
        known = _ledger_lines(out)
        process = subprocess.Popen([sys.executable, "-m", "auditor", *args], env=batch_env(identities),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _wait_for_entry(out, process, known, 300.0 if moment is None else moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
        registered.append(len(ledger_entries(out)) if (out / "ledger.jsonl").exists() else 0)
    final = run_cli(*args, "--json", env=batch_env(identities))
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    entries = ledger_entries(out)
    assert 0 < max(registered) < len(entries), registered  # the kills fell in the middle of the work
    reports = [e for e in entries if e["kind"] == "report"]
    assert len(reports) == len({e["key"] for e in reports}) == summary["detections"] == len(reported_folders(out)) > 2
    scans = {e["facts"]["video"]: e["facts"] for e in entries if e["kind"] == "scan"}
    assert sorted(scans) == ["vtest-cut.avi", "vtest.avi"]
    assert scans["vtest.avi"]["frames"] == 795 and scans["vtest.avi"]["decoding_stopped"] is None
    assert scans["vtest-cut.avi"]["decoding_stopped"].startswith("decoding stopped at frame ")
    cut = [f for f in reported_folders(out) if f.name.startswith("vtest-cut")]
    assert cut and all(json.loads((f / "evidence.json").read_text())["input"]["decoding_stopped"]["code"] == "decoding.stopped"
                       for f in cut)
    records = [json.loads((f / "evidence.json").read_text())["explanations"] for f in reported_folders(out)]
    assert {(r["counterfactuals"], r["faithfulness"], r["motion"] is not None) for r in records} == {(None, None, True)}
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert {r["note"].startswith("Decoding stopped at frame") for r in rows if r["video"] == "vtest-cut.avi"} == {True}
    assert {r["note"] for r in rows if r["video"] == "vtest.avi"} == {""}
    assert not (out / ".staging").exists()
    assert not [p for p in (out / "reports").iterdir() if p.name.startswith(".")]
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0


def _ledger_lines(out: Path) -> int:
    ledger = out / "ledger.jsonl"
    return ledger.read_bytes().count(b"\n") if ledger.exists() else 0


def _wait_for_entry(out: Path, process: subprocess.Popen, known: int, limit: float) -> None:
    """Return as soon as the batch's ledger holds more than `known` complete lines, the process
    ended, or `limit` seconds passed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if _ledger_lines(out) > known:
            return
        time.sleep(0.05)


def test_a_dask_local_cluster_gives_the_same_detections_and_reports(
    local_batch: tuple[Path, dict], recording: Path, identities: Identities, tmp_path: Path
) -> None:
    local, summary = local_batch
    settings = BatchSettings(DetectorSpec(str(demo_model_path())))
    executor = functools.partial(open_executor, 1, "local")
    dask = run_batch(collect_inputs([recording.parent.parent]), tmp_path / "dask", settings, SealSettings(identities.seal), executor)
    assert [r.model_dump(mode="json", exclude={"report"}) for r in dask.rows] == [
        {k: v for k, v in row.items() if k != "report"} for row in summary["rows"]
    ]
    scans = [sorted((base / "scans").iterdir()) for base in (local, tmp_path / "dask")]
    assert [p.read_bytes() for p in scans[0]] == [p.read_bytes() for p in scans[1]]
    for left, right in zip(reported_folders(local), reported_folders(tmp_path / "dask"), strict=True):
        assert left.name == right.name
        records = [json.loads((f / "evidence.json").read_text()) for f in (left, right)]
        for record in records:
            record.pop("report")
            for fact in ("computed_at", "host", "cache_file"):  # when and where each run got its sanity figures
                record["explanations"]["sanity"].pop(fact)
        assert records[0] == records[1]  # artifacts included: the images and arrays have the same SHA-256


def test_an_alert_log_is_reported_row_by_row_on_two_workers_and_a_bad_row_fails_alone(
    recording: Path, identities: Identities, tmp_path: Path, trust: Path
) -> None:
    log = tmp_path / "alerts.csv"
    video = os.path.relpath(recording, tmp_path)
    log.write_text(f"video,time,frame,class,source\n{video},1.6,,fight,gate\n{video},,48,,gate\nmissing.avi,,0,,gate\n")
    out = tmp_path / "out"
    args = ["batch", str(log), "--model", str(demo_model_path()), "--out", str(out), "--keys", str(identities.seal_dir),
            "--workers", "2", *SKIP_COSTLY_CHECKS]
    run = run_cli(*args, env=batch_env(identities))
    assert run.returncode == 9, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("auditor: error: 1 of 3 detections not reported")
    rows = sorted(csv.DictReader((out / "index.csv").open()), key=lambda r: r["video"])
    assert [(r["video"], r["status"]) for r in rows] == [("missing.avi", "failed"), ("recording.avi", "reported"), ("recording.avi", "reported")]
    assert "missing.avi" in rows[0]["reason"]
    records = {int(r["first_frame"]): json.loads((out / r["report"] / "evidence.json").read_text()) for r in rows[1:]}
    assert sorted(records) == [16, 48]  # 1.6 s at 10 fps is frame 16
    assert records[16]["decision"]["explained_class"] == "fight" and records[16]["input"]["source_id"] == "gate"
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0
    assert json.loads(run_cli(*args, "--json", env=batch_env(identities)).stdout)["skipped_as_done"] == 2


def test_scan_writes_detections_that_report_turns_into_signed_reports(
    recording: Path, identities: Identities, tmp_path: Path, trust: Path
) -> None:
    detections = tmp_path / "found" / "detections.jsonl"
    detections.parent.mkdir()
    scan = run_cli("scan", str(recording), "--model", str(demo_model_path()), "--out", str(detections), "--source-id", "cam01")
    assert scan.returncode == 0, scan.stderr
    lines = [json.loads(line) for line in detections.read_text().splitlines()]
    assert len(lines) >= 2 and {d["class_name"] for d in lines} >= {"fight", "fall"}
    assert all(d["video"] == str(recording) and d["source_id"] == "cam01" for d in lines)
    out = tmp_path / "reports"
    run = run_cli("report", "--detections", str(detections), "--model", str(demo_model_path()), "--out", str(out),
                  "--keys", str(identities.seal_dir), env=batch_env(identities))
    assert run.returncode == 0, run.stderr
    folders = reported_folders(out)
    assert len(folders) == len(lines)
    firsts = sorted(json.loads((f / "evidence.json").read_text())["input"]["frame_indices"][0] for f in folders)
    assert firsts == sorted(d["first_frame"] for d in lines)
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ("video,time\nclip.avi,1:7x\n", "alerts.csv line 2: '1:7x' is not a time"),
        ("video,frame,time\nclip.avi,3,1.5\n", "alerts.csv line 2: give either a frame or a time where the window starts, not both"),
        ("video,frame,colour\nclip.avi,3,red\n", "alerts.csv line 2: unknown column 'colour'"),
    ],
)
def test_a_bad_alert_row_is_named_by_its_line(log: str, message: str, tmp_path: Path) -> None:
    """The batch reports the other rows and lists this one as failed (tests/test_batch_attacks.py, item 22)."""
    (tmp_path / "alerts.csv").write_text(log)
    [row] = read_requests(tmp_path / "alerts.csv")
    assert isinstance(row, BadRow) and str(row).startswith(message)


def test_an_alert_log_without_video_and_window_columns_stops_before_anything_runs(identities: Identities, tmp_path: Path) -> None:
    (tmp_path / "alerts.csv").write_text("camera,when\ncam1,3\n")
    run = run_cli("batch", str(tmp_path / "alerts.csv"), "--model", str(demo_model_path()), "--out", str(tmp_path / "out"),
                  "--keys", str(identities.seal_dir), env=batch_env(identities))
    assert run.returncode == 7
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("auditor: error: ")
    assert "alerts.csv: the CSV header must name a video column and a frame or time column" in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_batch_without_a_seal_stops_before_any_work(recording: Path, tmp_path: Path) -> None:
    run = run_cli(*batch_args(recording, tmp_path / "out", None, "--keys", str(tmp_path / "no-keys")),
                  env={**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE})
    assert run.returncode == 6 and run.stderr.startswith("auditor: error: no signing key")
    assert run.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_batch_refuses_a_folder_that_holds_other_things(recording: Path, identities: Identities, tmp_path: Path) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    run = run_cli(*batch_args(recording, out, identities), env=batch_env(identities))
    assert run.returncode == 7 and "is not empty and holds no batch" in run.stderr and run.stderr.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_frames_decoded_ahead_arrive_in_order_errors_surface_and_closing_stops_the_thread() -> None:
    import threading

    from auditor.scan.sliding import _prefetched

    def failing() -> Iterator[int]:
        yield from range(3)
        raise VideoError("broken frame")

    seen = []
    with pytest.raises(VideoError, match="broken frame"):
        for item in _prefetched(failing()):
            seen.append(item)
    assert seen == [0, 1, 2]
    stream = _prefetched(iter(range(10_000)), depth=2)
    assert [next(stream) for _ in range(5)] == list(range(5))
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "auditor-decode"]


def test_a_scan_and_a_window_record_the_hash_of_the_file_they_decode_and_refuse_an_earlier_other_one(
    detector: Detector, recording: Path
) -> None:
    from auditor.files import sha256_file
    from auditor.scan.window import select_window

    known = sha256_file(recording)
    assert scan_video(recording, detector, video_sha256=known).video_sha256 == known
    assert select_window(recording, 16, start=8).source_sha256 == known
    changed = f"recording.avi changed since the batch read it \\(its SHA-256 is now {known[:12]}"
    with pytest.raises(VideoError, match=changed):
        scan_video(recording, detector, video_sha256="0" * 64)
    with pytest.raises(VideoError, match=changed):
        select_window(recording, 16, start=8, sha256="0" * 64)
