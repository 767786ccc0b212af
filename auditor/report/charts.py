"""Chart geometry for the report, computed from the record; templates only place and colour it. Row
labels are the methods' labels in the active language (`record_words.method_label`)."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.evidence import EvidenceRecord, FrameImportanceRecord
from auditor.report.record_words import method_label

LEFT, PLOT_WIDTH, ROW_HEIGHT, ROW_GAP = 112, 520, 48, 14  # SVG units of the frame-importance chart


@dataclass(frozen=True)
class Bar:
    """One frame's bar: its box and whether the value is above the line."""

    x: float
    y: float
    width: float
    height: float
    positive: bool


@dataclass(frozen=True)
class ChartRow:
    """One method's row of bars, each row scaled to its own largest value."""

    label: str
    label_y: float
    zero_y: float  # the line bars grow from: the middle for signed values, the bottom otherwise
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    """A frame number under the chart."""

    x: float
    text: str
    key_frame: bool


@dataclass(frozen=True)
class FrameImportanceChart:
    """One row per frame-importance method, aligned frame by frame, with frame numbers below."""

    left: int
    width: int
    height: int
    axis_y: int
    rows: tuple[ChartRow, ...]
    ticks: tuple[Tick, ...]


def frame_importance_chart(record: EvidenceRecord) -> FrameImportanceChart:
    """The geometry of the report's frame-importance chart."""
    ex = record.explanations
    count = len(ex.frames)
    bar = PLOT_WIDTH / count
    rows = tuple(_row(index, method, bar) for index, method in enumerate(ex.frame_importance))
    axis = len(rows) * (ROW_HEIGHT + ROW_GAP) + 2
    thinning = count // 16 + 1  # label every frame up to 24, else about 16 of them, key frames always
    ticks = tuple(
        Tick(LEFT + t * bar + bar / 2, f"{frame.frame_index}{'*' if t in ex.key_frames else ''}", t in ex.key_frames)
        for t, frame in enumerate(ex.frames)
        if count <= 24 or t % thinning == 0 or t in ex.key_frames
    )
    return FrameImportanceChart(LEFT, PLOT_WIDTH, len(rows) * (ROW_HEIGHT + ROW_GAP) + 28, axis, rows, ticks)


def _row(index: int, method: FrameImportanceRecord, bar: float) -> ChartRow:
    top = max((abs(v) for v in method.values), default=0.0) or 1.0
    half = ROW_HEIGHT / 2 if method.signed else ROW_HEIGHT
    y0 = index * (ROW_HEIGHT + ROW_GAP) + 4
    zero = y0 + half
    bars = []
    for t, value in enumerate(method.values):
        height = value * half / top
        y = zero - height if height > 0 else zero
        bars.append(Bar(LEFT + t * bar + bar * 0.1, y, bar * 0.8, abs(height), value > 0))
    return ChartRow(method_label(method), y0 + ROW_HEIGHT / 2 + 3, zero, tuple(bars))
