"""Streaming video (issue 13, item 1): presentation times, exact indices, sampling, late starts,
truncated files, and memory that does not grow with the video's length."""

from __future__ import annotations

import gc
import json
import shutil
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fixtures.report_records import (
    CREATED,
    IMAGES,
    FakeDrawn,
    image_artifacts,
    make_clip,
    make_explanation,
    model_identity,
)

from auditor.detector.sidecar import Sidecar, read_sidecar
from auditor.errors import ModelError, VideoError
from auditor.evidence import EvidenceRecord, Note, RecordContext, build_record, load_record, record_json, save_arrays
from auditor.explain import ClipExplanation
from auditor.explain.base import DecisionRule
from auditor.report.html import render_html
from auditor.scan.window import check_window, select_window
from auditor.video import Clip, DecodeEnd, Sampling, open_stream, read_video, write_video

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # opencv-doc: 768×576, 10 fps, 795 frames
PTS_MS = [0, 40, 80, 200, 240, 500, 540, 580, 1000, 1040]  # uneven: gaps as a camera dropping frames makes


def _write_vfr(path: Path, pts_ms: list[int]) -> Path:
    """An MPEG-4 video whose frame i is grey level 20·i, presented at `pts_ms[i]` milliseconds."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for i, pts in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def vfr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vfr")
    return {ext: _write_vfr(folder / f"vfr.{ext}", PTS_MS) for ext in ("mkv", "mp4")}


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 % of vtest.avi's bytes: its header still states 795 frames."""
    cut = tmp_path_factory.mktemp("cut") / "vtest-cut.avi"
    data = VTEST.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    return cut


def _grey(rgb: np.ndarray) -> int:
    return round(float(rgb.mean()) / 20)  # the frame number the writer painted


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_times_are_the_containers_presentation_times(vfr: dict[str, Path], ext: str) -> None:
    """A variable-frame-rate file: each frame's time is its PTS, and indices count the frames."""
    with open_stream(vfr[ext]) as stream:
        frames = list(stream)
    assert [f.time for f in frames] == pytest.approx([p / 1000 for p in PTS_MS], abs=1e-6)
    assert [f.index for f in frames] == list(range(len(PTS_MS))) == [_grey(f.rgb) for f in frames]
    assert stream.end is not None and stream.end.complete and stream.end.frames == len(PTS_MS)
    clip = read_video(vfr[ext], start=3)
    assert list(clip.frame_indices) == list(range(3, 10)) and clip.timestamps.tolist() == pytest.approx([0.2, 0.24, 0.5, 0.54, 0.58, 1.0, 1.04])


def test_the_frame_shown_at_a_time_is_found_by_presentation_time(vfr: dict[str, Path]) -> None:
    """`at` picks the last frame presented at or before it, also inside a gap (0.3 s falls in the gap
    after the frame at 0.24 s: frame 4, not frame 0.3 × 25 = 7 as the nominal rate would say)."""
    for at, first in ((0.0, 0), (0.05, 1), (0.15, 2), (0.3, 4), (0.7, 7), (1.05, 9)):
        with open_stream(vfr["mkv"], at=at) as stream:
            frames = list(stream)
        assert frames[0].index == first == _grey(frames[0].rgb), at
        assert [f.index for f in frames] == list(range(first, 10))
    with open_stream(vfr["mkv"], at=1.2) as stream:
        assert list(stream) == []


def test_sampling_every_kth_frame_and_by_rate() -> None:
    with open_stream(VTEST, start=100, sampling=Sampling(every=3), stop=120) as stream:
        assert [f.index for f in stream] == [100, 103, 106, 109, 112, 115, 118]
        assert stream.end is None  # stopped before the file's end: nothing known of the rest
    with open_stream(VTEST, sampling=Sampling(fps=3), stop=31) as stream:  # 10 fps: slots every 1/3 s
        assert [f.index for f in stream] == [0, 4, 7, 10, 14, 17, 20, 24, 27, 30]
    assert [Sampling().describe(), Sampling(every=3).describe(), Sampling(every=22).describe()] == [
        "every frame", "every 3rd frame", "every 22nd frame"]
    assert [Sampling(fps=5).describe(), Sampling(fps=1).describe(), Sampling(fps=2.5).describe()] == [
        "5 frames per second", "1 frame per second", "2.5 frames per second"]
    with pytest.raises(ValueError, match="not both"):
        Sampling(every=2, fps=5)


