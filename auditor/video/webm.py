"""Writing frames as a short video that browsers play: VP9 in WebM, with the libvpx-vp9 encoder
of PyAV's bundled FFmpeg (royalty-free; Chromium, Firefox, Edge and Safari 14+ play it).

The bytes depend on the frames alone: one encoder thread, fixed settings, and FFmpeg's bit-exact
muxing (no random segment or track ids, no library version in the file). The size is bounded: a
constant quality with a cap on the bit rate (constrained quality), checked against `max_bytes`.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import cast

import av
import numpy as np
from av.video.frame import PictureType
from av.video.stream import VideoStream

from auditor.errors import ReportError

CODEC = "libvpx-vp9"
QUALITY = 40  # constant rate factor, 0 (lossless) to 63 (worst): PSNR 36.5 dB on vtest, 0.46 MB for its 7.6 s clip
MAX_BITRATE = 1_500_000  # bits per second, the cap of constrained quality (vtest needs ~0.4; noise hits the cap)
ENCODER_OPTIONS = {
    "crf": str(QUALITY),
    "deadline": "realtime",  # with cpu-used 6: ~6 ms a 768×576 frame, 25 % larger than "good" at 8× the time
    "cpu-used": "6",
    "row-mt": "0",
    "tile-columns": "0",
    "lag-in-frames": "0",
    "auto-alt-ref": "0",
}


def even_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The clip's frame size: the recorded size reduced to at most `max_width`, aspect ratio kept,
    both sides even (4:2:0 chroma halves them)."""
    scale = min(1.0, max_width / width)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def frame_rate(fps: float) -> Fraction:
    """The stream's exact rate for a nominal `fps` (25 → 25, 29.97 → 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


class WebmWriter:
    """Frames in, WebM bytes out: `add` each (H, W, 3) uint8 RGB frame of the given size, then
    `finish`. Frame n is shown at n / rate."""

    def __init__(self, size: tuple[int, int], fps: float, max_bytes: int) -> None:
        self.size, self.max_bytes, self.frames = size, max_bytes, 0
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format="webm")
        self._container.flags |= cast(int, av.container.Flags.bitexact.value)  # no random ids, no library version
        rate = frame_rate(fps)
        self._stream = cast(VideoStream, self._container.add_stream(CODEC, rate=rate))
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = 1 / rate
        self._stream.codec_context.thread_count = 1
        self._stream.bit_rate = MAX_BITRATE  # with "crf": constrained quality, this the cap
        self._stream.options = dict(ENCODER_OPTIONS)

    def add(self, rgb: np.ndarray, *, keyframe: bool = False) -> None:
        """Encode the next frame; `keyframe` makes it one (a player seeks to it exactly, and nothing
        after it depends on the frames before)."""
        if rgb.shape != (self.size[1], self.size[0], 3) or rgb.dtype != np.uint8:
            raise ValueError(f"a clip frame must be {self.size[1]}×{self.size[0]}×3 uint8, not {rgb.shape} {rgb.dtype}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        if keyframe:
            frame.pict_type = PictureType.I
        self.frames += 1
        self._mux(frame)
        self._check_size()

    def finish(self) -> bytes:
        """Flush the encoder and close the file; its bytes."""
        self._mux(None)
        self._container.close()
        self._check_size()
        return self._buffer.getvalue()

    def close(self) -> None:
        """Abandon the clip (after an error)."""
        self._container.close()

    def _mux(self, frame: av.VideoFrame | None) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _check_size(self) -> None:
        if self._buffer.tell() > self.max_bytes:
            raise ReportError(
                f"the clip grew beyond {self.max_bytes} bytes after {self.frames} frames; "
                "its bit rate is capped, so this is an encoder fault: report it"
            )
