"""Display scaling, contours and the report images."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from auditor.errors import ModelError, ReportError
from auditor.evidence import ModelIdentity, build_record, save_arrays
from auditor.explain.base import ClipExplanation, DecisionRule
from auditor.explain.contours import DEFAULT_LEVELS, frame_contours, localised, normalise
from auditor.files import sha256_file
from auditor.report.display import (
    BAR_HEIGHT,
    BAR_LEFT,
    BAR_TOP,
    BAR_WIDTH,
    GRID_COLUMNS,
    GRID_TILE,
    MAX_OVERLAY_ALPHA,
    MIN_IMAGE_WIDTH,
    PICTURE_QUALITY,
    STRIP_TILE,
    TILE_BAND,
    contour_legend,
    draw_explanation,
    write_explanation_images,
)
from auditor.synthetic import CLASS_NAMES, make_clip
from auditor.video import Clip


def _blobs(size: int = 64) -> np.ndarray:
    """A smooth map with a strong and a weak peak."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    strong = np.exp(-((xx - 20) ** 2 + (yy - 24) ** 2) / 60)
    weak = 0.5 * np.exp(-((xx - 46) ** 2 + (yy - 40) ** 2) / 30)
    return strong + weak


def _explanation(
    frames: int = 4, gradcam_scale: float = 1.0, recorded: np.ndarray | None = None, gradcam: np.ndarray | None = None
) -> ClipExplanation:
    """Two blobs per frame, growing over time; `recorded` frames are stretched to 64×64 as the detector does."""
    pixels = make_clip("fight", 9, frames=frames).frames if recorded is None else _stretch(recorded)
    if gradcam is None:
        gradcam = np.stack([cv2.resize(_blobs(), (16, 16)) * (t + 1) for t in range(frames)]) * gradcam_scale
    saliency = np.stack([_blobs() ** 2 * (t + 1) for t in range(frames)])
    return ClipExplanation(
        frames=pixels,
        maps={"gradcam": gradcam.astype(np.float32), "saliency": saliency.astype(np.float32)},
        logits=np.array([0.1, 2.0, -1.0], np.float32),
        probabilities=np.array([0.12, 0.83, 0.05], np.float32),
        class_names=CLASS_NAMES,
        target_index=1,
        layer_name="last_conv",
        preprocessing="unit",
    )


def _stretch(recorded: np.ndarray, size: int = 64) -> np.ndarray:
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in recorded])