def test_sampling_by_rate_follows_presentation_times(vfr: dict[str, Path]) -> None:
    """5 frames per second on a variable-rate file: one frame per 0.2 s slot, none after a gap twice."""
    with open_stream(vfr["mkv"], sampling=Sampling(fps=5)) as stream:
        assert [(f.index, f.time) for f in stream] == [(0, 0.0), (3, 0.2), (5, 0.5), (8, 1.0)]
    with open_stream(vfr["mkv"], start=3, sampling=Sampling(every=3)) as stream:  # phase begins at the start
        assert [f.index for f in stream] == [3, 6, 9]


def test_a_late_start_holds_no_earlier_frame() -> None:
    """Frame 700 of vtest.avi: the 700 frames before it (930 MB as RGB) are grabbed, never kept."""
    tracemalloc.start()
    with open_stream(VTEST, start=700, stop=704) as stream:
        frames = [(f.index, f.time, f.rgb) for f in stream]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(i, t) for i, t, _ in frames] == [(700, 70.0), (701, 70.1), (702, 70.2), (703, 70.3)]
    assert peak < 12 * 768 * 576 * 3  # the four kept frames and a few in flight, not 700
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 700)
    np.testing.assert_array_equal(frames[0][2], cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB))


def test_a_window_of_sampled_frames() -> None:
    window = select_window(VTEST, 16, start=700, sampling=Sampling(every=3))
    assert list(window.frame_indices) == list(range(700, 746, 3)) and window.sampling == Sampling(every=3)
    assert window.timestamps[-1] == pytest.approx(74.5) and window.decode_end is None
    assert check_window(VTEST, 16, start=749, sampling=Sampling(every=3)) == 749
    with pytest.raises(VideoError) as refused:
        check_window(VTEST, 16, start=760, sampling=Sampling(every=3))
    assert str(refused.value) == (
        "vtest.avi has 795 frames at 10 fps (1:19.5); --start 760 leaves 35 frames for a 16-frame model taking "
        "every 3rd frame (46 frames of the video): choose a start frame between 0 and 749 (a time between 0:00 and 1:14.9)"
    )


def test_a_truncated_file_gives_what_decodes_and_says_where_it_stopped(truncated: Path) -> None:
    with open_stream(truncated, sampling=Sampling(every=5)) as stream:
        indices = [f.index for f in stream]
    end = stream.end
    assert end == DecodeEnd(frames=486, time=pytest.approx(48.6), stated=795, complete=False)
    assert indices == list(range(0, 486, 5))
    assert end.describe() == "decoding stopped at frame 486 (0:48.6) of 795 the file states: the rest does not decode"
    window = select_window(truncated, 16, start=400)  # fits in the part that decodes
    assert list(window.frame_indices) == list(range(400, 416)) and window.decode_end == end
    with pytest.raises(VideoError, match=r"vtest-cut.avi has 486 decodable frames \(its header claims 795\).*between 0 and 470"):
        select_window(truncated, 16, start=480)


