"""PNG images of an explanation for the report: overlays with contours, saliency, a frame strip
and a grid of every frame's Grad-CAM overlay.

Frames are enlarged by an integer factor with nearest-neighbour sampling, so every model
pixel stays visible as it was; maps are upsampled bilinearly to the same size. Every file is
written atomically and the same explanation always gives byte-identical PNGs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from auditor.errors import ReportError
from auditor.explain.base import ClipExplanation
from auditor.explain.contours import DEFAULT_LEVELS, Scale, frame_contours, normalise
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.report_folder import IMAGES_DIR

ImageKind = Literal["gradcam", "saliency", "strip", "grid", "legend"]

MAX_OVERLAY_ALPHA = 0.5  # heat opacity at map value 1; it falls to 0 with the map
SALIENCY_CAP_PERCENTILE = 99.5  # saliency is spiky: values above this clip percentile show as the maximum
OUTLINE_RGB = (20, 20, 20)
# Contour styles by rank of level, lowest first: colour (RGB) and line thickness at 256 px.
_STYLE_CYCLE: tuple[tuple[tuple[int, int, int], int], ...] = (
    ((0, 220, 255), 1),  # cyan, thin
    ((60, 255, 60), 1),  # green, thin
    ((255, 255, 255), 2),  # white, thick
    ((255, 60, 255), 2),  # magenta, thick
)
STRIP_TILE = 96  # frame height in the strip, px
GRID_TILE = 128  # overlay size in the Grad-CAM grid, px
GRID_COLUMNS = 8
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class ImageArtifact:
    """One image written for the report; `path` is relative to the output folder."""

    path: str
    kind: ImageKind
    frame: int | None
    sha256: str


@dataclass(frozen=True)
class DrawnImages:
    """What `write_explanation_images` drew, and the display facts the pictures show: the
    evidence record takes all of it, so it can never state levels or a scale they do not show."""

    images: tuple[ImageArtifact, ...]
    contour_levels: tuple[float, ...]  # shares of the scale's maximum, lowest first
    scale: Scale  # "clip": one maximum for the whole clip; "frame": each frame's own
    saliency_cap_percentile: float  # saliency above this percentile of the clip shows as the maximum


@dataclass(frozen=True)
class ContourStyle:
    """How the contour of one level is drawn (over a thin dark outline)."""

    level: float
    rgb: tuple[int, int, int]
    thickness: int

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def contour_legend(levels: Sequence[float] = DEFAULT_LEVELS, upscale_to: int = 256) -> list[ContourStyle]:
    """The style of each level, lowest level first: colour by rank, thicker lines for higher levels."""
    scale = max(1, round(upscale_to / 256))
    styles = []
    for rank, level in enumerate(sorted(levels)):
        rgb, thickness = _STYLE_CYCLE[rank % len(_STYLE_CYCLE)]
        styles.append(ContourStyle(float(level), rgb, (thickness + rank // len(_STYLE_CYCLE)) * scale))
    return styles


def write_explanation_images(
    explanation: ClipExplanation,
    out_dir: Path,
    *,
    levels: Sequence[float] = DEFAULT_LEVELS,
    scale: Scale = "clip",
    upscale_to: int = 256,
) -> DrawnImages:
    """Write gradcam_TT.png and saliency_TT.png for every frame, strip.png, gradcam_grid.png and
    contour_legend.png."""
    frames = explanation.frames
    factor = _upscale_factor(frames.shape[1:3], upscale_to)
    styles = contour_legend(levels, upscale_to)
    gradcam = normalise(explanation.gradcam, scale)
    saliency = normalise(np.minimum(explanation.saliency, np.percentile(explanation.saliency, SALIENCY_CAP_PERCENTILE)), scale)
    digits = max(2, len(str(len(frames) - 1)))
    images: list[tuple[str, ImageKind, int | None, np.ndarray]] = []
    overlays = []
    for t, frame in enumerate(frames):
        base = _enlarge(frame, factor)
        overlays.append(_gradcam_image(base, gradcam[t], styles))
        images.append((f"gradcam_{t:0{digits}d}.png", "gradcam", t, overlays[-1]))
        images.append((f"saliency_{t:0{digits}d}.png", "saliency", t, _overlay(base, _resize_map(saliency[t], base))))
    images.append(("strip.png", "strip", None, _tile_sheet(list(frames), STRIP_TILE, columns=len(frames))))
    images.append(("gradcam_grid.png", "grid", None, _tile_sheet(overlays, GRID_TILE, columns=GRID_COLUMNS)))
    images.append(("contour_legend.png", "legend", None, _legend_image(styles, scale)))
    folder = Path(out_dir) / IMAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = tuple(_write_png(folder, name, kind, t, rgb) for name, kind, t, rgb in images)
    return DrawnImages(written, tuple(s.level for s in styles), scale, SALIENCY_CAP_PERCENTILE)


def _upscale_factor(shape: Sequence[int], upscale_to: int) -> int:
    """The integer enlargement that brings the longer side closest to `upscale_to` (at least 1)."""
    return max(1, round(upscale_to / max(shape)))


def _enlarge(frame: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)


def _resize_map(display_map: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Bilinear upsampling of a [0, 1] map to the size of image `like`; stays in [0, 1]."""
    height, width = like.shape[:2]
    return cv2.resize(display_map, (width, height), interpolation=cv2.INTER_LINEAR)


