"""The clip that travels with a report (issue 24 item 6): clip.webm and clip-heatmap.webm play the
explained window with context at the recording's rate, show the recording's frames with faces
masked, differ only where the heatmap is drawn, come out byte-identical twice, and are bound to the
report: listed in the record and the manifest, attached to the PDF, checked by `verify`."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fixtures.faces import clip_with_face
from fixtures.identities import Identities
from pypdf import PdfReader

from auditor.demo import DEMO_FPS, demo_model_path, demo_profile
from auditor.detector import Detector, load_detector
from auditor.errors import ReportError
from auditor.evidence import ClipRecord, load_record, record_json
from auditor.names import CLIP_HEATMAP_NAME, CLIP_NAME
from auditor.pipeline import ReportOptions, report_video
from auditor.report.clip import (
    MAX_CLIP_BYTES,
    MAX_CLIP_SECONDS,
    MAX_CONTEXT_SECONDS,
    WINDOW_BAND_RGB,
    ClipSettings,
    write_clips,
)
from auditor.report.rerender import read_source, rerender
from auditor.report.shown_frames import ShownFrames
from auditor.scan.window import select_window
from auditor.signing.seal import SealSettings
from auditor.synthetic import make_clip
from auditor.verify import verify_paths
from auditor.verify.limits import pdf_structure_problem
from auditor.video import Sampling, clock_time, write_video
from auditor.video.webm import MAX_BITRATE, WebmWriter

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
BEFORE, WINDOW, AFTER = 40, 16, 40  # frames of the generated recording around the window
DEFAULT_SETTINGS = ClipSettings()


def _recording(folder: Path) -> Path:
    """40 normal frames, the 16 frames of a fall, 40 normal frames (MJPG AVI at the demo rate)."""
    calm = np.concatenate([make_clip("normal", seed).frames for seed in range(6)])
    frames = np.concatenate([calm[:BEFORE], make_clip("fall", 7).frames, calm[BEFORE : BEFORE + AFTER]])
    return write_video(folder / "fall-in-context.avi", frames, DEMO_FPS)


def _decoded(path: Path) -> tuple[np.ndarray, tuple[str, object], float]:
    """Every frame of a WebM file (RGB), its codec and frame rate, and its duration in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
        return frames, (stream.codec_context.name, stream.average_rate), float(container.duration or 0) / av.time_base


def _recorded(video: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while (grabbed := capture.read())[0]:
        frames.append(cv2.cvtColor(grabbed[1], cv2.COLOR_BGR2RGB))
    capture.release()
    return np.stack(frames)


def _cuts(frames: np.ndarray) -> list[int]:
    """The positions where a frame differs from the one before by more than 20 grey levels."""
    change = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2, 3))
    return [int(t) + 1 for t in np.flatnonzero(change > 20)]


def _strong_maps(count: int) -> np.ndarray:
    """Grad-CAM maps strong all over the frame, so that the overlay changes every pixel."""
    return np.ones((count, 4, 4), np.float32)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _recording(tmp_path_factory.mktemp("recording"))


