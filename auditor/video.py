"""Video decoding: a file becomes a `Clip` of RGB frames with timestamps and the file's hash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auditor.errors import VideoError
from auditor.files import sha256_file


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


def read_video(path: Path, max_frames: int | None = None) -> Clip:
    """Decode `path` into a Clip; raise VideoError when it is missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video {path} does not exist; check the path")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"video {path} cannot be opened; is it a video file OpenCV can decode?")
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 0.0
        frames = _read_frames(capture, max_frames)
    finally:
        capture.release()
    if not frames:
        raise VideoError(f"video {path} holds no decodable frame; the file may be corrupt or truncated")
    if fps <= 0:
        raise VideoError(f"video {path} does not state its frame rate; re-encode it (e.g. with ffmpeg)")
    indices = np.arange(len(frames))
    return Clip(
        frames=np.stack(frames),
        frame_indices=indices,
        timestamps=indices / fps,
        fps=fps,
        source_name=path.name,
        source_sha256=sha256_file(path),
    )


def _read_frames(capture: cv2.VideoCapture, max_frames: int | None) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    while max_frames is None or len(frames) < max_frames:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


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
