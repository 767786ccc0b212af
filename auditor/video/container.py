"""What a video file's container says, read without decoding, and what a seek or two can check:
its frame rate and stated frame count, whether a frame decodes, its true length.

FFmpeg's own messages ("[mov,mp4,… @ 0x…] moov atom not found") are kept off stderr
(`OPENCV_FFMPEG_LOGLEVEL`, read when the first video is opened; `auditor --debug` shows them): a
problem reaches the user as one `VideoError`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2

from auditor.errors import VideoError

FFMPEG_QUIET = "-8"  # AV_LOG_QUIET
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", FFMPEG_QUIET)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about it, read without decoding a frame."""

    path: Path  # what decoders open
    fps: float
    frame_count: int | None  # as the container states it; None when it states none
    shown_as: Path | None = None  # the file as the user named it, when `path` is a handle on it (`held_video`)

    @property
    def name(self) -> str:
        return (self.shown_as or self.path).name


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
    capture = open_capture(path)
    try:
        return container_info(path, capture)
    finally:
        capture.release()


def container_info(path: Path, capture: cv2.VideoCapture) -> VideoInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if not fps > 0:
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


def count_frames(path: Path, limit: int | None = None) -> int:
    """The frames of `path` that decode (at most `limit`): its true length when the container's is wrong."""
    capture = open_capture(check_video_path(path))
    try:
        return skip_frames(capture, limit)
    finally:
        capture.release()


def stated_end_decodes(info: VideoInfo) -> bool:
    """Whether the last frame the container states decodes (one seek); True when it states none."""
    return info.frame_count is None or frame_decodes(info.path, info.frame_count - 1)[0]


def decodes_through(info: VideoInfo, end: int) -> bool:
    """Whether frames up to `end` (excluded) decode: by the container's count and one seek to
    frame `end - 1`; by decoding up to `end` when the container states no count."""
    if info.frame_count is None:
        return count_frames(info.path, end) == end
    return end <= info.frame_count and frame_decodes(info.path, end - 1)[0]


def video_length(info: VideoInfo) -> VideoLength:
    """How many frames `info`'s video has: the container's count when its last frame decodes (one
    seek), else the frames that decode (decoding to the end: the container is wrong or silent)."""
    if info.frame_count is not None:
        last, beyond = frame_decodes(info.path, info.frame_count - 1)
        if last:
            return VideoLength(info.frame_count + int(beyond), stated=info.frame_count if beyond else None, more=beyond)
    return VideoLength(count_frames(info.path), stated=info.frame_count)


def frame_decodes(path: Path, index: int) -> tuple[bool, bool]:
    """Whether frame `index` decodes, and whether a frame after it does too (one seek)."""
    capture = open_capture(path)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        found = bool(capture.grab())
        return found, found and bool(capture.grab())
    finally:
        capture.release()


def open_capture(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(
            f"video {path} cannot be opened: it is not a video FFmpeg can read, or it is truncated "
            "(e.g. an MP4 without its index); check the file or re-encode it"
        )
    return capture


def skip_frames(capture: cv2.VideoCapture, count: int | None) -> int:
    """Decode and drop up to `count` frames (all when None); how many there were."""
    skipped = 0
    while (count is None or skipped < count) and capture.grab():
        skipped += 1
    return skipped


def frame_at(info: VideoInfo, seconds: float) -> int:
    """The index of the frame shown at `seconds` (frame i spans [i / fps, (i + 1) / fps))."""
    return math.floor(seconds * info.fps + 1e-6)