@pytest.fixture(scope="module")
def sealed(recording: Path, detector: Detector, identities: Identities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo report of the fall, with 3 s of context each side, sealed."""
    out = tmp_path_factory.mktemp("sealed") / "report"
    report_video(recording, detector, out, ReportOptions(profile=demo_profile(), start=BEFORE), SealSettings(identities.seal))
    return out


def _clip_of(video: Path, folder: Path, start: int, *, mask: bool = False, maps: np.ndarray | None = None,
             settings: ClipSettings = DEFAULT_SETTINGS) -> tuple[ClipRecord, np.ndarray, np.ndarray]:
    """write_clips on the 16-frame window at `start`: its record, and the two clips decoded."""
    folder.mkdir(parents=True, exist_ok=True)
    window = select_window(video, WINDOW, start)
    shown = ShownFrames.of(window.frames, mask)
    maps = _strong_maps(WINDOW) if maps is None else maps
    clip = write_clips(video, window, maps, shown, folder, key_frames=[0, 5, 15], settings=settings)
    assert clip is not None
    return clip, _decoded(folder / CLIP_NAME)[0], _decoded(folder / CLIP_HEATMAP_NAME)[0]


def test_the_clip_plays_every_frame_of_window_and_context_at_the_recording_rate(sealed: Path) -> None:
    record = load_record(sealed / "evidence.json")
    clip = record.clip
    assert clip is not None and record.schema_version == "2.7"
    context = round(3.0 * DEMO_FPS)
    assert (clip.frame_count, clip.source_first_frame) == (context + WINDOW + context, BEFORE - context)
    assert clip.source_start_seconds == pytest.approx((BEFORE - context) / DEMO_FPS)
    assert (clip.window_start_seconds, clip.window_end_seconds) == pytest.approx((3.0, 3.0 + WINDOW / DEMO_FPS))
    for name, digest in ((clip.path, clip.sha256), (clip.heatmap_path, clip.heatmap_sha256)):
        frames, (codec, rate), duration = _decoded(sealed / name)
        assert codec == "vp9" and rate == DEMO_FPS
        assert len(frames) == clip.frame_count and frames.shape[1:3] == (clip.height, clip.width) == (64, 64)
        assert duration == pytest.approx(clip.duration_seconds, abs=0.05) and clip.duration_seconds == pytest.approx(7.6)
        assert hashlib.sha256((sealed / name).read_bytes()).hexdigest() == digest
    assert {a.path: a.media_type for a in record.artifacts if a.role.startswith("clip")} == {
        CLIP_NAME: "video/webm", CLIP_HEATMAP_NAME: "video/webm"}


def test_key_frames_are_at_the_times_the_record_gives_in_the_recording(sealed: Path) -> None:
    record = load_record(sealed / "evidence.json")
    assert record.clip is not None
    assert [k.position for k in record.clip.key_frames] == record.explanations.key_frames
    for key in record.clip.key_frames:
        assert record.clip.source_start_seconds + key.seconds == pytest.approx(record.input.timestamps[key.position])


def test_the_context_frames_are_the_recorded_ones(recording: Path, tmp_path: Path) -> None:
    clip, plain, _ = _clip_of(recording, tmp_path, BEFORE)
    recorded = _recorded(recording)[clip.source_first_frame : clip.source_first_frame + clip.frame_count]
    assert plain.shape == recorded.shape
    error = np.abs(plain.astype(int) - recorded.astype(int)).mean(axis=(1, 2, 3))
    assert error.max() < 6.0  # VP9 at constant quality 32 on small noisy frames: about 3.5 grey levels
    cuts = [_cuts(frames) for frames in (plain, recorded)]  # where one generated scene gives way to the next
    assert cuts[0] == cuts[1] and len(cuts[0]) >= 4  # a clip one frame off would show them one frame off


def test_the_context_is_clamped_to_the_recording_and_bounded(recording: Path, tmp_path: Path) -> None:
    early, _, _ = _clip_of(recording, tmp_path / "early", 10)
    assert (early.source_first_frame, early.window_start_seconds) == (0, pytest.approx(1.0))
    assert early.frame_count == 10 + WINDOW + 30
    late, _, _ = _clip_of(recording, tmp_path / "late", BEFORE + AFTER)
    assert late.frame_count == 30 + WINDOW  # the recording ends with the window
    assert late.duration_seconds - late.window_end_seconds == pytest.approx(0.0, abs=1e-6)
    wide, _, _ = _clip_of(recording, tmp_path / "wide", BEFORE, settings=ClipSettings(context_seconds=1000, max_width=32))
    assert wide.frame_count == BEFORE + WINDOW + AFTER  # MAX_CONTEXT_SECONDS is 10 s: all 40 frames a side
    assert MAX_CONTEXT_SECONDS * DEMO_FPS >= AFTER and (wide.width, wide.height) == (32, 32)


def test_a_window_longer_than_a_clip_may_last_gets_no_clip(recording: Path, tmp_path: Path) -> None:
    window = select_window(recording, WINDOW, BEFORE)
    spread = replace(window, timestamps=window.timestamps[0] + np.arange(WINDOW) * (MAX_CLIP_SECONDS + 1) / (WINDOW - 1))
    shown = ShownFrames.of(window.frames, False)
    assert write_clips(recording, spread, _strong_maps(WINDOW), shown, tmp_path, key_frames=[0]) is None
    assert not list(tmp_path.iterdir())  # nothing written
    assert write_clips(recording, window, _strong_maps(WINDOW), shown, tmp_path, key_frames=[0]) is not None


def test_the_heatmap_clip_differs_from_the_clip_on_the_window_only(recording: Path, tmp_path: Path) -> None:
    clip, plain, heat = _clip_of(recording, tmp_path, BEFORE)
    difference = np.abs(plain.astype(int) - heat.astype(int)).mean(axis=(1, 2, 3))
    first = round(clip.window_start_seconds * DEMO_FPS)
    last = round(clip.window_end_seconds * DEMO_FPS)
    assert (first, last) == (30, 30 + WINDOW)
    assert difference[:first].max() == 0  # same frames, same encoder state: the same bytes
    assert difference[first:last].min() > 20  # the overlay of a map at full strength
    assert difference[last] == 0  # a keyframe starts the context after the window
    # the encoder's rate control carries a little of the window's frames: differences of the size of the
    # encoding error itself (~3.5 grey levels on these frames), far below the overlay's
    assert difference[last:].max() < 4


def test_the_heatmap_overlay_follows_the_nearest_sampled_frame(recording: Path, tmp_path: Path) -> None:
    maps = np.zeros((WINDOW, 4, 4), np.float32)
    maps[8] = 1.0  # only the ninth sampled frame has a map
    clip, plain, heat = _clip_of(recording, tmp_path, BEFORE, maps=maps)
    below_band = np.abs(plain[:, 4:].astype(int) - heat[:, 4:].astype(int)).mean(axis=(1, 2, 3))
    ninth = round(clip.window_start_seconds * DEMO_FPS) + 8
    assert below_band[ninth] > 20 and below_band[ninth - 1] < 3 and below_band[ninth + 1] < 3
    band = np.abs(heat[:, :2].astype(int) - np.array(WINDOW_BAND_RGB)).mean(axis=(1, 2, 3)) < 20
    first, last = (round(s * DEMO_FPS) for s in (clip.window_start_seconds, clip.window_end_seconds))
    assert [int(t) for t in np.flatnonzero(band)] == list(range(first, last))  # the window's frames, marked


def test_a_window_of_every_third_frame_plays_every_frame_with_the_nearest_map(recording: Path, tmp_path: Path) -> None:
    window = select_window(recording, WINDOW, 20, sampling=Sampling(every=3))  # frames 20, 23, …, 65
    maps = np.zeros((WINDOW, 4, 4), np.float32)
    maps[1] = 1.0  # the map of frame 23: nearest to frames 22, 23 and 24
    clip = write_clips(recording, window, maps, ShownFrames.of(window.frames, False), tmp_path, key_frames=[1])
    assert clip is not None and clip.source_first_frame == 0  # 3 s before frame 20, clamped at the start
    assert (clip.window_start_seconds, clip.window_end_seconds) == pytest.approx((2.0, 2.0 + 48 / DEMO_FPS))
    assert clip.frame_count == 20 + 48 + 28  # the window runs to frame 67 (one interval after 65); 96 frames in all
    plain, heat = (_decoded(tmp_path / name)[0] for name in (CLIP_NAME, CLIP_HEATMAP_NAME))
    difference = np.abs(plain[:, 4:].astype(int) - heat[:, 4:].astype(int)).mean(axis=(1, 2, 3))
    assert [int(t) for t in np.flatnonzero(difference > 20)] == [22, 23, 24]
    assert clip.key_frames[0].seconds == pytest.approx(2.3)


def test_the_bit_rate_is_capped_even_for_noise() -> None:
    """Sensor noise is the worst case of constant quality (~17 Mbit/s at 768×576 uncapped): the cap holds it
    near MAX_BITRATE, and a clip beyond the writer's byte bound is refused."""
    noise = np.random.default_rng(0).integers(0, 256, (40, 576, 768, 3), dtype=np.uint8)
    writer = WebmWriter((768, 576), DEMO_FPS, MAX_CLIP_BYTES)
    for frame in noise:
        writer.add(frame)
    seconds = len(noise) / DEMO_FPS
    assert len(writer.finish()) * 8 / seconds < 3 * MAX_BITRATE
    small = WebmWriter((768, 576), DEMO_FPS, 100_000)
    with pytest.raises(ReportError, match="grew beyond 100000 bytes"):
        for frame in noise:
            small.add(frame)
        small.finish()


def test_the_same_input_gives_the_same_clip_bytes(recording: Path, tmp_path: Path) -> None:
    first, _, _ = _clip_of(recording, tmp_path / "one", BEFORE)
    second, _, _ = _clip_of(recording, tmp_path / "two", BEFORE)
    assert first == second
    for name in (CLIP_NAME, CLIP_HEATMAP_NAME):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_faces_are_masked_in_the_context_frames_too(tmp_path: Path) -> None:
    face = clip_with_face(frames=40)
    video = write_video(tmp_path / "face.avi", face.frames, DEMO_FPS)
    masked, shown, _ = _clip_of(video, tmp_path / "masked", 12, mask=True, maps=np.zeros((WINDOW, 4, 4), np.float32))
    plain, unmasked, _ = _clip_of(video, tmp_path / "plain", 12, mask=False, maps=np.zeros((WINDOW, 4, 4), np.float32))
    assert masked.faces_masked and not plain.faces_masked and masked.frame_count == plain.frame_count == 40
    window = range(12, 12 + WINDOW)
    context = [t for t in range(40) if t not in window]
    assert context  # frames the model never saw
    for t in range(40):
        x0, y0, x1, y1 = face.boxes[t]
        inside = np.abs(shown[t, y0:y1, x0:x1].astype(int) - unmasked[t, y0:y1, x0:x1].astype(int)).mean()
        assert inside > 10, f"frame {t} ({'window' if t in window else 'context'}) shows the face unmasked"
        corner = np.abs(shown[t, :40, :40].astype(int) - unmasked[t, :40, :40].astype(int)).mean()
        assert corner < 3  # far from the face the frames are the same (up to the encoder)


def test_the_pdf_carries_the_clip_and_the_report_says_where_to_open_the_recording(sealed: Path) -> None:
    record = load_record(sealed / "evidence.json")
    assert record.clip is not None
    reader = PdfReader(sealed / "report.pdf")
    assert reader.attachments[CLIP_NAME] == [(sealed / CLIP_NAME).read_bytes()]
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    specs = {str(names[i]): names[i + 1].get_object() for i in range(0, len(names), 2)}
    assert specs[CLIP_NAME]["/AFRelationship"] == "/Supplement"
    assert specs[CLIP_NAME]["/EF"]["/F"].get_object()["/Subtype"] == "/video/webm"  # the PDF name /video#2fwebm, decoded
    assert clock_time(record.input.start_seconds) == "0:04.0"
    opening = f"Open {record.input.file_name} at 0:04.0"
    text = "".join(page.extract_text() for page in reader.pages[:4])
    assert opening in " ".join(text.split())
    html = (sealed / "report.html").read_text(encoding="utf-8")
    assert opening in html and f'src="{CLIP_NAME}"' in html and f'src="{CLIP_HEATMAP_NAME}"' in html
    assert "media-src 'self' file:" in html


def test_verify_binds_the_clips_to_the_report(sealed: Path, trust: Path, tmp_path: Path) -> None:
    assert all(v.status == "valid" for v in verify_paths([sealed], trust))
    manifest = (sealed / "manifest.json").read_text(encoding="utf-8")
    assert f'"path": "{CLIP_NAME}"' in manifest and f'"path": "{CLIP_HEATMAP_NAME}"' in manifest
    for name in (CLIP_NAME, CLIP_HEATMAP_NAME):
        altered = shutil.copytree(sealed, tmp_path / f"altered-{name}")
        data = bytearray((altered / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (altered / name).write_bytes(bytes(data))
        reasons = [r for v in verify_paths([altered], trust) if v.status == "invalid" for r in v.reasons]
        assert any(f"{name}: altered" in r for r in reasons), reasons
        missing = shutil.copytree(sealed, tmp_path / f"missing-{name}")
        (missing / name).unlink()
        reasons = [r for v in verify_paths([missing], trust) if v.status == "invalid" for r in v.reasons]
        assert any(f"{name}: missing" in r for r in reasons), reasons


def test_an_attached_clip_of_hundreds_of_kb_is_no_cross_reference_count() -> None:
    """The PDF's pre-parse scan counts every /Size as cross-reference entries but an embedded file's
    (its /Params: the clip of vtest is 430 kB, more than the 200 000 entries allowed)."""
    attached = b"9 0 obj\n<</Type /EmbeddedFile/Params <</CheckSum <2e25af>/Size 430794/ModDate (D:2026)>>>>\n"
    assert pdf_structure_problem(attached + b"trailer <</Size 30>>") is None
    for trailer in (b"trailer <</Size 430794>>", b"trailer <</Params <</Size 5>> /Size 430794>>"):
        assert "430794 cross-reference entries" in (pdf_structure_problem(attached + trailer) or "")


def test_a_record_whose_clip_is_not_among_its_artifacts_is_refused(sealed: Path) -> None:
    record = load_record(sealed / "evidence.json")
    assert load_record(record_json(record).encode()) == record
    data = record.model_dump(mode="json")
    data["artifacts"] = [a for a in data["artifacts"] if a["role"] != "clip-heatmap"]
    with pytest.raises(ReportError, match="clip: its two files must be listed"):
        load_record(json.dumps(data).encode())
    data = record.model_dump(mode="json")
    data["clip"]["key_frames"] = data["clip"]["key_frames"][1:]
    with pytest.raises(ReportError, match="clip.key_frames must name the explanation's key frames"):
        load_record(json.dumps(data).encode())


def test_render_again_keeps_the_clip(sealed: Path, trust: Path, tmp_path: Path) -> None:
    result = rerender(read_source(sealed, trust), tmp_path / "again", identity=None)
    assert result.record.clip == load_record(sealed / "evidence.json").clip
    for name in (CLIP_NAME, CLIP_HEATMAP_NAME):
        assert (tmp_path / "again" / name).read_bytes() == (sealed / name).read_bytes()
    assert PdfReader(tmp_path / "again" / "report.pdf").attachments[CLIP_NAME] == [(sealed / CLIP_NAME).read_bytes()]


def test_a_clip_of_real_footage_is_small_and_shows_the_recording(tmp_path: Path) -> None:
    """vtest.avi (768×576, 10 fps): 1 s of context a side, faces not looked for (fast)."""
    window = select_window(VTEST, WINDOW, 30)
    clip = write_clips(VTEST, window, _strong_maps(WINDOW), ShownFrames.of(window.frames, False), tmp_path,
                       key_frames=[0], settings=ClipSettings(context_seconds=1.0))
    assert clip is not None and (clip.width, clip.height, clip.frame_count) == (768, 576, 36)
    assert clip.source_start_seconds == pytest.approx(2.0) and clock_time(clip.source_start_seconds) == "0:02.0"
    plain, _, _ = _decoded(tmp_path / CLIP_NAME)
    recorded = _recorded_range(VTEST, 20, 36)
    assert np.abs(plain.astype(int) - recorded.astype(int)).mean() < 4.0
    assert (tmp_path / CLIP_NAME).stat().st_size < 400_000  # 3.6 s of 768×576, three keyframes, quality 36: ~0.3 MB


def _recorded_range(video: Path, first: int, count: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    frames = []
    for index in range(first + count):
        ok, frame = capture.read()
        assert ok, f"{video} ends before frame {index}"
        if index >= first:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return np.stack(frames)
