"""Video decoding and atomic file output: bad input is refused clearly, nothing is half-written."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import ArchiveError, VideoError
from auditor.files import atomic_directory, atomic_write_bytes, sha256_file
from auditor.video import read_video, write_video


def _frames(count: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = np.zeros((count, 48, 64, 3), np.uint8)
    for t in range(count):
        frames[t, 10:30, 5 + 5 * t : 20 + 5 * t] = rng.integers(100, 255, 3)
    return frames


def test_video_round_trip(tmp_path: Path) -> None:
    frames = _frames()
    path = write_video(tmp_path / "clip.avi", frames, fps=10.0)
    clip = read_video(path)
    assert clip.frames.shape == frames.shape and clip.frames.dtype == np.uint8
    assert clip.fps == pytest.approx(10.0)
    np.testing.assert_allclose(clip.timestamps, np.arange(6) / 10.0)
    assert clip.source_sha256 == sha256_file(path) and clip.source_name == "clip.avi"
    assert np.abs(clip.frames.astype(int) - frames).mean() < 8  # MJPG is lossy, colours are kept (RGB order)


def test_corrupt_video(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.avi"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(VideoError, match="corrupt.avi"):
        read_video(path)


def test_truncated_video(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.avi", _frames(), fps=10.0)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(VideoError):
        read_video(cut)


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        read_video(tmp_path / "nope.mp4")


def test_atomic_write_sets_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = atomic_write_bytes(tmp_path / "key.pem", b"secret", mode=0o600)
    assert path.read_bytes() == b"secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_full_disk_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = atomic_write_bytes(tmp_path / "report.pdf", b"old")

    def no_space(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ArchiveError, match="No space left on device; check free space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_atomic_directory_failure_keeps_previous_report(tmp_path: Path) -> None:
    final = tmp_path / "report"
    with atomic_directory(final) as staging:
        (staging / "evidence.json").write_text("first")
    with pytest.raises(RuntimeError), atomic_directory(final) as staging:
        (staging / "evidence.json").write_text("second, half-way")
        raise RuntimeError("signing failed")
    assert (final / "evidence.json").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_atomic_directory_replaces_on_success(tmp_path: Path) -> None:
    final = tmp_path / "report"
    for text in ("first", "second"):
        with atomic_directory(final) as staging:
            (staging / "evidence.json").write_text(text)
    assert (final / "evidence.json").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