def test_the_record_and_report_state_sampling_and_where_decoding_stopped(tmp_path: Path) -> None:
    explanation = make_explanation()
    count = explanation.frames.shape[0]
    stopped = DecodeEnd(frames=486, time=48.6, stated=795, complete=False)
    clip = replace(
        make_clip(explanation), frame_indices=np.arange(120, 120 + 3 * count, 3),
        timestamps=np.arange(120, 120 + 3 * count, 3) / 10, sampling=Sampling(every=3), decode_end=stopped,
    )
    record = _record(tmp_path, explanation, clip)
    assert record.schema_version == "2.7" and record.input.sampling == Note(code="sampling.every_nth", params={"every": 3})
    assert record.input.decoding_stopped == Note(code="decoding.stopped", params={"frames": 486, "stated": 795, "seconds": 48.6})
    assert record.input.end_seconds == pytest.approx(clip.timestamps[-1] + 0.3)  # the last sampled frame's interval
    html = render_html(record, tmp_path)
    assert "<td>one frame in every 3</td>" in html and "the model saw one frame in every 3 of them" in html
    assert "Decoding stopped at frame 486 (0:48.6) of the 795 the file states: the rest does not decode." in html
    whole = _record(tmp_path / "whole", explanation, replace(clip, decode_end=replace(stopped, frames=795, complete=True)))
    assert whole.input.decoding_stopped is None and "incomplete" not in render_html(whole, tmp_path / "whole")


def test_records_of_schema_2_1_still_load(tmp_path: Path) -> None:
    data = json.loads(record_json(_record(tmp_path, make_explanation(), None)))
    data["schema_version"] = "2.1"
    del data["input"]["sampling"], data["input"]["decoding_stopped"]
    record = load_record(json.dumps(data).encode())
    assert record.schema_version == "2.1" and record.input.sampling is None
    assert "Frames the model saw" not in render_html(record, tmp_path)


def _record(folder: Path, explanation: ClipExplanation, clip: Clip | None) -> EvidenceRecord:
    """The fixture record of `explanation` on `clip` (default: the fixture's clip)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(IMAGES, folder / "images", dirs_exist_ok=True)
    context = RecordContext(generator_version="0.1.0", report_id="AUD-20250314-fixture0001", created_at=CREATED)
    return build_record(
        explanation, clip or make_clip(explanation), model=model_identity(), rule=DecisionRule(0.5, "normal"),
        drawn=FakeDrawn(tuple(image_artifacts(folder))), arrays=save_arrays(folder, explanation), context=context,
    )


def test_the_sidecar_states_how_clips_are_sampled(tmp_path: Path) -> None:
    assert Sidecar().sampling == Sampling() and Sidecar(sample_every=4).sampling == Sampling(every=4)
    assert Sidecar(sample_fps=6.0).sampling.describe() == "6 frames per second"
    (tmp_path / "m.json").write_text(json.dumps({"sample_every": 2, "sample_fps": 5}))
    with pytest.raises(ModelError, match="sample_every and sample_fps are both set; give one of them"):
        read_sidecar(tmp_path / "m.keras")
    (tmp_path / "m.json").write_text(json.dumps({"sample_fps": 0}))
    with pytest.raises(ModelError, match="sample_fps"):
        read_sidecar(tmp_path / "m.keras")


def _peak(work: Callable[[], object]) -> int:
    """Python's peak allocation (NumPy arrays included) while `work` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _stream_all(path: Path) -> int:
    with open_stream(path) as stream:
        return sum(int(f.rgb[0, 0, 0] >= 0) for f in stream)


def test_memory_does_not_grow_with_the_length_of_the_video(tmp_path: Path) -> None:
    """A 200-frame video and one 10× longer stream in the same memory; reading the longer one into a
    clip (as decoding did before streaming) takes about 10× more, so the measure can tell."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (1, 96, 128, 3), np.uint8)
    short = write_video(tmp_path / "short.avi", np.repeat(frame, 200, axis=0), fps=25.0)
    long = write_video(tmp_path / "long.avi", np.repeat(frame, 2000, axis=0), fps=25.0)
    assert _stream_all(short) == 200 and _stream_all(long) == 2000
    short_peak, long_peak = _peak(lambda: _stream_all(short)), _peak(lambda: _stream_all(long))
    held_peak = _peak(lambda: read_video(long))
    one_frame = 96 * 128 * 3
    assert long_peak < 1.2 * short_peak + one_frame and long_peak < 20 * one_frame
    assert held_peak > 1500 * one_frame