def _scene(width: int, height: int, frames: int = 4) -> np.ndarray:
    """Recorded frames of any size: a gradient with a dark square that moves right."""
    yy, xx = np.mgrid[0:height, 0:width]
    clip = []
    for t in range(frames):
        rgb = np.stack([60 + 120 * xx / width, 60 + 120 * yy / height, np.full_like(xx, 90.0)], axis=-1)
        left = int(width * (0.1 + 0.15 * t))
        rgb[height // 3 : height // 3 + height // 5, left : left + width // 8] = 20
        clip.append(rgb.astype(np.uint8))
    return np.stack(clip)


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _drawn(explanation: ClipExplanation, recorded: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The pictures as drawn, before they are encoded, by file name without suffix."""
    drawing = draw_explanation(explanation, recorded=explanation.frames if recorded is None else recorded)
    return {picture.stem: picture.rgb for picture in drawing.pictures}


def test_normalise_per_clip_keeps_frames_comparable_and_per_frame_fills_each() -> None:
    maps = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 4.0), np.zeros((2, 2))]).astype(np.float32)
    maps[1, 0, 0] = 8.0
    clip = normalise(maps, "clip")
    frame = normalise(maps, "frame")
    assert clip.dtype == np.float32 and clip.max() == 1.0
    assert np.allclose(clip[0], 1 / 8) and clip[1, 0, 0] == 1.0 and np.allclose(clip[1, 1], 0.5)
    assert np.allclose(frame[0], 1.0) and frame[1, 0, 0] == 1.0 and np.allclose(frame[1, 1], 0.5)
    assert not clip[2].any() and not frame[2].any()
    assert not normalise(np.zeros((2, 3, 3), np.float32)).any()


def test_normalise_rejects_negative_or_misshapen_maps() -> None:
    with pytest.raises(ValueError):
        normalise(np.full((1, 2, 2), -1.0))
    with pytest.raises(ValueError):
        normalise(np.ones((2, 2)))


def test_maps_that_are_not_finite_are_a_model_error_for_the_user() -> None:
    with pytest.raises(ModelError, match="NaN or infinite"):
        normalise(np.array([[[0.5, np.nan]]], np.float32))


def test_contours_of_higher_levels_lie_inside_lower_ones() -> None:
    display = normalise(_blobs()[None])[0]
    contours = frame_contours(display, DEFAULT_LEVELS)
    assert list(contours) == list(DEFAULT_LEVELS)
    assert len(contours[0.25]) == 2 and len(contours[0.9]) == 1  # the weak peak stops below 0.9
    for low, high in itertools.pairwise(DEFAULT_LEVELS):
        for contour in contours[high]:
            xs, ys = contour[:, 0, 0], contour[:, 0, 1]
            assert np.all(display[ys, xs] >= low) and np.all(display[ys, xs] >= high)
        inner = max(cv2.contourArea(c) for c in contours[high])
        assert inner < max(cv2.contourArea(c) for c in contours[low])


def test_images_are_written_deterministic_and_hashed(tmp_path: Path) -> None:
    explanation = _explanation()
    first = write_explanation_images(explanation, tmp_path / "a", recorded=explanation.frames).images
    second = write_explanation_images(explanation, tmp_path / "b", recorded=explanation.frames).images
    kinds = [a.kind for a in first]
    assert kinds.count("gradcam") == 4 and kinds.count("saliency") == 4
    assert kinds.count("strip") == 1 and kinds.count("grid") == 1 and kinds.count("legend") == 1
    frames = {f"images/{kind}_{t:02d}.jpg" for kind in ("gradcam", "saliency") for t in range(4)}
    assert {a.path for a in first} == frames | {"images/strip.jpg", "images/gradcam_grid.jpg", "images/contour_legend.png"}
    assert [a.frame for a in first if a.kind == "gradcam"] == [0, 1, 2, 3]
    for a, b in zip(first, second, strict=True):
        path_a, path_b = tmp_path / "a" / a.path, tmp_path / "b" / b.path
        assert path_a.read_bytes() == path_b.read_bytes()
        assert sha256_file(path_a) == a.sha256 == b.sha256
    assert not list((tmp_path / "a" / "images").glob(".*"))  # no temporary files left behind
    assert _read(tmp_path / "a" / "images" / "gradcam_03.jpg").shape == (512, 512, 3)  # 64 px × 8


def test_pictures_of_frames_are_visually_lossless_jpeg_and_the_legend_lossless_png(tmp_path: Path) -> None:
    recorded = _scene(768, 576)
    explanation = _explanation(recorded=recorded)
    written = write_explanation_images(explanation, tmp_path, recorded=recorded).images
    drawn = _drawn(explanation, recorded)
    assert len(written) == len(drawn)
    for artifact in written:
        stem = Path(artifact.path).stem
        with Image.open(tmp_path / artifact.path) as picture:
            pixels = np.asarray(picture.convert("RGB")).astype(int)
            if artifact.kind == "legend":
                assert picture.format == "PNG" and np.array_equal(pixels, drawn[stem]), "the legend is not lossless"
                continue
            assert picture.format == "JPEG" and JpegImagePlugin.get_sampling(picture) == 0  # 4:4:4: colour at full resolution
            assert picture.quantization[0] == _quantization(PICTURE_QUALITY)  # type: ignore[attr-defined]
        assert pixels.shape == drawn[stem].shape, f"{stem}: the pixel size changed"
        error = np.abs(pixels - drawn[stem])
        assert error.mean() < 1.0 and np.percentile(error, 99.9) <= 12, f"{stem} is not a close copy of the drawing"


def _quantization(quality: int) -> list[int]:
    """The luminance table libjpeg uses at `quality`."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="JPEG", quality=quality)
    with Image.open(out) as image:
        return list(image.quantization[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "height", "picture"), [
    (768, 576, (640, 480)),  # vtest.avi: reduced to the widest picture
    (640, 272, (640, 272)),  # a 2.35:1 scene: as recorded
    (272, 640, (544, 1280)),  # portrait: enlarged ×2 to reach the narrowest picture
    (1920, 1080, (640, 360)),
    (64, 64, (512, 512)),  # a model-sized recording: enlarged ×8
])
def test_pictures_show_the_recorded_frames_at_their_aspect_ratio(
    tmp_path: Path, width: int, height: int, picture: tuple[int, int]
) -> None:
    recorded = _scene(width, height)
    drawn = write_explanation_images(_explanation(recorded=recorded), tmp_path, recorded=recorded)
    geometry = drawn.geometry
    assert (geometry.source_width, geometry.source_height, geometry.model_width, geometry.model_height) == (
        width, height, 64, 64
    )
    assert (geometry.mapping, (geometry.image_width, geometry.image_height)) == ("stretch", picture)
    for image in drawn.images:
        rgb = _read(tmp_path / image.path)
        if image.kind in ("gradcam", "saliency"):
            assert rgb.shape[1::-1] == picture and rgb.shape[1] >= MIN_IMAGE_WIDTH
            assert rgb.shape[1] / rgb.shape[0] == pytest.approx(width / height, rel=0.01)
    strip = _read(tmp_path / "images" / "strip.jpg")
    tile_width = round(STRIP_TILE * width / height)
    columns = (strip.shape[1] + 2) // (tile_width + 2)
    assert strip.shape[1] == columns * tile_width + (columns - 1) * 2  # tiles keep the aspect ratio
    assert strip.shape[0] == -(-4 // columns) * (STRIP_TILE + TILE_BAND + 2) - 2
    grid = _read(tmp_path / "images" / "gradcam_grid.jpg")
    assert grid.shape[:2] == (GRID_TILE + TILE_BAND, 4 * round(GRID_TILE * picture[0] / picture[1]) + 3 * 2)


def test_a_picture_shows_the_recorded_frame_itself(tmp_path: Path) -> None:
    recorded = _scene(640, 272)
    explanation = _explanation(recorded=recorded, gradcam_scale=0.0)
    saliency = _drawn(explanation, recorded)["saliency_00"].astype(int)
    heat = MAX_OVERLAY_ALPHA * 255  # the largest change the heat can make to a pixel
    assert np.abs(saliency - recorded[0]).max() <= heat and np.abs(saliency - recorded[0]).mean() < 5


def test_maps_are_drawn_back_onto_the_recorded_frame_by_the_inverse_stretch(tmp_path: Path) -> None:
    recorded = _scene(640, 272)
    cam = np.zeros((4, 8, 8), np.float32)
    cam[:, 1, 6] = 1.0  # one cell of the model's 8×8 grid: rows 34-68, columns 480-560 of the recording
    changed = np.abs(_drawn(_explanation(recorded=recorded, gradcam=cam), recorded)["gradcam_00"].astype(int) - recorded[0]).sum(axis=-1) > 30
    rows, cols = np.nonzero(changed)
    assert 34 <= rows.mean() <= 68 and 480 <= cols.mean() <= 560
    assert rows.min() >= 34 - 34 and rows.max() <= 68 + 34 and cols.min() >= 480 - 80 and cols.max() <= 560 + 80


def test_recorded_frames_must_be_the_ones_the_model_saw(tmp_path: Path) -> None:
    recorded = _scene(640, 272)
    explanation = _explanation(recorded=recorded)
    with pytest.raises(ReportError, match="not the recorded frames stretched"):
        write_explanation_images(explanation, tmp_path, recorded=recorded[:, ::-1])
    with pytest.raises(ReportError, match="do not match the explained frames"):
        write_explanation_images(explanation, tmp_path, recorded=recorded[:3])


def test_gradcam_image_shows_heat_and_every_contour_level(tmp_path: Path) -> None:
    explanation = _explanation()
    drawn = write_explanation_images(explanation, tmp_path, recorded=explanation.frames)
    rgb = _drawn(explanation)["gradcam_03"]
    for style in contour_legend(DEFAULT_LEVELS):
        assert np.all(rgb == style.rgb, axis=-1).sum() > 10, f"no contour pixels for level {style.level}"
    factor = drawn.geometry.image_width // 64
    plain = np.repeat(np.repeat(explanation.frames[3], factor, axis=0), factor, axis=1)
    difference = np.abs(rgb.astype(int) - plain).mean(axis=-1)
    assert difference[176:208, 144:176].mean() > 30 > 5 > difference[400:, 400:].mean()  # heat at the strong blob only


def _contour_pixels(rgb: np.ndarray) -> int:
    """Pixels in a contour colour, below the band where a picture may be marked (in white)."""
    return sum(int(np.all(rgb[40:] == style.rgb, axis=-1).sum()) for style in contour_legend(DEFAULT_LEVELS))


def test_a_map_is_localised_only_when_its_strong_part_is_small() -> None:
    blob = _blobs(16)
    rng = np.random.default_rng(0)
    assert localised(blob)
    assert not localised(np.full((16, 16), 0.3))  # flat
    assert not localised(1.0 + 0.01 * rng.random((16, 16)))  # nearly flat
    assert not localised(np.zeros((16, 16)))  # nothing at all
    assert not localised(np.ones((1, 1)))  # one cell cannot point anywhere
    half = np.zeros((4, 4))
    half[:2] = 1.0
    assert localised(half)  # strong on exactly half the frame: the upper half
    half[2, 0] = 1.0
    assert not localised(half)  # strong on more than half


def test_maps_with_no_localisation_get_no_contours_and_a_mark_without_words(tmp_path: Path) -> None:
    recorded = _scene(640, 272)
    cam = np.stack([
        np.full((8, 8), 2.0),  # flat, at the clip maximum: contours at every level would trace the border
        2.0 - 0.02 * np.random.default_rng(1).random((8, 8)),  # nearly flat
        np.zeros((8, 8)),  # nothing
        2.0 * cv2.resize(_blobs(), (8, 8)),  # a localised frame of the same clip
    ]).astype(np.float32)
    explanation = _explanation(recorded=recorded, gradcam=cam)
    explanation = ClipExplanation(**{**explanation.__dict__, "maps": {"gradcam": cam, "saliency": np.zeros((4, 64, 64), np.float32)}})
    drawn = _drawn(explanation, recorded)
    for t in range(3):
        rgb = drawn[f"gradcam_{t:02d}"]
        assert _contour_pixels(rgb) == 0, f"frame {t} has contours"
        assert (rgb[:4, :20] == 255).all() and (rgb[:30, :30] < 60).any(), f"frame {t} is not marked"
        assert not (rgb[:4, 40:100] == 255).all(), f"frame {t} has more than the mark (a word?)"
        saliency = drawn[f"saliency_{t:02d}"]
        assert (saliency[:4, :20] == 255).all()
        assert np.array_equal(rgb, saliency) == (t == 2)  # zero maps look alike: the caption names the method
    localised_frame = drawn["gradcam_03"]
    assert _contour_pixels(localised_frame) > 50 and not (localised_frame[:4, :20] == 255).all()


def test_legend_shows_the_colour_bar_of_the_overlays_with_its_values(tmp_path: Path) -> None:
    explanation = _explanation()
    write_explanation_images(explanation, tmp_path, recorded=explanation.frames)
    legend = _read(tmp_path / "images" / "contour_legend.png").astype(int)
    middle = BAR_TOP + BAR_HEIGHT // 2
    for value in (0.0, 0.1, 0.4, 0.6, 0.8, 1.0):
        x = BAR_LEFT + round(value * (BAR_WIDTH - 1))
        heat = cv2.applyColorMap(np.array([[round(value * 255)]], np.uint8), cv2.COLORMAP_INFERNO)[0, 0, ::-1]
        alpha = MAX_OVERLAY_ALPHA * value  # the overlays' rule: heat over a mid-grey frame
        expected = np.rint(128 * (1 - alpha) + heat * alpha)
        assert np.abs(legend[middle, x] - expected).max() <= 2, f"bar colour at {value:.0%}"
    for value in (0.0, 0.25, 0.5, 0.75, 1.0):  # labelled ticks below the bar
        x = BAR_LEFT + round(value * (BAR_WIDTH - 1))
        assert (legend[BAR_TOP + BAR_HEIGHT + 1 : BAR_TOP + BAR_HEIGHT + 8, x] < 60).all(), f"no tick at {value:.0%}"
        assert (legend[BAR_TOP + BAR_HEIGHT + 12 : BAR_TOP + BAR_HEIGHT + 32, max(0, x - 25) : x + 25] < 100).any()
    for style in contour_legend(DEFAULT_LEVELS):  # each contour level is marked on the bar in its colour
        x = BAR_LEFT + round(style.level * (BAR_WIDTH - 1))
        assert np.all(legend[BAR_TOP : BAR_TOP + BAR_HEIGHT, x - 1 : x + 2] == style.rgb, axis=-1).any()


def test_zero_maps_leave_the_frame_untouched_but_marked(tmp_path: Path) -> None:
    explanation = _explanation(gradcam_scale=0.0)
    rgb = _drawn(explanation)["gradcam_00"]
    plain = np.repeat(np.repeat(explanation.frames[0], 8, axis=0), 8, axis=1)
    assert np.array_equal(rgb[40:], plain[40:]) and not np.array_equal(rgb[:40], plain[:40])


def test_legend_styles_are_distinct_and_thicker_for_higher_levels() -> None:
    styles = contour_legend((0.9, 0.25, 0.5, 0.75))
    assert [s.level for s in styles] == [0.25, 0.5, 0.75, 0.9]
    assert len({s.rgb for s in styles}) == 4
    assert [s.thickness for s in styles] == sorted(s.thickness for s in styles)
    assert styles[0].hex.startswith("#") and len(styles[0].hex) == 7


@pytest.mark.parametrize(("frames", "rows", "columns"), [(4, 1, 4), (10, 2, GRID_COLUMNS)])
def test_grid_shows_every_overlay_in_rows_of_fixed_width(tmp_path: Path, frames: int, rows: int, columns: int) -> None:
    explanation = _explanation(frames)
    drawn = _drawn(explanation)
    grid = drawn["gradcam_grid"]
    tile, band, gap = GRID_TILE, TILE_BAND, 2
    assert grid.shape == (rows * (tile + band) + (rows - 1) * gap, columns * tile + (columns - 1) * gap, 3)
    for t in range(frames):
        row, col = divmod(t, GRID_COLUMNS)
        top, left = row * (tile + band + gap), col * (tile + gap)
        overlay = cv2.resize(drawn[f"gradcam_{t:02d}"], (tile, tile), interpolation=cv2.INTER_AREA)
        assert np.array_equal(grid[top : top + tile, left : left + tile], overlay), f"tile {t} is not frame {t}'s overlay"
        assert (grid[top + tile : top + tile + band, left : left + tile] < 128).any(), f"tile {t} has no number"
    if frames % GRID_COLUMNS:
        left = (frames % GRID_COLUMNS) * (tile + gap)
        assert (grid[-(tile + band) :, left:] == 255).all()  # the last row is padded with blank tiles


@pytest.mark.parametrize(("levels", "scale"), [((0.3, 0.7), "frame"), ((0.25, 0.5, 0.75, 0.9), "clip")])
def test_the_record_states_exactly_what_the_pictures_show(tmp_path: Path, levels: tuple[float, ...], scale) -> None:  # type: ignore[no-untyped-def]
    recorded = _scene(640, 272)
    explanation = _explanation(recorded=recorded)
    drawn = write_explanation_images(explanation, tmp_path, recorded=recorded, levels=levels, scale=scale)
    clip = Clip(recorded, np.arange(4), np.arange(4) / 10.0, 10.0, "clip.avi", "0" * 64)
    model = ModelIdentity(name="m", version="1", sha256="0" * 64)
    record = build_record(explanation, clip, model=model, rule=DecisionRule(0.5, "normal"), drawn=drawn,
                          arrays=save_arrays(tmp_path, explanation))
    ex = record.explanations
    assert ex.contour_levels == [s.level for s in contour_legend(levels)] == sorted(levels)
    assert ex.display_normalisation == f"per-{scale}"
    assert ex.parameters["saliency_display_cap_percentile"] == drawn.saliency_cap_percentile
    assert [i.path for i in ex.images] == [i.path for i in drawn.images]
    assert ex.geometry is not None and ex.geometry.model_dump() == drawn.geometry.__dict__
    assert (ex.geometry.source_width, ex.geometry.image_width, ex.geometry.image_height) == (640, 640, 272)
    legend = _read(tmp_path / "images" / "contour_legend.png")
    rows = legend[BAR_TOP + BAR_HEIGHT + 44 :, BAR_LEFT + 50]  # the middle of each contour row's sample line
    marks = [style.rgb for style in contour_legend(levels)]
    assert sum(np.any(np.all(rows == rgb, axis=-1)) for rgb in marks) == len(levels)  # one row per recorded level
