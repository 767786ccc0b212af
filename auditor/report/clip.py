"""The clip of a report: the explained window with a few seconds of context before and after,
as `clip.webm`, and the same frames with the Grad-CAM overlay on the window's frames as
`clip-heatmap.webm` (VP9 in WebM, `auditor.video.webm`).

- **Frames**: every decoded frame of the recording from `context_seconds` before the window to
  `context_seconds` after it (clamped to the recording), played at its nominal rate. They are
  decoded again as a stream from the very file the window came from (`held_video` refuses it if
  its SHA-256 changed), one at a time: memory holds three frames, whatever the clip's length.
- **Faces** are masked as in the report's pictures (`auditor.video.masking`, `ShownFrames`): looked for
  in every frame of the clip, each frame's boxes also masked in the frame before and after it; a
  frame the model saw also gets every box its pictures mask.
- **Heatmap**: a frame of the window (presentation time from `input.start_seconds` up to
  `input.end_seconds`) shows the Grad-CAM map of the nearest frame the model saw, scaled as the
  pictures' (`drawn.scale`), blended as in the pictures (`display.overlay`), under a cyan band
  along its top edge (a weak map leaves a frame almost unchanged: the band says it is one of the
  window's); context frames are the plain clip's. Keyframes start the window and the context after
  it, so that a player seeks to both exactly.
- **Bounds**: the context is at most `MAX_CONTEXT_SECONDS` a side, and shrinks so that the clip
  lasts at most `MAX_CLIP_SECONDS`; a window longer than that gets no clip (`clip` null in the record,
  a warning logged; the report then names only the time to open the recording).
  Frames wider than `max_width` are reduced to it; the bit rate is capped.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from auditor.errors import ReportError
from auditor.evidence import ClipKeyFrame, ClipRecord, Note
from auditor.explain.contours import Scale, normalise
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.names import CLIP_HEATMAP_NAME, CLIP_NAME
from auditor.report.display import overlay, resize_map
from auditor.report.shown_frames import ShownFrames
from auditor.video import EVERY_FRAME, Clip, Frame, held_video, open_stream
from auditor.video.masking import Box, FaceMasking, find_faces, mask_faces
from auditor.video.webm import MAX_BITRATE, QUALITY, WebmWriter, even_size

log = logging.getLogger(__name__)
CONTEXT_SECONDS = 3.0
MAX_CONTEXT_SECONDS = 10.0
MAX_CLIP_SECONDS = 60.0
MAX_WIDTH = 960
MAX_CLIP_BYTES = int(MAX_CLIP_SECONDS * MAX_BITRATE / 8 * 3)  # thrice the cap: it is an average (noise: 2.5× over 3 s)
EPSILON = 1e-6
DETECTION_BATCH = 8  # frames whose faces are looked for in one call
WINDOW_BAND_RGB = (0, 220, 255)  # the heatmap clip marks the window's frames with a band of this colour ...
WINDOW_BAND_SHARE = 1 / 48  # ... this share of the frame's height, along the top edge


@dataclass(frozen=True)
class ClipSettings:
    """How much context the clip shows on each side of the window, and its widest frame."""

    context_seconds: float = CONTEXT_SECONDS
    max_width: int = MAX_WIDTH


@dataclass(frozen=True)
class _Span:
    """The decoded frames the clip covers: [first, stop) of the recording, and the window's times."""

    first: int
    stop: int
    window_start: float
    window_end: float


@dataclass(frozen=True)
class _Shown:
    """One clip frame with the faces found in it and the boxes its pictures mask (frames the model saw)."""

    frame: Frame
    found: tuple[Box, ...]
    pictured: tuple[Box, ...]


def write_clips(
    video: Path,
    window: Clip,
    gradcam: np.ndarray,
    shown: ShownFrames,
    folder: Path,
    *,
    key_frames: Sequence[int],
    scale: Scale = "clip",
    settings: ClipSettings = ClipSettings(),
) -> ClipRecord | None:
    """Write `clip.webm` and `clip-heatmap.webm` of the explained `window` of `video` into `folder`;
    their record section, or None when the window is too long for a clip. `gradcam` holds the raw
    Grad-CAM maps (T, h, w) of the window's frames."""
    span = _span(window, settings.context_seconds)
    if span is None:
        log.warning("no clip: the window lasts more than %s s", MAX_CLIP_SECONDS)
        return None
    positions = {int(index): t for t, index in enumerate(window.frame_indices)}
    height, width = window.frames.shape[1:3]
    size = even_size(width, height, settings.max_width)
    maps = normalise(gradcam, scale)
    plain, heat = WebmWriter(size, window.fps, MAX_CLIP_BYTES), WebmWriter(size, window.fps, MAX_CLIP_BYTES)
    facts = _Facts()
    try:
        with held_video(video, window.source_sha256) as held, open_stream(held.source, span.first, EVERY_FRAME, span.stop) as stream:
            for item, rgb in _masked(_with_faces(stream, window, positions, shown), shown.masking):
                base = rgb if rgb.shape[1::-1] == size else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                inside = span.window_start - EPSILON <= item.frame.time < span.window_end - EPSILON
                keyframe = facts.count > 0 and inside != facts.inside
                facts.add(item.frame, inside)
                plain.add(base, keyframe=keyframe)
                heat.add(_heat(base, maps, window, item.frame.time, size) if inside else base, keyframe=keyframe)
        data = plain.finish(), heat.finish()
    except BaseException:
        plain.close()
        heat.close()
        raise
    return _record(data, facts, window, positions, key_frames, size, shown.masking is not None, folder)


