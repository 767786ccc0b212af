"""Sliding the detector's window over whole videos and keeping the windows that raise an alert.

Each sampled frame goes through the per-frame CNN once (in batches); every window of T sampled
frames, `stride` sampled frames apart, then runs only the layers above the CNN on the features it
shares with its neighbours. Flagged windows of one class that overlap merge into one `Detection`,
which keeps the best window (highest score) and the span of all of them.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from auditor.detector import Detector
from auditor.detector.sidecar import sidecar_path
from auditor.errors import ModelError, VideoError
from auditor.scan.detections import Detection
from auditor.video import DecodeEnd, Frame, held_video, open_stream

T = TypeVar("T")
ScanProgress = Callable[[int, int], None]  # (frames decoded so far, detections so far)


class ScanSettings(BaseModel):
    """How windows are taken: `stride` sampled frames between window starts, `batch_size` frames
    per CNN call and `windows_per_call` windows per call of the layers above it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stride: int = Field(1, ge=1, le=10_000)
    batch_size: int = Field(16, ge=1, le=1024)
    windows_per_call: int = Field(32, ge=1, le=4096)


@dataclass(frozen=True)
class Window:
    """One window's source frames and its class probabilities."""

    indices: tuple[int, ...]
    times: tuple[float, ...]
    probabilities: np.ndarray


@dataclass
class ScanResult:
    """What scanning one video found, and how far its decoding went."""

    video: Path
    video_sha256: str
    detections: list[Detection]
    frames: int
    windows: int
    decode_end: DecodeEnd | None = None


@dataclass
class _Group:
    """Overlapping flagged windows of one class being merged."""

    best: Window
    score: float
    first: int
    last: int
    count: int = 1


@dataclass
class _Merger:
    """Merges flagged windows of one class while they overlap; closed groups become detections."""

    class_names: Sequence[str]
    is_alert: Callable[[str, float], bool]
    open_groups: dict[str, _Group] = field(default_factory=dict)
    closed: list[tuple[str, _Group]] = field(default_factory=list)

    def add(self, window: Window) -> None:
        top = int(np.argmax(window.probabilities))
        name, score = self.class_names[top], float(window.probabilities[top])
        if not self.is_alert(name, score):
            return
        group = self.open_groups.get(name)
        if group is not None and window.indices[0] <= group.last:
            group.last, group.count = window.indices[-1], group.count + 1
            if score > group.score:
                group.best, group.score = window, score
            return
        if group is not None:
            self.closed.append((name, group))
        self.open_groups[name] = _Group(window, score, window.indices[0], window.indices[-1])

    def finish(self) -> list[tuple[str, _Group]]:
        groups = self.closed + list(self.open_groups.items())
        self.open_groups, self.closed = {}, []
        return sorted(groups, key=lambda item: (item[1].best.indices[0], item[0]))


def window_length(detector: Detector) -> int:
    """The frames one window holds: the model's fixed clip length, else its sidecar's
    `frames_per_clip` (a model of any clip length is never run on a whole video)."""
    frames = detector.frames_per_clip or detector.sidecar.frames_per_clip
    if frames is None:
        raise ModelError(
            f"{detector.model_path.name}: this model takes clips of any length: set frames_per_clip in its "
            f"sidecar {sidecar_path(detector.model_path).name} (the clip length it was trained on)"
        )
    return frames


