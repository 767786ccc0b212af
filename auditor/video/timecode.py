"""Positions in a video as people write them: `70.5`, `1:10.5`, `01:10:05`."""

from __future__ import annotations

import math
import re

_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)")
TIME_FORMS = "seconds (70.5), minutes:seconds (1:10.5) or hours:minutes:seconds (01:10:05)"


MAX_TIME_CHARS = 32  # longer is no time in a recording (and 400 digits are an infinite float)


def parse_time(text: str) -> float:
    """Seconds from `70.5`, `1:10.5` or `01:10:05`; ValueError saying the accepted forms."""
    match = _TIME.fullmatch(text.strip()) if len(text) <= MAX_TIME_CHARS else None
    if match is None:
        shown = text if len(text) <= MAX_TIME_CHARS else text[:MAX_TIME_CHARS] + "…"
        raise ValueError(f"{shown!r} is not a time: write {TIME_FORMS}")
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


def clock_time(seconds: float) -> str:
    """`0:21.7`, `12:05.0`, `1:02:03.2`: a position to open a recording at, as players show it,
    cut (not rounded) to tenths so that the frame shown then is the one at or just before it."""
    tenths = math.floor(seconds * 10 + 1e-6)
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    text = f"{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"
