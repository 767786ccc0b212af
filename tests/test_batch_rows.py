"""What a batch tells the operator about the rows of an alert log and its failures (issue 24 item 8):
every bad row named in one run (the terminal shows the first 20 and a count), a failed row shows
what the row gave (its frame or its time, its class; no made-up 0, no --at), a failed scan shows no
class and no score, only failures a rerun can mend say to run again, and the index names the
source the report states."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from fixtures.cli import run_cli
from fixtures.identities import PASSPHRASE, Identities
from fixtures.report_records import EXAMPLE_PROFILE

from auditor.batch.failures import PassingFailure, disk_full
from auditor.batch.inputs import collect_inputs
from auditor.batch.run import BatchSettings, run_batch
from auditor.batch.tasks import DetectorSpec
from auditor.demo import demo_model_path
from auditor.errors import ArchiveError, VideoError
from auditor.signing.seal import SealSettings
from auditor.synthetic import make_clip
from auditor.video import write_video

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # opencv-doc: 768×576, 10 fps, 795 frames
SKIP_COSTLY_CHECKS = ("--skip-check", "counterfactuals", "--skip-check", "faithfulness", "--skip-check", "persons")


def batch_env() -> dict[str, str]:
    return {**os.environ, "AUDITOR_KEY_PASSPHRASE": PASSPHRASE}


def index_rows(out: Path) -> list[dict[str, str]]:
    with (out / "index.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_bad_row_is_named_in_one_run_as_the_row_gave_it(identities: Identities, tmp_path: Path) -> None:
    os.symlink(VTEST, tmp_path / "vtest.avi")
    rows = [
        b"vtest.avi,,1:7x,,gate",  # line 2: not a time
        b"vtest.avi,3,1.5,,gate",  # line 3: a frame and a time
        "vtest.avi,4,,,caf\u00e9".encode("latin-1"),  # line 4: not UTF-8 (a spreadsheet's Latin-1)
        "vtest.avi,5,,,gar\u00e7on".encode("latin-1"),  # line 5: not UTF-8 either
        b"vtest.avi,99999,,,gate",  # line 6: a frame past the end
        b"vtest.avi,,5:00,fight,gate",  # line 7: a time past the end, with a class
        b"x" * 300 + b".avi,1,,,gate",  # line 8: a name the system refuses (too long)
        *(f"missing.avi,{n},,,gate".encode() for n in range(20)),  # lines 9-28: no such video
    ]
    log = tmp_path / "alerts.csv"
    log.write_bytes(b"video,frame,time,class,source\n" + b"\n".join(rows) + b"\n")
    out = tmp_path / "out"
    run = run_cli("batch", str(log), "--model", str(demo_model_path()), "--out", str(out),
                  "--keys", str(identities.seal_dir), env=batch_env())
    assert run.returncode == 9 and "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len([line for line in lines if line.startswith("  failed: ")]) == 20
    assert "  … and 7 more failed rows (index.csv lists each with why)" in lines
    assert lines[-1].startswith("auditor: error: 27 of 27 detections not reported; see ")
    assert lines[-1].endswith("a rerun alone gives the same failures; correct the rows or files first")
    assert "run the same command again" not in run.stderr
    found = {row["reason"].split(":")[0]: row for row in index_rows(out) if row["video"] == "alerts.csv"}
    assert sorted(found) == [f"alerts.csv line {n}" for n in (2, 3, 4, 5)]  # each bad row, not only the first
    assert found["alerts.csv line 4"]["reason"] == "alerts.csv line 4: not UTF-8 text (byte 0xE9); save the log as UTF-8"
    assert [row["first_frame"] + row["start_seconds"] + row["class_name"] for row in found.values()] == [""] * 4
    every = index_rows(out)
    assert len(every) == 27 and {row["status"] for row in every} == {"failed"}
    assert {(row["score"], row["threshold"]) for row in every} == {("", "")}  # no score was given or found
    index = {(row["video"], row["first_frame"], row["start_seconds"]): row for row in every}
    by_frame = index[("vtest.avi", "99999", "")]  # the frame the row gave, no time
    assert "; the row's frame 99999 is past its end" in by_frame["reason"] and "--start" not in by_frame["reason"]
    assert (by_frame["class_name"], by_frame["source"]) == ("", "gate")
    by_time = index[("vtest.avi", "", "300.0")]  # the time the row gave, no frame 0
    assert "; the row's time 5:00 (frame 3000) is past its end" in by_time["reason"] and "--at" not in by_time["reason"]
    assert by_time["class_name"] == "fight"
    assert "cannot be opened (File name too long)" in index[("x" * 300 + ".avi", "1", "")]["reason"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "0.000" not in page and "(predicted)" not in page and "(row)" not in page


def test_the_index_names_the_source_the_report_states(identities: Identities, tmp_path: Path) -> None:
    """The profile names the camera (platform-2-camera-07), the file is vtest10x.avi: the report, its
    index row, its folder and a failed scan's row all name the camera; the file name stays beside it."""
    write_video(tmp_path / "vtest10x.avi", make_clip("fight", 101).frames, 10.0)
    (tmp_path / "broken.avi").write_bytes(b"RIFF, but no video at all")
    log = tmp_path / "alerts.csv"
    log.write_text("video,frame\nvtest10x.avi,0\n", encoding="utf-8")
    out = tmp_path / "out"
    run = run_cli("batch", str(log), str(tmp_path / "broken.avi"), "--model", str(demo_model_path()), "--out", str(out),
                  "--keys", str(identities.seal_dir), "--profile", str(EXAMPLE_PROFILE), *SKIP_COSTLY_CHECKS,
                  env=batch_env())
    assert run.returncode == 9, run.stderr
    reported, scan = sorted(index_rows(out), key=lambda row: row["status"], reverse=True)
    record = json.loads((out / reported["report"] / "evidence.json").read_text(encoding="utf-8"))
    assert record["input"]["source_id"] == reported["source"] == "platform-2-camera-07"
    assert reported["video"] == record["input"]["file_name"] == "vtest10x.avi"
    assert reported["report"].startswith("reports/platform-2-camera-07_frame-0_")
    assert (scan["status"], scan["source"], scan["video"], scan["class_name"], scan["score"]) == (
        "failed", "platform-2-camera-07", "broken.avi", "", "")
    assert scan["reason"].startswith("scan failed: ") and scan["first_frame"] == scan["start_seconds"] == ""
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "vtest10x</td>" not in page and "(scan)" not in page
    assert run.stderr.splitlines()[-1].endswith("a rerun alone gives the same failures; correct the rows or files first")


