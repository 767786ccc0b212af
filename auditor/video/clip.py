"""A `Clip`: frames decoded into memory (the window a report explains), and writing test videos."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auditor.errors import VideoError
from auditor.files import sha256_file
from auditor.video.container import VideoInfo
from auditor.video.stream import EVERY_FRAME, DecodeEnd, Frame, Sampling, open_stream


@dataclass(frozen=True)
class Clip:
    """Decoded frames of one video file: the frames the model sees, as sampled."""

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    frame_indices: np.ndarray  # (N,) int, index of each frame in the source
    timestamps: np.ndarray  # (N,) float64 presentation times, seconds from the start of the source
    fps: float  # the container's nominal frame rate
    source_name: str
    source_sha256: str
    sampling: Sampling = EVERY_FRAME
    decode_end: DecodeEnd | None = None  # where decoding the file stopped, when that is known

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @classmethod
    def of(
        cls, frames: Sequence[Frame], info: VideoInfo, sampling: Sampling, end: DecodeEnd | None,
        sha256: str | None = None,
    ) -> Clip:
        """The clip of decoded `frames` (at least one) of the video `info` describes; `sha256` is the
        file's hash when the caller has just computed it (else it is computed here)."""
        return cls(
            frames=np.stack([f.rgb for f in frames]),
            frame_indices=np.array([f.index for f in frames], dtype=np.int64),
            timestamps=np.array([f.time for f in frames], dtype=np.float64),
            fps=info.fps,
            source_name=info.name,
            source_sha256=sha256 or sha256_file(info.path),
            sampling=sampling,
            decode_end=end,
        )


def read_video(path: Path, max_frames: int | None = None, start: int = 0) -> Clip:
    """Decode `path` from frame `start` (at most `max_frames` frames) into a Clip.

    The clip is shorter than `max_frames` when the video ends first; VideoError when the file is
    missing, unreadable, or holds no frame at `start`.
    """
    with open_stream(path, start) as stream:
        frames = list(itertools.islice(stream, max_frames))
        end = stream.end
    if not frames:
        decoded = end.frames if end is not None else 0
        where = f" at frame {start} (it ends after {decoded} frames)" if start and decoded else ""
        raise VideoError(f"video {path} holds no decodable frame{where}; the file may be corrupt or truncated")
    return Clip.of(frames, stream.info, stream.sampling, end)


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
