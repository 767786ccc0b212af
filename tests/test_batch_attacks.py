"""Issue 21, "a batch that never lies about its inputs": one test per item. A video changed after
its scan (15), the same bytes under two cameras (16), another report's signed folder at a report's
name (17), each report registered as it finishes and nothing staged left on an interrupt (19),
detections of another model (20), duplicate units (21), hostile operator files (22).

The trust checks and face masking are left out (what is tested does not depend on them); most
batches run in this process, one unit at a time, with the demo model loaded once."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.archive import check_ledger
from auditor.batch.executors import InlineExecutor
from auditor.batch.inputs import BatchInputs, collect_inputs
from auditor.batch.run import BatchSettings, BatchSummary, run_batch
from auditor.batch.tasks import DetectorSpec, detector_for, run_report
from auditor.demo import demo_model_path
from auditor.detector.sidecar import sidecar_path
from auditor.errors import ArchiveError, VideoError
from auditor.explain.base import CHECK_NAMES
from auditor.explain.checks import CheckSettings
from auditor.files import sha256_file
from auditor.pipeline import ReportOptions
from auditor.profile import DeploymentProfile
from auditor.scan.detections import detections_jsonl
from auditor.scan.requests import read_requests
from auditor.scan.sliding import scan_video
from auditor.signing.seal import SealSettings
from auditor.synthetic import make_clip
from auditor.video import held_video, read_video, write_video

FPS = 10.0
FIGHT = (("normal", 11), ("fight", 101), ("normal", 12))  # 48 frames; the demo model flags frames 16-31
OTHER_FIGHT = (("normal", 21), ("fight", 201), ("normal", 22))  # the same story, other bytes
SETTINGS = BatchSettings(
    DetectorSpec(str(demo_model_path())),
    report=ReportOptions(profile=DeploymentProfile(mask_faces=False), checks=CheckSettings.without(CHECK_NAMES)),
)
SKIP_CHECKS = tuple(arg for name in CHECK_NAMES for arg in ("--skip-check", name))


def frames_of(scenes: tuple[tuple[str, int], ...]) -> np.ndarray:
    return np.concatenate([make_clip(label, seed).frames for label, seed in scenes])


def clip(path: Path, scenes: tuple[tuple[str, int], ...] = FIGHT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, frames_of(scenes), FPS)


def batch(inputs: BatchInputs, out: Path, identities: Identities, executor: Executor | None = None) -> BatchSummary:
    """`auditor batch` in this process (one unit at a time unless `executor` says otherwise)."""
    return run_batch(inputs, out, SETTINGS, SealSettings(identities.seal), lambda: nullcontext(executor or InlineExecutor()))


def env() -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


def cli_args(identities: Identities, tmp_path: Path) -> list[str]:
    """What every command line here adds: the seal, no masking, no trust checks."""
    profile = tmp_path / "no-masking.toml"
    profile.write_text("mask_faces = false\n", encoding="utf-8")
    return ["--keys", str(identities.seal_dir), "--profile", str(profile), *SKIP_CHECKS]


def folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "reports").iterdir() if p.is_dir())


def ledger_entries(out: Path) -> list[dict]:
    """The entries that register something (checkpoints, which seal them, left out)."""
    entries = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    return [entry for entry in entries if entry["kind"] != "checkpoint"]


# 15


class _ReusesTheFile(InlineExecutor):
    """Runs each unit in this process; before the first report, the recording system writes new
    footage into the scanned file."""

    def __init__(self, video: Path, frames: np.ndarray) -> None:
        self.video, self.frames, self.reused = video, frames, False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if fn is run_report and not self.reused:
            write_video(self.video, self.frames, FPS)
            self.reused = True
        return super().submit(fn, *args, **kwargs)


def test_15_a_video_changed_after_its_scan_is_refused_not_sealed_with_the_old_hash(
    identities: Identities, tmp_path: Path
) -> None:
    video = clip(tmp_path / "footage" / "cam01" / "rec.avi")
    scanned = sha256_file(video)
    out = tmp_path / "out"
    summary = batch(collect_inputs([tmp_path / "footage"]), out, identities, _ReusesTheFile(video, frames_of(OTHER_FIGHT)))
    now = sha256_file(video)
    assert now != scanned
    rows = [(r.status, r.video_sha256[:12], r.reason) for r in summary.rows]
    assert len(rows) == 1 and rows[0][0] == "failed", f"scanned {scanned[:12]}, file now {now[:12]}: {rows}"
    assert f"changed since the batch read it (its SHA-256 is now {now[:12]}" in rows[0][2]
    assert not folders(out)
    assert [e["kind"] for e in ledger_entries(out)] == ["scan"]

    # the scan's detections, given after the change (`auditor report --detections`): refused before any work
    scan_file = next((out / "scans").iterdir())
    again = batch(BatchInputs(requests=read_requests(scan_file)), tmp_path / "later", identities)
    assert [r.status for r in again.rows] == ["failed"]
    assert f"changed since it was scanned (its SHA-256 is now {now[:12]}" in (again.rows[0].reason or "")
    assert not folders(tmp_path / "later")


def test_15_a_held_video_is_decoded_from_the_bytes_it_hashed_and_a_change_while_held_is_refused(tmp_path: Path) -> None:
    video = clip(tmp_path / "rec.avi")
    kept = shutil.copyfile(video, tmp_path / "kept.avi")
    clip(tmp_path / "new.avi", OTHER_FIGHT)
    changed = "rec.avi was changed or replaced while it was read"
    with pytest.raises(VideoError, match=changed), held_video(video) as held:
        os.replace(tmp_path / "new.avi", video)  # the name now holds other bytes
        assert np.array_equal(read_video(held.source).frames, read_video(kept).frames)
        assert held.sha256 == sha256_file(kept) != sha256_file(video)
    with pytest.raises(VideoError, match=changed), held_video(video), video.open("r+b") as file:
        file.write(b"JUNK")  # written into the held file itself


# 16


def test_16_the_same_bytes_under_two_cameras_are_scanned_and_reported_for_each(identities: Identities, tmp_path: Path) -> None:
    footage = tmp_path / "footage"
    entrance = clip(footage / "cam1" / "entrance.avi")
    (footage / "cam2").mkdir()
    shutil.copyfile(entrance, footage / "cam2" / "exit.avi")
    out = tmp_path / "out"
    summary = batch(collect_inputs([footage]), out, identities)
    assert sorted((r.source, r.video, r.status) for r in summary.rows) == [
        ("cam1", "entrance.avi", "reported"), ("cam2", "exit.avi", "reported")
    ], [r.reason for r in summary.rows]
    assert check_ledger(out).problem is None
    assert sorted(e["kind"] for e in ledger_entries(out)) == ["report", "report", "scan", "scan"]
    again = batch(collect_inputs([footage]), out, identities)
    assert again.skipped == 4 and [r.status for r in again.rows] == ["reported"] * 2
    assert check_ledger(out).problem is None


# 17


def test_17_another_reports_signed_folder_at_a_reports_name_is_not_adopted(identities: Identities, tmp_path: Path) -> None:
    clip(tmp_path / "rec.avi")
    log = tmp_path / "alerts.csv"
    log.write_text("video,frame,class\nrec.avi,0,normal\nrec.avi,16,fight\n", encoding="utf-8")
    out = tmp_path / "out"
    first = batch(collect_inputs([log]), out, identities)
    assert [r.status for r in first.rows] == ["reported"] * 2
    x, y = (out / str(r.report) for r in sorted(first.rows, key=lambda r: r.first_frame))
    ledger = out / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    cut = next(n for n, line in enumerate(lines) if json.loads(line)["path"] == y.relative_to(out).as_posix())
    assert [json.loads(line)["kind"] for line in lines[cut + 1 :]] == ["checkpoint"]
    ledger.write_bytes(b"".join(lines[:cut]))  # Y's ledger line (and the checkpoint after it) dropped ...
    shutil.rmtree(y)
    shutil.copytree(x, y)  # ... and report X's validly signed folder put at Y's name

    again = batch(collect_inputs([log]), out, identities)
    y_row = next(r for r in again.rows if r.report != x.relative_to(out).as_posix())
    assert y_row.status == "failed", f"adopted as Y: {y_row}"
    assert y_row.reason is not None and "is not this report" in y_row.reason and "frame 0" in y_row.reason
    assert [e["path"] for e in ledger_entries(out)] == [x.relative_to(out).as_posix()]


# 19


def _first_event(out: Path, process: subprocess.Popen, one_at_a_time: bool, limit: float = 240.0) -> str:
    """"registered" as soon as the ledger registers a report; "staged" when (`one_at_a_time`) a
    second report starts while none is registered; "ended" or "timeout" otherwise."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "ended"
        ledger = out / "ledger.jsonl"
        if ledger.exists() and b'"kind":"report"' in ledger.read_bytes():
            return "registered"
        staging = out / ".staging"
        if one_at_a_time and staging.is_dir() and len(os.listdir(staging)) >= 2:
            return "staged"
        time.sleep(0.05)
    return "timeout"


