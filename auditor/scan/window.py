"""The window a detector explains: `frames` sampled frames of a video from a start frame or a time.

A window is taken as the detector takes its clips (`Sampling`): with every k-th frame, 16 frames
span 15·k + 1 frames of the video. `check_window` says whether it fits without decoding the video
(one seek to the window's last frame); `select_window` decodes it as a stream, so frames before
the window are grabbed and dropped, never kept. Each refusal is one line with the video's true
length and the starts that work.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from auditor.errors import VideoError
from auditor.video import (
    EVERY_FRAME,
    Clip,
    Sampling,
    VideoInfo,
    VideoLength,
    decode_end,
    decodes_through,
    format_time,
    frame_at,
    held_video,
    open_stream,
    probe_video,
    stated_end_decodes,
    video_length,
)


def check_window(video: Path, frames: int, start: int = 0, at: float | None = None, sampling: Sampling = EVERY_FRAME) -> int:
    """The first frame of the window of `frames` sampled frames from frame `start`, or from the frame
    shown at `at` seconds (estimated at the video's nominal frame rate); VideoError with the video's
    true length (`video_length`) and the starts that work when it does not fit, or, for a video
    shorter than the window, saying so. It decodes one frame (a seek to the window's last), unless
    the container's frame count is wrong or missing."""
    return _checked_start(probe_video(video), frames, start, at, sampling)


def select_window(
    video: Path, frames: int, start: int = 0, at: float | None = None, sampling: Sampling = EVERY_FRAME,
    sha256: str | None = None,
) -> Clip:
    """The window `check_window` accepts, decoded from a stream: only its sampled frames are kept
    (with `at`, from the frame shown then by presentation time). When the file's stated last frame
    does not decode, the rest of the file is decoded too (no frame kept), so the clip's
    `decode_end` says where decoding stops. The clip's SHA-256 is that of the file its frames were
    decoded from (`held_video`); `sha256`, the hash a batch read earlier, is refused when it differs."""
    with held_video(video, sha256) as held:
        info = replace(probe_video(held.source), shown_as=held.path)
        first = _checked_start(info, frames, start, at, sampling)
        with open_stream(info.path, first if at is None else 0, sampling, at=at) as stream:
            taken = list(itertools.islice(stream, frames))
            end = stream.end
        if len(taken) < frames:  # the seek found the window's last frame, decoding in order did not
            decoded = end.frames if end is not None else first + sampling.span(len(taken), info.fps)
            length = VideoLength(decoded, stated=info.frame_count if info.frame_count != decoded else None)
            raise VideoError(_window_problem(info, length, frames, first, at, sampling))
        if end is None and not stated_end_decodes(info):
            end = decode_end(info.path)
    return Clip.of(taken, info, sampling, end, held.sha256)


def _checked_start(info: VideoInfo, frames: int, start: int, at: float | None, sampling: Sampling = EVERY_FRAME) -> int:
    first = start if at is None else frame_at(info, at)
    if first < 0 or not decodes_through(info, first + sampling.span(frames, info.fps)):
        raise VideoError(_window_problem(info, video_length(info), frames, first, at, sampling))
    return first


def _window_problem(
    info: VideoInfo, length: VideoLength, frames: int, first: int, at: float | None, sampling: Sampling = EVERY_FRAME
) -> str:
    """Why the window does not fit, with the video's length and the starts that work."""
    span = sampling.span(frames, info.fps)
    model = f"a {frames}-frame model"
    if sampling != EVERY_FRAME:
        about = "about " if sampling.fps is not None else ""
        model += f" taking {sampling.describe()} ({about}{span} frames of the video)"
    has = f"{info.name} has {length} at {info.fps:g} fps ({format_time(length.frames / info.fps)})"
    if length.frames == 1:
        has = f"{info.name} holds a single image, not a video"
    if length.frames < span:
        return f"{has}: too short for {model}; give a video of at least {span} frames"
    asked = f"--at {format_time(at)} (frame {first})" if at is not None else f"--start {first}"
    if first < 0:
        where = "is before its first frame"
    elif first >= length.frames:
        where = "is past its end"
    else:
        where = f"leaves {length.frames - first} frames"
    last = length.frames - span
    choose = (
        f"choose a start frame between 0 and {last} (a time between 0:00 and {format_time(last / info.fps)})"
        if last else "only a start at frame 0 (0:00) fits"
    )
    return f"{has}; {asked} {where} for {model}: {choose}"