def _no_space() -> ArchiveError:
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        try:
            raise ArchiveError("could not write scans/x.jsonl: No space left on device; check free space") from exc
        except ArchiveError as error:
            return error


@pytest.mark.parametrize(
    ("error", "passing", "reason"),
    [
        (BrokenProcessPool(), True, "a worker process died (out of memory, or killed); run the same command again"),
        (_no_space(), True, "could not write scans/x.jsonl: No space left on device; check free space; then run the same command again"),
        (PassingFailure("could not write report.pdf: Disk quota exceeded"), True,
         "could not write report.pdf: Disk quota exceeded; then run the same command again"),
        (VideoError("video x.avi cannot be opened: check the file or re-encode it"), False,
         "video x.avi cannot be opened: check the file or re-encode it"),
    ],
)
def test_only_a_failure_that_may_pass_is_told_to_run_again(
    error: Exception, passing: bool, reason: str, identities: Identities, tmp_path: Path
) -> None:
    """The units fail as a worker pool, a full disk or a video would make them fail."""

    class Failing(Executor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
            future: Future = Future()
            future.set_exception(error)
            return future

    video = write_video(tmp_path / "cam.avi", make_clip("fight", 7).frames, 10.0)
    settings = BatchSettings(DetectorSpec(str(demo_model_path())))
    summary = run_batch(collect_inputs([video]), tmp_path / "out", settings, SealSettings(identities.seal),
                        lambda: contextlib.nullcontext(Failing()))
    assert [(row.status, row.reason) for row in summary.rows] == [("failed", f"scan failed: {reason}")]
    assert summary.passing == int(passing) and summary.as_json()["failed_for_a_passing_reason"] == int(passing)
    assert disk_full(error) == (passing and not isinstance(error, BrokenProcessPool))