def scan_video(
    video: Path,
    detector: Detector,
    settings: ScanSettings | None = None,
    source_id: str | None = None,
    progress: ScanProgress | None = None,
    video_sha256: str | None = None,
) -> ScanResult:
    """Every flagged detection of `video`, windows taken as the detector's sidecar samples clips.
    The detections carry the SHA-256 of the file their frames were decoded from (`held_video`);
    `video_sha256`, the hash a batch read earlier, is refused when it differs."""
    settings = settings or ScanSettings()
    rule = detector.sidecar.decision_rule
    merger = _Merger(detector.class_names, rule.raises_alert)
    windows = frames = 0
    with (
        held_video(video, video_sha256) as held,
        open_stream(held.source, sampling=detector.sidecar.sampling) as stream,
        contextlib.closing(_window_batches(stream, detector, window_length(detector), settings)) as batches,
    ):
        for batch in batches:
            for window in batch:
                merger.add(window)
            windows += len(batch)
            frames = batch[-1].indices[-1] + 1
            if progress is not None:
                progress(frames, len(merger.closed) + len(merger.open_groups))
        end = stream.end
    if windows == 0:
        raise VideoError(
            f"video {Path(video).name} decodes to {end.frames if end else 0} frames, too few for one window of "
            f"{window_length(detector)} sampled frames; give a longer video"
        )
    stopped = end.describe() if end is not None and not end.complete else None
    made = _Made(str(video), held.sha256, source_id, detector, rule.threshold, stopped)
    detections = [made.detection(name, group) for name, group in merger.finish()]
    return ScanResult(Path(video), held.sha256, detections, end.frames if end else frames, windows, end)


@dataclass(frozen=True)
class _Made:
    """The facts every detection of one scan shares."""

    video: str
    video_sha256: str
    source_id: str | None
    detector: Detector
    threshold: float
    decoding_stopped: str | None

    def detection(self, class_name: str, group: _Group) -> Detection:
        best = group.best
        frame_seconds = best.times[-1] - best.times[-2] if len(best.times) > 1 else 0.0
        return Detection(
            video=self.video, video_sha256=self.video_sha256, source_id=self.source_id,
            first_frame=best.indices[0], last_frame=best.indices[-1],
            start_seconds=round(best.times[0], 6), end_seconds=round(best.times[-1] + frame_seconds, 6),
            class_name=class_name, score=round(group.score, 6), threshold=self.threshold,
            model_name=self.detector.sidecar.name, model_sha256=self.detector.model_sha256,
            windows=group.count, span_first_frame=group.first, span_last_frame=group.last,
            decoding_stopped=self.decoding_stopped,
        )


def _window_batches(
    stream: Iterator[Frame], detector: Detector, length: int, settings: ScanSettings
) -> Generator[list[Window], None, None]:
    """Windows of `length` sampled frames every `stride` frames, scored `windows_per_call` at a time.
    Frames are decoded and prepared one chunk ahead in a background thread, while the model runs."""
    recent: deque[tuple[int, float, np.ndarray]] = deque(maxlen=length)
    pending: list[tuple[tuple[int, ...], tuple[float, ...], np.ndarray]] = []
    seen = 0
    prepared = (
        (chunk, detector.prepare_frames(np.stack([f.rgb for f in chunk]))) for chunk in _chunks(stream, settings.batch_size)
    )
    with contextlib.closing(_prefetched(prepared)) as chunks:
        for chunk, inputs in chunks:
            for frame, feature in zip(chunk, detector.features_of_prepared(inputs), strict=True):
                recent.append((frame.index, frame.time, feature))
                seen += 1
                if len(recent) == length and (seen - length) % settings.stride == 0:
                    indices, times, stacked = zip(*recent, strict=True)
                    pending.append((indices, times, np.stack(stacked)))
            while len(pending) >= settings.windows_per_call:
                yield _scored(detector, pending[: settings.windows_per_call])
                pending = pending[settings.windows_per_call :]
    if pending:
        yield _scored(detector, pending)


def _prefetched(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """`items`, produced up to `depth` ahead by a background thread (OpenCV and TensorFlow release
    the GIL: decoding overlaps the model). Closing the iterator stops and joins the thread."""
    queue: Queue[tuple[str, object]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                queue.put((kind, value), timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as exc:  # handed to the consumer, raised there
            put("error", exc)

    thread = threading.Thread(target=produce, name="auditor-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def _scored(detector: Detector, pending: list[tuple[tuple[int, ...], tuple[float, ...], np.ndarray]]) -> list[Window]:
    probabilities = detector.window_probabilities(np.stack([features for _, _, features in pending]))
    return [Window(indices, times, p) for (indices, times, _), p in zip(pending, probabilities, strict=True)]


def _chunks(stream: Iterator[Frame], size: int) -> Iterator[list[Frame]]:
    chunk: list[Frame] = []
    for frame in stream:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
