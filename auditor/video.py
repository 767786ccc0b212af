"""Video decoding: a file becomes a `Clip` of RGB frames with timestamps and the file's hash.

Only what is asked for is decoded: `probe_video` reads a video's length and frame rate from its
container without decoding, `read_video` skips the frames before `start` with `grab` (decoded,
never converted or kept) and keeps `max_frames` frames, and `count_frames` decodes to the end
only when the container's count proved wrong. FFmpeg's own messages ("[mov,mp4,… @ 0x…] moov
atom not found") are kept off stderr (`OPENCV_FFMPEG_LOGLEVEL`, read when the first video is
opened; `auditor --debug` shows them): a problem reaches the user as one `VideoError`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auditor.errors import VideoError
from auditor.files import sha256_file

FFMPEG_QUIET = "-8"  # AV_LOG_QUIET
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", FFMPEG_QUIET)
_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)")
TIME_FORMS = "seconds (70.5), minutes:seconds (1:10.5) or hours:minutes:seconds (01:10:05)"


@dataclass(frozen=True)
class Clip:
    """Decoded frames of one video file."""

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    frame_indices: np.ndarray  # (N,) int, index of each frame in the source
    timestamps: np.ndarray  # (N,) float64 seconds from the start of the source
    fps: float
    source_name: str
    source_sha256: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about it, read without decoding a frame."""

    path: Path
    fps: float
    frame_count: int | None  # as the container states it; None when it states none

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class VideoLength:
    """A video's length in frames, and what its container stated when that was wrong."""

    frames: int  # frames that decode (with `more`: at least this many)
    stated: int | None = None  # the container's count, when it differs
    more: bool = False  # frames decode beyond the container's count

    def __str__(self) -> str:
        if self.more:
            return f"at least {self.frames} frames (its container states {self.stated})"
        if self.stated is not None:
            return f"{self.frames} decodable frames (its header claims {self.stated})"
        return f"{self.frames} frame{'' if self.frames == 1 else 's'}"


def probe_video(path: Path) -> VideoInfo:
    """The frame rate and stated frame count of `path`; VideoError when it is no readable video."""
    path = check_video_path(path)
    capture = _open(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    if fps <= 0:
        raise VideoError(f"video {path} does not state its frame rate; re-encode it (e.g. with ffmpeg)")
    return VideoInfo(path, fps, count if count > 0 else None)


def check_video_path(path: Path) -> Path:
    """`path` if it names a file; VideoError saying what it is otherwise."""
    path = Path(path)
    if path.is_dir():
        raise VideoError(f"video {path} is a folder, not a video file; give the video file itself")
    if not path.exists():
        raise VideoError(f"video {path} does not exist; check the path")
    if not path.is_file():
        raise VideoError(f"video {path} is not a regular file; give a video file")
    return path


def read_video(path: Path, max_frames: int | None = None, start: int = 0) -> Clip:
    """Decode `path` from frame `start` (at most `max_frames` frames) into a Clip.

    The clip is shorter than `max_frames` when the video ends first; VideoError when the file is
    missing, unreadable, or holds no frame at `start`.
    """
    path = check_video_path(path)
    capture = _open(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        skipped = _skip(capture, start)
        frames = _read_frames(capture, max_frames) if skipped == start else []
    finally:
        capture.release()
    if not frames:
        where = f" at frame {start} (it ends after {skipped} frames)" if start and skipped else ""
        raise VideoError(f"video {path} holds no decodable frame{where}; the file may be corrupt or truncated")
    if fps <= 0:
        raise VideoError(f"video {path} does not state its frame rate; re-encode it (e.g. with ffmpeg)")
    indices = np.arange(start, start + len(frames))
    return Clip(
        frames=np.stack(frames),
        frame_indices=indices,
        timestamps=indices / fps,
        fps=fps,
        source_name=path.name,
        source_sha256=sha256_file(path),
    )


def count_frames(path: Path, limit: int | None = None) -> int:
    """The frames of `path` that decode (at most `limit`): its true length when the container's is wrong."""
    capture = _open(check_video_path(path))
    try:
        return _skip(capture, limit)
    finally:
        capture.release()


def decodes_through(info: VideoInfo, end: int) -> bool:
    """Whether frames up to `end` (excluded) decode: by the container's count and one seek to
    frame `end - 1`; by decoding up to `end` when the container states no count."""
    if info.frame_count is None:
        return count_frames(info.path, end) == end
    return end <= info.frame_count and _frame_decodes(info.path, end - 1)[0]


def video_length(info: VideoInfo) -> VideoLength:
    """How many frames `info`'s video has: the container's count when its last frame decodes (one
    seek), else the frames that decode (decoding to the end: the container is wrong or silent)."""
    if info.frame_count is not None:
        last, beyond = _frame_decodes(info.path, info.frame_count - 1)
        if last:
            return VideoLength(info.frame_count + int(beyond), stated=info.frame_count if beyond else None, more=beyond)
    return VideoLength(count_frames(info.path), stated=info.frame_count)


def _frame_decodes(path: Path, index: int) -> tuple[bool, bool]:
    """Whether frame `index` decodes, and whether a frame after it does too (one seek)."""
    capture = _open(path)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        found = bool(capture.grab())
        return found, found and bool(capture.grab())
    finally:
        capture.release()


def _open(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(
            f"video {path} cannot be opened: it is not a video FFmpeg can read, or it is truncated "
            "(e.g. an MP4 without its index); check the file or re-encode it"
        )
    return capture


def _skip(capture: cv2.VideoCapture, count: int | None) -> int:
    """Decode and drop up to `count` frames (all when None); how many there were."""
    skipped = 0
    while (count is None or skipped < count) and capture.grab():
        skipped += 1
    return skipped


def _read_frames(capture: cv2.VideoCapture, max_frames: int | None) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    while max_frames is None or len(frames) < max_frames:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


def parse_time(text: str) -> float:
    """Seconds from `70.5`, `1:10.5` or `01:10:05`; ValueError saying the accepted forms."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time: write {TIME_FORMS}")
    hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    if (match.group(2) and seconds >= 60) or (match.group(1) and minutes >= 60):
        raise ValueError(f"{text!r} is not a time: minutes and seconds after a colon are below 60")
    return hours * 3600 + minutes * 60 + seconds


def format_time(seconds: float) -> str:
    """`1:17.9`, `0:05`, `1:02:03.25`: a position in a video, cut (not rounded) to hundredths."""
    hundredths = math.floor(seconds * 100 + 1e-6)
    minutes, rest = divmod(hundredths, 6000)
    hours, minutes = divmod(minutes, 60)
    text = f"{rest // 100:02d}" + (f".{rest % 100:02d}".rstrip("0") if rest % 100 else "")
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"


def frame_at(info: VideoInfo, seconds: float) -> int:
    """The index of the frame shown at `seconds` (frame i spans [i / fps, (i + 1) / fps))."""
    return math.floor(seconds * info.fps + 1e-6)


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Write uint8 RGB frames as MJPG AVI (mp4/H.264 writers are not available everywhere)."""
    path = Path(path)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"cannot write video {path}; check the folder exists and is writable")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