def _overlay(base: np.ndarray, display_map: np.ndarray) -> np.ndarray:
    """Inferno heat blended over the frame, opacity growing with the map value."""
    heat_bgr = cv2.applyColorMap(np.rint(display_map * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    heat = cv2.cvtColor(heat_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (MAX_OVERLAY_ALPHA * display_map)[..., None]
    return np.rint(base.astype(np.float32) * (1 - alpha) + heat * alpha).astype(np.uint8)


def _gradcam_image(base: np.ndarray, display_map: np.ndarray, styles: list[ContourStyle]) -> np.ndarray:
    """Heat overlay plus iso-contours at the clip's shared levels, lowest level drawn first."""
    upsampled = _resize_map(display_map, base)
    image = _overlay(base, upsampled)
    contours = frame_contours(upsampled, [s.level for s in styles])
    for style in styles:
        found = contours[style.level]
        cv2.drawContours(image, found, -1, OUTLINE_RGB, style.thickness + 2, cv2.LINE_AA)
        cv2.drawContours(image, found, -1, style.rgb, style.thickness, cv2.LINE_AA)
    return image


def _tile_sheet(images: Sequence[np.ndarray], height: int, columns: int) -> np.ndarray:
    """Images scaled to `height` px, laid out `columns` to a row, each numbered by its position
    in a white band below it."""
    tiles = [_labelled_tile(image, height, str(t)) for t, image in enumerate(images)]
    width = min(columns, len(tiles))
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % width)  # blank tiles fill the last row
    rows = [_join(tiles[start : start + width], axis=1) for start in range(0, len(tiles), width)]
    return _join(rows, axis=0)


def _labelled_tile(image: np.ndarray, height: int, label: str) -> np.ndarray:
    source_height, source_width = image.shape[:2]
    size = (max(1, round(source_width * height / source_height)), height)
    shrink = cv2.INTER_AREA if source_height > height else cv2.INTER_NEAREST
    band = np.full((18, size[0], 3), 255, np.uint8)
    cv2.putText(band, label, (4, 14), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([cv2.resize(image, size, interpolation=shrink), band])


def _join(parts: list[np.ndarray], axis: int) -> np.ndarray:
    """Concatenate along `axis` with a 2 px white gap between parts."""
    gap_shape = list(parts[0].shape)
    gap_shape[axis] = 2
    gap = np.full(gap_shape, 255, np.uint8)
    return np.concatenate([piece for part in parts for piece in (part, gap)][:-1], axis=axis)


def _legend_image(styles: list[ContourStyle], scale: Scale) -> np.ndarray:
    """One row per level: a sample line in its style on a mid-grey swatch, and the label."""
    row = 26
    image = np.full((row * len(styles) + 8, 260, 3), 255, np.uint8)
    for i, style in enumerate(styles):
        y = 4 + i * row
        cv2.rectangle(image, (4, y), (60, y + row - 4), (128, 128, 128), -1)
        middle = y + (row - 4) // 2
        cv2.line(image, (10, middle), (54, middle), OUTLINE_RGB, style.thickness + 2, cv2.LINE_AA)
        cv2.line(image, (10, middle), (54, middle), style.rgb, style.thickness, cv2.LINE_AA)
        label = f">= {style.level:.0%} of {scale} maximum"
        cv2.putText(image, label, (68, middle + 5), _FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _write_png(folder: Path, name: str, kind: ImageKind, frame: int | None, rgb: np.ndarray) -> ImageArtifact:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ReportError(f"OpenCV could not encode {name} as PNG ({rgb.shape}); report this as a bug with --debug")
    data = encoded.tobytes()
    atomic_write_bytes(folder / name, data)
    return ImageArtifact(f"{IMAGES_DIR}/{name}", kind, frame, sha256_bytes(data))