def _span(window: Clip, context_seconds: float) -> _Span | None:
    """The recording's frames the clip covers; None when the window alone lasts too long."""
    fps = window.fps
    start = float(window.timestamps[0])
    end = float(window.timestamps[-1]) + window.sampling.interval(fps)
    window_frames = math.ceil((end - start) * fps - EPSILON)
    if window_frames > MAX_CLIP_SECONDS * fps:
        return None
    context = min(max(0.0, context_seconds), MAX_CONTEXT_SECONDS, (MAX_CLIP_SECONDS * fps - window_frames) / fps / 2)
    before = after = math.floor(context * fps + EPSILON)
    first = max(0, int(window.frame_indices[0]) - before)
    return _Span(first, int(window.frame_indices[0]) + window_frames + after, start, end)


def _with_faces(
    stream: Iterator[Frame], window: Clip, positions: dict[int, int], shown: ShownFrames
) -> Iterator[_Shown]:
    """Each decoded frame with its faces: those its picture's masking found for a frame the model
    saw (checked to be the same pixels), else looked for in it; none when masking is off. Frames
    are looked at `DETECTION_BATCH` at a time (the cascades load once a batch)."""
    masking = shown.masking
    while batch := list(itertools.islice(stream, DETECTION_BATCH)):
        for frame in batch:
            t = positions.get(frame.index)
            if t is not None and not np.array_equal(frame.rgb, window.frames[t]):
                raise ReportError(
                    f"frame {frame.index} of {window.source_name} decodes differently the second time; "
                    "the clip cannot be made from this file (its decoder is not deterministic)"
                )
        if masking is None:
            yield from (_Shown(frame, (), ()) for frame in batch)
            continue
        unseen = [frame.rgb for frame in batch if frame.index not in positions]
        found = iter(find_faces(np.stack(unseen), masking.settings).boxes if unseen else ())
        pictured = shown.masked or masking
        for frame in batch:
            t = positions.get(frame.index)
            yield _Shown(frame, next(found), ()) if t is None else _Shown(frame, masking.boxes[t], pictured.boxes[t])


def _masked(items: Iterator[_Shown], masking: FaceMasking | None) -> Iterator[tuple[_Shown, np.ndarray]]:
    """Each frame with its faces masked, and those of the frame before and after it (`spread_in_time`)."""
    before: _Shown | None = None
    current: _Shown | None = None
    for after in itertools.chain(items, [None]):
        if current is not None:
            if masking is None:
                yield current, current.frame.rgb
            else:
                near = (*(before.found if before else ()), *current.found, *(after.found if after else ()))
                boxes = tuple(dict.fromkeys((*near, *current.pictured)))
                masked = mask_faces(current.frame.rgb[np.newaxis], replace(masking, boxes=(boxes,)))[0]
                yield current, masked if boxes else current.frame.rgb
        before, current = current, after


def _heat(base: np.ndarray, maps: np.ndarray, window: Clip, time: float, size: tuple[int, int]) -> np.ndarray:
    """`base` with the map of the sampled frame nearest in time (the earlier one on a tie) drawn over
    it, and the band that marks the window's frames along its top edge."""
    nearest = int(np.argmin(np.abs(np.asarray(window.timestamps) - time)))
    drawn = overlay(base, resize_map(maps[nearest], size))
    drawn[: max(2, round(size[1] * WINDOW_BAND_SHARE))] = WINDOW_BAND_RGB
    return drawn


class _Facts:
    """Where the clip's frames came from, gathered while they are encoded."""

    def __init__(self) -> None:
        self.first: Frame | None = None
        self.count = 0
        self.window: list[int] = []  # clip positions of the window's frames
        self.clip_position: dict[int, int] = {}  # recording index -> clip position
        self.inside = False  # whether the last frame added is one of the window's

    def add(self, frame: Frame, inside: bool) -> None:
        self.first = self.first or frame
        self.clip_position[frame.index] = self.count
        if inside:
            self.window.append(self.count)
        self.inside = inside
        self.count += 1


def _record(
    data: tuple[bytes, bytes],
    facts: _Facts,
    window: Clip,
    positions: dict[int, int],
    key_frames: Sequence[int],
    size: tuple[int, int],
    faces_masked: bool,
    folder: Path,
) -> ClipRecord:
    """Write both files and describe them."""
    missing = [index for index in positions if index not in facts.clip_position]
    if facts.first is None or not facts.window or missing:
        raise ReportError(
            f"the clip of {window.source_name} lacks frames the model saw ({missing[:3]}); the file no longer decodes as it did"
        )
    for name, content in zip((CLIP_NAME, CLIP_HEATMAP_NAME), data, strict=True):
        atomic_write_bytes(Path(folder) / name, content)
    fps = float(window.fps)
    at = [facts.clip_position[int(window.frame_indices[t])] for t in key_frames]
    return ClipRecord(
        path=CLIP_NAME,
        heatmap_path=CLIP_HEATMAP_NAME,
        sha256=sha256_bytes(data[0]),
        heatmap_sha256=sha256_bytes(data[1]),
        encoder=Note(code="spec.encoder.vp9_webm", params={"quality": QUALITY, "kbps": MAX_BITRATE // 1000}),
        source_file=window.source_name,
        source_first_frame=facts.first.index,
        source_start_seconds=round(facts.first.time, 6),
        duration_seconds=round(facts.count / fps, 6),
        fps=round(fps, 6),
        frame_count=facts.count,
        width=size[0],
        height=size[1],
        window_start_seconds=round(facts.window[0] / fps, 6),
        window_end_seconds=round((facts.window[-1] + 1) / fps, 6),
        key_frames=[ClipKeyFrame(position=t, seconds=round(p / fps, 6)) for t, p in zip(key_frames, at, strict=True)],
        faces_masked=faces_masked,
    )
