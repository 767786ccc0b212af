"""Video decoding and atomic file output: bad input is refused clearly, nothing is half-written."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from auditor.errors import ArchiveError, VideoError
from auditor.files import atomic_directory, atomic_write_bytes, sha256_file
from auditor.scan.window import check_window, select_window
from auditor.video import (
    VideoLength,
    format_time,
    parse_time,
    probe_video,
    read_video,
    video_length,
    write_video,
)


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


VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # opencv-doc: 768×576, 10 fps, 795 frames


class CountingCapture:
    """A VideoCapture that counts the frames it decodes (grab or read); the rest is delegated."""

    decoded = 0
    real = cv2.VideoCapture

    def __init__(self, path: str) -> None:
        self.capture = CountingCapture.real(path)

    def grab(self) -> bool:
        CountingCapture.decoded += 1
        return self.capture.grab()

    def read(self) -> tuple[bool, np.ndarray]:
        CountingCapture.decoded += 1
        return self.capture.read()

    def __getattr__(self, name: str) -> object:
        return getattr(self.capture, name)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingCapture]:
    CountingCapture.decoded = 0
    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    return CountingCapture


def test_times_are_read_and_written_as_a_user_writes_them() -> None:
    assert [parse_time(t) for t in ("70.5", "1:10.5", "01:10:05", "0", "3.")] == [70.5, 70.5, 4205.0, 0.0, 3.0]
    for bad in ("1:7x", "-3", "", "1:", "1:75", "1:60:00", "a"):
        with pytest.raises(ValueError, match="is not a time"):
            parse_time(bad)
    assert [format_time(s) for s in (77.9, 0, 300, 4205, 0.29, 44 / 25)] == ["1:17.9", "0:00", "5:00", "1:10:05", "0:00.29", "0:01.76"]


def test_a_window_decodes_only_its_frames(counting: type[CountingCapture]) -> None:
    """--at 1:10.5 on vtest.avi is frames 705-720, decoded once in order (the frames before skipped),
    after one seek that checks the window's last frame and one that checks the file's; they are the
    frames a plain decode gives."""
    window = select_window(VTEST, 16, at=parse_time("1:10.5"))
    assert list(window.frame_indices) == list(range(705, 721)) and window.timestamps[0] == pytest.approx(70.5)
    assert counting.decoded <= 721 + 2 + 2 and window.decode_end is None  # the file decodes to its stated end
    capture = CountingCapture.real(str(VTEST))
    for _ in range(705):
        capture.grab()
    expected = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(16)]
    np.testing.assert_array_equal(window.frames, np.stack(expected))


def test_a_window_that_does_not_fit_is_refused_without_decoding_the_video(counting: type[CountingCapture]) -> None:
    for start, at in ((-5, None), (790, None), (0, 300.0)):
        with pytest.raises(VideoError, match=r"vtest.avi has 795 frames .* choose a start frame between 0 and 779"):
            check_window(VTEST, 16, start, at)
    assert counting.decoded <= 3 * 2  # one seek and one look beyond the last frame per refusal


def test_a_container_that_overstates_its_frames_is_corrected_by_decoding(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.avi", _frames(40), fps=10.0)
    lying = tmp_path / "lying.avi"
    lying.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    info = probe_video(lying)
    length = video_length(info)
    assert info.frame_count == 40 and length.stated == 40 and length.frames == len(read_video(lying)) < 40
    assert str(length) == f"{length.frames} decodable frames (its header claims 40)"
    assert video_length(probe_video(full)) == VideoLength(40)


def test_a_folder_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="is a folder, not a video file"):
        read_video(tmp_path)


def test_a_stop_right_as_the_staging_folder_is_made_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop (SIGTERM, Ctrl-C) landing just after the staging folder exists, before the code that
    removes it was entered (seen once in `test_11_sigterm_during_render`): the folder is removed."""

    class Stopped(BaseException):
        pass

    made = Path.mkdir

    def mkdir_then_stop(self: Path, *args: object, **kwargs: object) -> None:
        made(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.name.startswith(".out."):
            raise Stopped

    monkeypatch.setattr(Path, "mkdir", mkdir_then_stop)
    with pytest.raises(Stopped), atomic_directory(tmp_path / "out"):
        pass
    assert list(tmp_path.iterdir()) == []
