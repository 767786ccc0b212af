"""`auditor scan` and `auditor batch` on a recording made of synthetic incidents between normal
scenes: the scan against a window-by-window reference, the batch end to end, resumed after
SIGKILL at random moments, and on a Dask LocalCluster."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities

from auditor.batch.executors import InlineExecutor, open_executor
from auditor.batch.inputs import collect_inputs
from auditor.batch.run import BatchSettings, run_batch
from auditor.batch.tasks import DetectorSpec
from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.scan import ScanSettings, scan_video
from auditor.signing import SealSettings
from auditor.synthetic import make_clip
from auditor.video import read_video, write_video

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


def batch_args(recording: Path, out: Path, identities: Identities, *extra: str) -> list[str]:
    return ["batch", str(recording.parent.parent), "--model", str(demo_model_path()), "--out", str(out),
            "--keys", str(identities.seal_dir), *extra]


def reported_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "reports").iterdir() if p.is_dir())


def ledger_entries(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def test_batch_reports_every_detection_once_and_a_second_run_does_nothing(
    recording: Path, identities: Identities, tmp_path: Path, trust: Path
) -> None:
    out = tmp_path / "batch"
    run = run_cli(*batch_args(recording, out, identities, "--json"), env=batch_env(identities))
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    folders = reported_folders(out)
    assert summary["reported"] == summary["detections"] == len(folders) >= 2
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert sorted(r["status"] for r in rows) == ["reported"] * len(folders)
    assert {r["source"] for r in rows} == {"cam01"} and {r["class_name"] for r in rows} >= {"fight", "fall"}
    entries = ledger_entries(out)
    assert [e["kind"] for e in entries] == ["scan"] + ["report"] * len(folders)
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


def test_a_batch_killed_at_random_moments_ends_with_each_detection_reported_once(
    recording: Path, identities: Identities, tmp_path: Path, trust: Path
) -> None:
    out = tmp_path / "batch"
    args = [sys.executable, "-m", "auditor", *batch_args(recording, out, identities)]
    moments = random.Random(13).sample([x / 2 for x in range(6, 40)], 4)
    for moment in sorted(moments):
        process = subprocess.Popen(args, env=batch_env(identities), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = run_cli(*batch_args(recording, out, identities, "--json"), env=batch_env(identities))
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    entries = ledger_entries(out)
    reports = [e for e in entries if e["kind"] == "report"]
    assert len(reports) == len({e["key"] for e in reports}) == summary["detections"] == len(reported_folders(out))
    assert len([e for e in entries if e["kind"] == "scan"]) == 1
    assert not (out / ".staging").exists()
    assert not [p for p in (out / "reports").iterdir() if p.name.startswith(".")]
    assert run_cli("verify", str(out), "--trust", str(trust)).returncode == 0


def test_a_dask_local_cluster_gives_the_same_detections_and_reports(
    recording: Path, identities: Identities, tmp_path: Path
) -> None:
    settings = BatchSettings(DetectorSpec(str(demo_model_path())))
    seal = SealSettings(identities.seal)
    inputs = collect_inputs([recording.parent.parent])
    local = run_batch(inputs, tmp_path / "local", settings, seal, InlineExecutor())
    with open_executor(1, "local") as executor:
        dask = run_batch(inputs, tmp_path / "dask", settings, seal, executor)
    assert [r.model_dump(exclude={"report"}) for r in dask.rows] == [r.model_dump(exclude={"report"}) for r in local.rows]
    scans = [sorted((base / "scans").iterdir()) for base in (tmp_path / "local", tmp_path / "dask")]
    assert [p.read_bytes() for p in scans[0]] == [p.read_bytes() for p in scans[1]]
    for left, right in zip(reported_folders(tmp_path / "local"), reported_folders(tmp_path / "dask"), strict=True):
        assert left.name == right.name
        records = [json.loads((f / "evidence.json").read_text()) for f in (left, right)]
        for record in records:
            record.pop("report")
        assert records[0] == records[1]  # artifacts included: the images and arrays have the same SHA-256