def _ctrl_c_heard() -> None:
    """In the child before exec: SIGINT back to its default, as in a terminal. A suite started in
    the background (`cmd &` in a script) hands its children SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler: the batch would not hear the interrupt at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("workers", "interrupt", "exit_code"),
    [(("--workers", "1"), signal.SIGINT, 130), (("--scheduler", "local", "--workers", "1"), signal.SIGTERM, 143)],
    ids=["one-worker-ctrl-c", "dask-local-sigterm"],
)
def test_19_each_report_is_registered_as_it_finishes_and_an_interrupt_keeps_them_and_no_staging(
    workers: tuple[str, ...], interrupt: signal.Signals, exit_code: int, identities: Identities, tmp_path: Path
) -> None:
    clip(tmp_path / "rec.avi")
    log = tmp_path / "alerts.csv"
    log.write_text("video,frame\nrec.avi,0\nrec.avi,8\nrec.avi,16\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["batch", str(log), "--model", str(demo_model_path()), "--out", str(out), *cli_args(identities, tmp_path), *workers]
    process = subprocess.Popen([sys.executable, "-m", "auditor", *args], env=env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_ctrl_c_heard)
    try:
        event = _first_event(out, process, one_at_a_time=interrupt == signal.SIGINT)
        assert event == "registered", f"{event}: a second report started before the first was registered"
        process.send_signal(interrupt)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == exit_code, stderr
    assert len(stderr.splitlines()) == 1 and "nothing half-written was kept" in stderr, stderr  # one line, no blank
    time.sleep(2)  # a worker still writing would show now
    assert not (out / ".staging").exists(), sorted(p.name for p in (out / ".staging").rglob("*"))[:5]
    assert check_ledger(out).problem is None
    registered = sum(e["kind"] == "report" for e in ledger_entries(out))
    assert registered >= 1
    if interrupt == signal.SIGINT:
        again = run_cli(*args, "--json", env=env())
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert summary["skipped_as_done"] == registered and summary["reported"] == 3


# 20


def _model_that_flags_nothing(folder: Path) -> Path:
    """The demo model with its last layer zeroed (every class 1/3: "normal", no alert), its sidecar beside it."""
    from auditor._tensorflow import keras

    folder.mkdir()
    model = keras.models.load_model(demo_model_path(), compile=False)
    last = model.layers[-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    model.save(folder / "model.keras")
    source = sidecar_path(demo_model_path())
    shutil.copyfile(source, sidecar_path(folder / "model.keras"))
    shutil.copyfile(source.parent / "MODEL_CARD.md", folder / "MODEL_CARD.md")
    return folder / "model.keras"


def test_20_detections_of_another_model_are_refused_not_rejudged_by_this_one(identities: Identities, tmp_path: Path) -> None:
    video = clip(tmp_path / "rec.avi")
    found = scan_video(video, detector_for(SETTINGS.spec)).detections
    assert [d.class_name for d in found] == ["fight"]
    detections = tmp_path / "detections.jsonl"
    detections.write_text(detections_jsonl(found), encoding="utf-8")
    other = _model_that_flags_nothing(tmp_path / "other")
    out = tmp_path / "out"
    run = run_cli("report", "--detections", str(detections), "--model", str(other), "--out", str(out),
                  *cli_args(identities, tmp_path), env=env())
    assert run.returncode == 9, (run.returncode, run.stdout, run.stderr)
    failed = [line for line in run.stderr.splitlines() if line.startswith("  failed:")]
    assert len(failed) == 1 and "was found by auditor-demo-detector" in failed[0] and "not by this model" in failed[0]
    assert "Traceback" not in run.stderr and not folders(out)


# 21


def test_21_duplicate_units_are_done_once(identities: Identities, tmp_path: Path) -> None:
    video = clip(tmp_path / "rec.avi")
    log = tmp_path / "alerts.csv"
    log.write_text("video,frame,class\nrec.avi,16,fight\nrec.avi,16,fight\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = batch(collect_inputs([video, video, log]), out, identities)  # the video twice; its detection thrice
    assert [(r.status, r.reason) for r in summary.rows] == [("reported", None)]
    assert [e["kind"] for e in ledger_entries(out)] == ["scan", "report"]
    assert len(folders(out)) == 1


# 22


def test_22_hostile_rows_each_fail_alone_with_one_line_and_the_other_rows_are_reported(
    identities: Identities, tmp_path: Path
) -> None:
    clip(tmp_path / "rec.avi")
    long_name = "n" * 240 + ".avi"
    shutil.copyfile(tmp_path / "rec.avi", tmp_path / long_name)
    os.mkfifo(tmp_path / "pipe.avi")
    odd = tmp_path / "odd" / "cam\n1"
    clip(odd / "rec.avi")
    bad_csv = [
        "pipe.avi,0,gate", "/dev/zero,0,gate", f"rec.avi,0,{'s' * 240}", "rec\0.avi,0,gate", f'rec.avi,"{"1" * (1 << 20)}",gate',
        "rec.avi,\u00b2,gate", f"rec.avi,{'9' * 5000},gate", 'rec.avi,0,"cam\n1"',
    ]
    (tmp_path / "alerts.csv").write_text(
        "\n".join(["video,frame,source", "rec.avi,16,gate", f"{long_name},8,gate", *bad_csv]) + "\n", encoding="utf-8"
    )
    bad_jsonl = [
        '{"video": ' + "[" * 100_000 + "]" * 100_000 + ', "frame": 0}', '{"video": "rec\\u0000.avi", "frame": 0}',
        '{"video": "rec.avi", "frame": 0, "source": "cam\\u0000x"}', '{"video": "rec.avi", "frame": ' + "9" * 5000 + "}",
    ]
    (tmp_path / "alerts.jsonl").write_text("\n".join(bad_jsonl) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "alerts.csv"), str(tmp_path / "alerts.jsonl"), str(tmp_path / "odd"),
            "--model", str(demo_model_path()), "--out", str(out), *cli_args(identities, tmp_path)]
    done = subprocess.run([sys.executable, "-m", "auditor", *args], env=env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)  # a hang fails here
    bad = len(bad_csv) + len(bad_jsonl) + 1
    assert "Traceback" not in done.stderr and done.returncode == 9, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len([line for line in lines if line.startswith("  failed:")]) == bad, done.stderr
    assert lines[-1].startswith(f"auditor: error: {bad} of {bad + 2} detections not reported")
    assert all(len(line) < 600 for line in lines)
    index = (out / "index.csv").read_bytes()
    assert b"\0" not in index and b"\0" not in (out / "index.html").read_bytes()
    rows = list(csv.DictReader(index.decode().splitlines()))
    assert len(rows) == bad + 2 and not [v for row in rows for v in row.values() if "\n" in v or "\r" in v]
    assert sorted(r["video"] for r in rows if r["status"] == "reported") == sorted([long_name, "rec.avi"])
    assert check_ledger(out).problem is None


@pytest.mark.parametrize("planted", [".staging", "reports", "scans"])
def test_22_a_link_planted_in_the_batch_folder_is_refused_and_nothing_is_written_through_it(
    planted: str, identities: Identities, tmp_path: Path
) -> None:
    video = clip(tmp_path / "rec.avi")
    out = tmp_path / "out"
    batch(BatchInputs(), out, identities)  # an empty batch folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = out / planted
    if target.exists():
        shutil.rmtree(target)
    target.symlink_to(elsewhere)
    with pytest.raises(ArchiveError, match=f"{planted} is a symbolic link"):
        batch(collect_inputs([video]), out, identities)
    assert list(elsewhere.iterdir()) == []


def test_a_local_dask_cluster_listens_on_loopback_only() -> None:
    """Its scheduler, workers and HTTP server are reachable from this machine alone (a guard: they
    were before too, but the HTTP server took the fixed port 8787, and a second batch, or a test
    beside one, got a Dask warning and another port)."""
    import psutil

    from auditor.batch.executors import open_executor

    with open_executor(2, "local"):
        me = psutil.Process()
        processes = [me, *me.children(recursive=True)]
        listening = [c.laddr for p in processes for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 3  # the scheduler, its HTTP server, each worker
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening
