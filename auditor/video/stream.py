"""Video decoding as a stream: a file becomes a `FrameStream` of sampled RGB frames with exact
indices and presentation times; memory does not grow with the video's length.

- **Indices** are counted: frame i is the i-th frame that decodes (0-based), whatever its container
  claims. Frames before a stream's start are decoded with `grab` and dropped, never converted or
  kept, so reaching minute 59 holds nothing of minutes 0–58.
- **Times** are the container's presentation times (`CAP_PROP_POS_MSEC` read after each grab:
  the frame's PTS, measured from the stream's start), so variable frame rates and dropped frames
  show as they were recorded; a container that gives none falls back to index / fps.
- **Sampling** (`Sampling`) picks the frames a model sees: every k-th decoded frame, or about f
  frames per second by presentation time. Its phase begins at the stream's first frame.
- **The end**: decoding stops at the first frame that does not decode. `DecodeEnd` says where,
  and whether that is before the end the container states (a truncated or partly corrupt file):
  everything that decodes is used, and the report says where decoding stopped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auditor.errors import VideoError
from auditor.video.container import check_video_path, container_info, open_capture
from auditor.video.timecode import format_time

EPSILON = 1e-6  # seconds: presentation times closer than this are the same time


@dataclass(frozen=True)
class Sampling:
    """Which decoded frames the model sees: every `every`-th frame, or (when `fps` is set) about
    `fps` frames per second chosen by presentation time."""

    every: int = 1
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"sampling every {self.every} frames: take every frame (1) or every k-th (k > 1)")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"sampling at {self.fps} frames per second: give a rate above 0")
        if self.fps is not None and self.every != 1:
            raise ValueError("sampling: give every k-th frame or a frame rate, not both")

    def describe(self) -> str:
        """"every frame", "every 3rd frame", "5 frames per second"."""
        if self.fps is not None:
            return f"{self.fps:g} frame{'' if self.fps == 1 else 's'} per second"
        return "every frame" if self.every == 1 else f"every {_ordinal(self.every)} frame"

    def interval(self, video_fps: float) -> float:
        """Seconds from one sampled frame to the next at the video's nominal frame rate."""
        if self.fps is None:
            return self.every / video_fps
        return max(1 / self.fps, 1 / video_fps)

    def span(self, frames: int, video_fps: float) -> int:
        """The source frames that `frames` sampled frames cover, first to last (exact for every
        k-th frame; for a frame rate, at the video's nominal rate)."""
        step = self.every if self.fps is None else max(1.0, video_fps / self.fps)
        return math.ceil((frames - 1) * step - EPSILON) + 1


EVERY_FRAME = Sampling()  # the default: the model sees every decoded frame


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the file (counted, 0-based), its presentation time, its pixels."""

    index: int
    time: float  # seconds from the start of the video
    rgb: np.ndarray  # (H, W, 3) uint8


@dataclass(frozen=True)
class DecodeEnd:
    """Where decoding a file stopped, against the end its container states."""

    frames: int  # frames decoded in total: the index of the first frame that did not decode
    time: float | None  # when the last decoded frame ends (its time plus one frame interval); None: no frame
    stated: int | None  # the container's frame count; None when it states none
    complete: bool  # False when decoding stopped before the container's stated end (truncated or corrupt)

    def describe(self) -> str:
        """Where decoding stopped, e.g. "decoding stopped at frame 412 (0:41.2) of 795 the file
        states: the rest does not decode"."""
        when = f" ({format_time(self.time)})" if self.time is not None else ""
        if self.complete:
            return f"all {self.frames} frames decode{when}"
        return (
            f"decoding stopped at frame {self.frames}{when} of {self.stated} the file states: "
            "the rest does not decode"
        )


class FrameStream:
    """The sampled frames of one video, decoded one at a time: an iterator of `Frame` and a
    context manager (leaving it releases the decoder). Frames are converted only when sampled, and
    none is kept, so memory does not grow with the video.

    `end` is set when the file ran out (`DecodeEnd`); it stays None when the stream stopped
    first (at `stop`, or closed early), since nothing is then known of the rest of the file.
    """

    def __init__(
        self,
        path: Path,
        start: int = 0,
        sampling: Sampling = Sampling(),
        stop: int | None = None,
        at: float | None = None,
    ) -> None:
        if start < 0:
            raise ValueError(f"a stream starts at frame 0 or later, not {start}")
        self.path = check_video_path(path)
        self.sampling = sampling
        self.end: DecodeEnd | None = None
        self._stop = stop
        self._capture: cv2.VideoCapture | None = None
        self._last_time = 0.0  # the presentation time of the last frame grabbed
        capture = self._capture_from_start()
        try:
            self.info = container_info(self.path, capture)
        except VideoError:
            self.close()
            raise
        self._frames = self._from_time(at) if at is not None else self._sampled(self._from(start))

    def __iter__(self) -> FrameStream:
        return self

    def __next__(self) -> Frame:
        return next(self._frames)

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder; the stream yields nothing more."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._frames = iter(())

    def drain(self) -> DecodeEnd:
        """Decode the rest of the file, past `stop`, converting no frame: where decoding stopped.
        The stream yields nothing more; VideoError when it was closed before."""
        self._frames = iter(())
        for _ in self._raw:
            pass
        self.close()
        if self.end is None:
            raise VideoError(f"video {self.path}: its stream was closed before its end; open it again")
        return self.end

    def _capture_from_start(self) -> cv2.VideoCapture:
        """A decoder at the file's first frame (the one in use released); its frames feed `_raw`."""
        if self._capture is not None:
            self._capture.release()
        self._capture = open_capture(self.path)
        self._raw = self._grabbed()
        return self._capture

    def _grabbed(self) -> Iterator[tuple[int, float]]:
        """(index, time) of each frame that decodes; sets `end` when the file runs out."""
        index = 0
        while self._capture is not None:
            if not self._capture.grab():
                self.end = self._end_at(index)
                return
            msec = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
            time = round(msec / 1000, 6) if math.isfinite(msec) and (msec > 0 or index == 0) else index / self.info.fps
            self._last_time = time
            yield index, time
            index += 1

    def _grabs(self) -> Iterator[tuple[int, float]]:
        """The decoded frames before `stop`."""
        stop = self._stop
        return self._raw if stop is None else itertools.takewhile(lambda grabbed: grabbed[0] < stop, self._raw)

    def _end_at(self, index: int) -> DecodeEnd:
        """The end of decoding when frame `index` did not decode."""
        fps, stated = self.info.fps, self.info.frame_count
        time = self._last_time + 1 / fps if index else None
        reached = stated is None or index >= stated or (time is not None and time >= (stated - 0.5) / fps - EPSILON)
        return DecodeEnd(frames=index, time=time, stated=stated, complete=reached)

    def _from(self, start: int) -> Iterator[tuple[int, float]]:
        """The decoded frames from `start` on (the ones before it grabbed, never converted)."""
        return (grabbed for grabbed in self._grabs() if grabbed[0] >= start)

    def _sampled(self, grabbed: Iterator[tuple[int, float]], first: Frame | None = None) -> Iterator[Frame]:
        """The sampled frames, from `first` (already converted) and then the `grabbed` ones."""
        picker = _Picker(self.sampling)
        if first is not None and picker.take(first.index, first.time):
            yield first
        for index, time in grabbed:
            if picker.take(index, time):
                rgb = self._rgb()
                if rgb is None:
                    self.end = self._end_at(index)
                    return
                yield Frame(index, time, rgb)

    def _from_time(self, at: float) -> Iterator[Frame]:
        """The sampled frames from the frame shown at `at` seconds: the last whose presentation time
        is at or before `at` (the first frame, when `at` comes before it). Frames within one nominal
        interval before `at` are converted in case they are it; when the frame shown at `at` is
        older (a gap in the recording), the file is decoded again from its start up to that frame."""
        nominal = 1 / self.info.fps
        shown: tuple[int, float, np.ndarray | None] | None = None
        grabs = self._grabs()
        rest: Iterator[tuple[int, float]] = iter(())
        for index, time in grabs:
            if time <= at + EPSILON:
                shown = (index, time, self._rgb() if time > at - nominal else None)
                continue
            if shown is None:  # the video starts after `at`: its first frame
                shown, rest = (index, time, self._rgb()), grabs
            elif shown[2] is None:  # a gap: the frame shown at `at` was not converted
                self._capture_from_start()
                yield from self._sampled(self._from(shown[0]))
                return
            else:
                rest = itertools.chain([(index, time)], grabs)
            break
        else:  # the file ended: its last frame is shown at `at` until it ends
            if shown is None or at >= shown[1] + nominal:
                return
        if shown[2] is None:  # it does not decode
            self.end = self._end_at(shown[0])
            return
        yield from self._sampled(rest, Frame(shown[0], shown[1], shown[2]))

    def _rgb(self) -> np.ndarray | None:
        """The frame just grabbed, converted to RGB; None when it does not decode."""
        if self._capture is None:
            return None
        ok, bgr = self._capture.retrieve()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None


class _Picker:
    """Decides which decoded frames a `Sampling` takes; its phase begins at the first frame offered."""

    def __init__(self, sampling: Sampling) -> None:
        self.sampling = sampling
        self.first: tuple[int, float] | None = None
        self.slot = 0  # with a frame rate: the next time slot (n / fps after the first frame) to fill

    def take(self, index: int, time: float) -> bool:
        if self.first is None:
            self.first = (index, time)
        first_index, first_time = self.first
        if self.sampling.fps is None:
            return (index - first_index) % self.sampling.every == 0
        elapsed = time - first_time
        if elapsed < self.slot / self.sampling.fps - EPSILON:
            return False
        self.slot = math.floor(elapsed * self.sampling.fps + EPSILON) + 1  # after a gap: no burst of frames
        return True


def _chain(head: tuple[int, float], rest: Iterator[tuple[int, float]]) -> Iterator[tuple[int, float]]:
    yield head
    yield from rest


def open_stream(
    path: Path, start: int = 0, sampling: Sampling = Sampling(), stop: int | None = None, *, at: float | None = None
) -> FrameStream:
    """The sampled frames of `path` from frame `start` (or, with `at`, from the frame shown at `at`
    seconds by presentation time), stopping before frame `stop`; the sampling's phase begins at the
    first frame. Earlier frames are grabbed (decoded), never converted or kept. VideoError when the
    file is missing, no video, or states no frame rate."""
    return FrameStream(path, start, sampling, stop, at)


def decode_end(path: Path) -> DecodeEnd:
    """Where decoding `path` stops: the whole file is decoded, no frame converted or kept."""
    with open_stream(path) as stream:
        return stream.drain()
