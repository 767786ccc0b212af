"""Display scaling, contours and the report images."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from auditor.display import (
    GRID_COLUMNS,
    GRID_TILE,
    contour_legend,
    write_explanation_images,
)
from auditor.errors import ModelError
from auditor.evidence import ModelIdentity, build_record, save_arrays
from auditor.explain.base import ClipExplanation
from auditor.explain.contours import DEFAULT_LEVELS, frame_contours, normalise
from auditor.files import sha256_file
from auditor.sidecar import DecisionRule
from auditor.synthetic import CLASS_NAMES, make_clip
from auditor.video import Clip


def _blobs(size: int = 64) -> np.ndarray:
    """A smooth map with a strong and a weak peak."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    strong = np.exp(-((xx - 20) ** 2 + (yy - 24) ** 2) / 60)
    weak = 0.5 * np.exp(-((xx - 46) ** 2 + (yy - 40) ** 2) / 30)
    return strong + weak


def _explanation(frames: int = 4, gradcam_scale: float = 1.0) -> ClipExplanation:
    clip = make_clip("fight", 9, frames=frames)
    gradcam = np.stack([cv2.resize(_blobs(), (16, 16)) * (t + 1) for t in range(frames)]) * gradcam_scale
    saliency = np.stack([_blobs() ** 2 * (t + 1) for t in range(frames)])
    return ClipExplanation(
        frames=clip.frames,
        maps={"gradcam": gradcam.astype(np.float32), "saliency": saliency.astype(np.float32)},
        logits=np.array([0.1, 2.0, -1.0], np.float32),
        probabilities=np.array([0.12, 0.83, 0.05], np.float32),
        class_names=CLASS_NAMES,
        target_index=1,
        layer_name="last_conv",
        preprocessing="unit",
    )


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
    first = write_explanation_images(explanation, tmp_path / "a").images
    second = write_explanation_images(explanation, tmp_path / "b").images
    kinds = [a.kind for a in first]
    assert kinds.count("gradcam") == 4 and kinds.count("saliency") == 4
    assert kinds.count("strip") == 1 and kinds.count("grid") == 1 and kinds.count("legend") == 1
    assert {"images/gradcam_03.png", "images/saliency_00.png", "images/strip.png", "images/gradcam_grid.png"} <= {
        a.path for a in first
    }
    assert [a.frame for a in first if a.kind == "gradcam"] == [0, 1, 2, 3]
    for a, b in zip(first, second, strict=True):
        path_a, path_b = tmp_path / "a" / a.path, tmp_path / "b" / b.path
        assert path_a.read_bytes() == path_b.read_bytes()
        assert sha256_file(path_a) == a.sha256 == b.sha256
    assert not list((tmp_path / "a" / "images").glob(".*"))  # no temporary files left behind
    overlay = cv2.imread(str(tmp_path / "a" / "images" / "gradcam_03.png"))
    assert overlay.shape == (256, 256, 3)


def test_gradcam_image_shows_heat_and_every_contour_level(tmp_path: Path) -> None:
    explanation = _explanation()
    write_explanation_images(explanation, tmp_path)
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "images" / "gradcam_03.png")), cv2.COLOR_BGR2RGB)
    for style in contour_legend(DEFAULT_LEVELS):
        assert np.all(rgb == style.rgb, axis=-1).sum() > 10, f"no contour pixels for level {style.level}"
    plain = np.repeat(np.repeat(explanation.frames[3], 4, axis=0), 4, axis=1)
    assert np.abs(rgb.astype(int) - plain).mean() > 5


def test_zero_maps_leave_the_frame_untouched(tmp_path: Path) -> None:
    explanation = _explanation(gradcam_scale=0.0)
    write_explanation_images(explanation, tmp_path)
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "images" / "gradcam_00.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, np.repeat(np.repeat(explanation.frames[0], 4, axis=0), 4, axis=1))


def test_legend_styles_are_distinct_and_thicker_for_higher_levels() -> None:
    styles = contour_legend((0.9, 0.25, 0.5, 0.75))
    assert [s.level for s in styles] == [0.25, 0.5, 0.75, 0.9]
    assert len({s.rgb for s in styles}) == 4
    assert [s.thickness for s in styles] == sorted(s.thickness for s in styles)
    assert styles[0].hex.startswith("#") and len(styles[0].hex) == 7


@pytest.mark.parametrize(("frames", "rows", "columns"), [(4, 1, 4), (10, 2, GRID_COLUMNS)])
def test_grid_shows_every_overlay_in_rows_of_fixed_width(tmp_path: Path, frames: int, rows: int, columns: int) -> None:
    write_explanation_images(_explanation(frames), tmp_path)
    images = tmp_path / "images"
    grid = cv2.imread(str(images / "gradcam_grid.png"))
    tile, band, gap = GRID_TILE, 18, 2
    assert grid.shape == (rows * (tile + band) + (rows - 1) * gap, columns * tile + (columns - 1) * gap, 3)
    for t in range(frames):
        row, col = divmod(t, GRID_COLUMNS)
        top, left = row * (tile + band + gap), col * (tile + gap)
        overlay = cv2.resize(cv2.imread(str(images / f"gradcam_{t:02d}.png")), (tile, tile), interpolation=cv2.INTER_AREA)
        assert np.array_equal(grid[top : top + tile, left : left + tile], overlay), f"tile {t} is not frame {t}'s overlay"
        assert (grid[top + tile : top + tile + band, left : left + tile] < 128).any(), f"tile {t} has no number"
    if frames % GRID_COLUMNS:
        left = (frames % GRID_COLUMNS) * (tile + gap)
        assert (grid[-(tile + band) :, left:] == 255).all()  # the last row is padded with blank tiles


@pytest.mark.parametrize(("levels", "scale"), [((0.3, 0.7), "frame"), ((0.25, 0.5, 0.75, 0.9), "clip")])
def test_the_record_states_exactly_what_the_pictures_show(tmp_path: Path, levels: tuple[float, ...], scale) -> None:  # type: ignore[no-untyped-def]
    explanation = _explanation()
    drawn = write_explanation_images(explanation, tmp_path, levels=levels, scale=scale)
    clip = Clip(explanation.frames, np.arange(4), np.arange(4) / 10.0, 10.0, "clip.avi", "0" * 64)
    model = ModelIdentity(name="m", version="1", sha256="0" * 64)
    record = build_record(explanation, clip, model=model, rule=DecisionRule(0.5, "normal"), drawn=drawn,
                          arrays=save_arrays(tmp_path, explanation))
    ex = record.explanations
    assert ex.contour_levels == [s.level for s in contour_legend(levels)] == sorted(levels)
    assert ex.display_normalisation == f"per-{scale}"
    assert ex.parameters["saliency_display_cap_percentile"] == drawn.saliency_cap_percentile
    assert [i.path for i in ex.images] == [i.path for i in drawn.images]
    legend = cv2.imread(str(tmp_path / "images" / "contour_legend.png"))
    assert legend.shape[0] == 26 * len(levels) + 8  # one row per recorded level
