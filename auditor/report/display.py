"""PNG images of an explanation for the report: overlays with contours, saliency, a frame strip,
a grid of every frame's overlay of the primary map, and the legend (colour scale and contour levels).
Which maps are drawn, and how, comes from their method descriptors (`auditor.explain.methods`).

The pictures show the frames as they were recorded, at their own aspect ratio: the model saw
each frame stretched to its square (or other) input size (`Detector.resize`: a plain resize, no
crop, no letterbox), so a map at model resolution covers the whole recorded frame and is drawn
back onto it by the inverse stretch (bilinear resampling to the picture's size). `FrameGeometry`
states this mapping and the record takes it from `DrawnImages`. Frames narrower than
`MIN_IMAGE_WIDTH` are enlarged by an integer factor with nearest-neighbour sampling, so every
recorded pixel stays visible as it was; wider ones are reduced to `MAX_IMAGE_WIDTH`. A frame
whose map singles out no region (`auditor.explain.contours.localised`) gets no contours and is
marked by `UNLOCALISED_MARK` in its top-left corner. Pictures hold no words, only numbers and
marks (their SHA-256 is in the record, so they must not change with the report's language): what
they show is said in the report's translated captions (`auditor.report.captions`).

The pictures of frames are JPEG at quality `PICTURE_QUALITY` with full colour resolution (4:4:4):
visually lossless, a third of the PNG's size, and embedded in the PDF as they are. Drawn
graphics (the legend) are PNG. The raw maps are kept losslessly in `arrays.npz`. Every file is
written atomically and the same explanation always gives byte-identical files.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from auditor.errors import ReportError
from auditor.explain.base import ClipExplanation
from auditor.explain.contours import DEFAULT_LEVELS, Scale, frame_contours, localised, normalise
from auditor.explain.methods import MethodDescriptor, map_methods, primary_map
from auditor.files import atomic_write_bytes, sha256_bytes
from auditor.names import IMAGES_DIR, JPEG_SUFFIX, PNG_SUFFIX
from auditor.report.picture_text import draw_text, text_size

ImageKind = str  # a map method's name (its picture of every frame), or one of SHEET_KINDS
SHEET_KINDS = ("strip", "grid", "legend", "motion", "counterfactual", "persons")
DRAWN_KINDS: frozenset[ImageKind] = frozenset({"legend"})  # graphics without a frame: PNG, lossless
PICTURE_QUALITY = 95  # JPEG quality of every other picture (4:4:4 chroma)
FrameMapping = Literal["stretch"]  # how a recorded frame became the model's input

MAX_OVERLAY_ALPHA = 0.5  # heat opacity at map value 1; it falls to 0 with the map
OUTLINE_RGB = (20, 20, 20)
# Contour styles by rank of level, lowest first: colour (RGB) and line thickness at line scale 1.
_STYLE_CYCLE: tuple[tuple[tuple[int, int, int], int], ...] = (
    ((0, 220, 255), 1),  # cyan, thin
    ((60, 255, 60), 1),  # green, thin
    ((255, 255, 255), 2),  # white, thick
    ((255, 60, 255), 2),  # magenta, thick
)
MIN_IMAGE_WIDTH = 480  # per-frame pictures are at least this wide (px) ...
MAX_IMAGE_WIDTH = 640  # ... and at most this wide, unless an integer enlargement overshoots it
LINE_SCALE_WIDTH = 320  # contour lines thicken by one step per this many px of picture width
STRETCH_TOLERANCE = 2.0  # mean grey-level difference allowed between a stretched recorded frame and the model's
STRIP_TILE = 128  # frame height in the strip, px
GRID_TILE = 128  # overlay height in the Grad-CAM grid, px
GRID_COLUMNS = 8
TILE_BAND = 20  # px of white under each tile of the strip and the grid, for its number
# A row of the strip is at most this many tile heights wide and holds at most GRID_COLUMNS frames:
# on an A4 page, tiles at least about 21 mm wide and 8 mm high, whatever the frames' aspect ratio.
STRIP_ROW_SPAN = 22.0
SCALE_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the colour bar's labelled values


@dataclass(frozen=True)
class ImageArtifact:
    """One image written for the report; `path` is relative to the output folder."""

    path: str
    kind: ImageKind
    frame: int | None
    sha256: str


@dataclass(frozen=True)
class Picture:
    """One picture as drawn, before it is written: its file name without suffix, and RGB pixels."""

    stem: str
    kind: ImageKind
    frame: int | None
    rgb: np.ndarray  # (H, W, 3) uint8


@dataclass(frozen=True)
class FrameGeometry:
    """How the recorded frames map onto the model's input and onto the per-frame pictures.

    `mapping` "stretch": each recorded frame was resized to the model's width and height (no crop,
    no letterbox), so the maps, at model resolution, are drawn back over the whole recorded frame.
    `image_width` × `image_height` is the size of each map's per-frame picture (`<method>_TT.jpg`).
    """

    source_width: int
    source_height: int
    model_width: int
    model_height: int
    mapping: FrameMapping
    image_width: int
    image_height: int


@dataclass(frozen=True)
class DrawnImages:
    """What `write_explanation_images` drew, and the display facts the pictures show: the
    evidence record takes all of it, so it can never state levels, a scale or a geometry they do
    not show."""

    images: tuple[ImageArtifact, ...]
    contour_levels: tuple[float, ...]  # shares of the scale's maximum, lowest first
    scale: Scale  # "clip": one maximum for the whole clip; "frame": each frame's own
    saliency_cap_percentile: float  # a capped map (saliency) above this percentile of the clip shows as the maximum
    geometry: FrameGeometry


@dataclass(frozen=True)
class ContourStyle:
    """How the contour of one level is drawn (over a thin dark outline)."""

    level: float
    rgb: tuple[int, int, int]
    thickness: int

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def contour_legend(levels: Sequence[float] = DEFAULT_LEVELS, line_scale: int = 1) -> list[ContourStyle]:
    """The style of each level, lowest level first: colour by rank, thicker lines for higher levels."""
    styles = []
    for rank, level in enumerate(sorted(levels)):
        rgb, thickness = _STYLE_CYCLE[rank % len(_STYLE_CYCLE)]
        styles.append(ContourStyle(float(level), rgb, (thickness + rank // len(_STYLE_CYCLE)) * line_scale))
    return styles


def write_explanation_images(
    explanation: ClipExplanation,
    out_dir: Path,
    *,
    recorded: np.ndarray,
    shown: np.ndarray | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    scale: Scale = "clip",
) -> DrawnImages:
    """Write the pictures of `draw_explanation` (`<method>_TT` of each map for every frame, strip,
    `<primary>_grid`, contour_legend) into `out_dir`/images."""
    drawing = draw_explanation(explanation, recorded=recorded, shown=shown, levels=levels, scale=scale)
    written = tuple(write_picture(out_dir, picture) for picture in drawing.pictures)
    levels_drawn = tuple(s.level for s in drawing.styles)
    return DrawnImages(written, levels_drawn, scale, cap_percentile(), drawing.geometry)


def cap_percentile() -> float:
    """The display cap of the capped map (saliency): the percentile of the clip shown at full strength."""
    return next(d.display_cap_percentile for d in map_methods() if d.display_cap_percentile is not None)


@dataclass(frozen=True)
class Drawing:
    """The pictures of an explanation, with the geometry and contour styles they are drawn with."""

    pictures: list[Picture]
    geometry: FrameGeometry
    styles: list[ContourStyle]


def draw_explanation(
    explanation: ClipExplanation,
    *,
    recorded: np.ndarray,
    shown: np.ndarray | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    scale: Scale = "clip",
) -> Drawing:
    """An overlay per frame of each map the explanation holds (contours where its descriptor asks
    for them), the strip of frames, the grid of the primary map's overlays and the legend.

    `recorded` holds the explained frames as decoded (T, H, W, 3) uint8 RGB (`Clip.frames` of the
    window); `explanation.frames` are the model-sized copies the detector made of them. The
    pictures show `shown` (the recorded frames with bystanders' faces masked) when given.
    """
    geometry = frame_geometry(recorded, explanation.frames)
    if shown is not None and shown.shape != recorded.shape:
        raise ReportError(f"the frames to show {shown.shape} differ in shape from the recorded frames {recorded.shape}")
    recorded = recorded if shown is None else shown
    size = (geometry.image_width, geometry.image_height)
    styles = contour_legend(levels, _line_scale(geometry.image_width))
    drawn = [d for d in map_methods() if d.name in explanation.maps]
    shown_maps = {d.name: _display_maps(d, explanation.maps[d.name], scale) for d in drawn}
    digits = max(2, len(str(len(recorded) - 1)))
    pictures: list[Picture] = []
    overlays: dict[str, list[np.ndarray]] = {d.name: [] for d in drawn}
    for t, frame in enumerate(recorded):
        base = display_frame(frame, size)
        for d in drawn:
            located = localised(explanation.maps[d.name][t])
            styled = styles if d.contours else []
            overlays[d.name].append(_map_image(base, shown_maps[d.name][t], styled, located, d.colour_map or "inferno"))
            pictures.append(Picture(f"{d.name}_{t:0{digits}d}", d.name, t, overlays[d.name][-1]))
    aspect = geometry.source_width / geometry.source_height
    strip = _tile_sheet(list(recorded), STRIP_TILE, _columns(len(recorded), aspect, STRIP_ROW_SPAN))
    pictures.append(Picture("strip", "strip", None, strip))
    primary = primary_map().name
    if primary in overlays:
        pictures.append(Picture(f"{primary}_grid", "grid", None, _tile_sheet(overlays[primary], GRID_TILE, GRID_COLUMNS)))
    pictures.append(Picture("contour_legend", "legend", None, _legend_image(styles)))
    return Drawing(pictures, geometry, styles)


def frame_geometry(recorded: np.ndarray, model_frames: np.ndarray) -> FrameGeometry:
    """The geometry of `recorded` frames explained as `model_frames`; raises ReportError unless
    the model's frames are the recorded ones stretched to the model size."""
    if recorded.ndim != 4 or recorded.shape[-1] != 3 or len(recorded) != len(model_frames):
        raise ReportError(
            f"the recorded frames {recorded.shape} do not match the explained frames {model_frames.shape}; "
            "pass the window's frames (Clip.frames) the explanation was made from"
        )
    (height, width), (model_height, model_width) = recorded.shape[1:3], model_frames.shape[1:3]
    stretched = np.stack([cv2.resize(f, (model_width, model_height), interpolation=cv2.INTER_AREA) for f in recorded])
    if np.abs(stretched.astype(np.int16) - model_frames.astype(np.int16)).mean() > STRETCH_TOLERANCE:
        raise ReportError(
            "the explained frames are not the recorded frames stretched to the model size; "
            "pass the window's frames (Clip.frames) the explanation was made from"
        )
    image_width, image_height = _image_size(width, height)
    return FrameGeometry(width, height, model_width, model_height, "stretch", image_width, image_height)


def _image_size(width: int, height: int) -> tuple[int, int]:
    """The per-frame pictures' size: the recorded size, enlarged by the smallest integer factor
    that reaches MIN_IMAGE_WIDTH, or reduced to MAX_IMAGE_WIDTH; the aspect ratio is kept."""
    if width < MIN_IMAGE_WIDTH:
        factor = math.ceil(MIN_IMAGE_WIDTH / width)
        return width * factor, height * factor
    if width > MAX_IMAGE_WIDTH:
        return MAX_IMAGE_WIDTH, max(1, round(height * MAX_IMAGE_WIDTH / width))
    return width, height


def _line_scale(image_width: int) -> int:
    return max(1, round(image_width / LINE_SCALE_WIDTH))


def display_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A recorded frame at the pictures' size: integer enlargement by nearest neighbour, reduction by area."""
    if frame.shape[1] == size[0]:
        return frame
    shrink = frame.shape[1] > size[0]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_NEAREST)


def resize_map(display_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A [0, 1] map at model resolution drawn over the whole picture (the inverse stretch):
    bilinear resampling to `size` (width, height); stays in [0, 1]."""
    return cv2.resize(display_map, size, interpolation=cv2.INTER_LINEAR)


COLOUR_MAPS = {"inferno": cv2.COLORMAP_INFERNO}  # a descriptor's `colour_map` -> OpenCV's colour map


def overlay(base: np.ndarray, display_map: np.ndarray, colour_map: str = "inferno") -> np.ndarray:
    """Heat in `colour_map` (inferno unless a map's descriptor names another) blended over the
    frame, opacity growing with the map value."""
    heat_bgr = cv2.applyColorMap(np.rint(display_map * 255).astype(np.uint8), COLOUR_MAPS[colour_map])
    heat = cv2.cvtColor(heat_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (MAX_OVERLAY_ALPHA * display_map)[..., None]
    return np.rint(base.astype(np.float32) * (1 - alpha) + heat * alpha).astype(np.uint8)


def _display_maps(descriptor: MethodDescriptor, maps: np.ndarray, scale: Scale) -> np.ndarray:
    """A method's raw maps scaled to [0, 1] for display, capped at its percentile when it has one."""
    if descriptor.display_cap_percentile is not None:
        maps = np.minimum(maps, np.percentile(maps, descriptor.display_cap_percentile))
    return normalise(maps, scale)


def _map_image(
    base: np.ndarray, display_map: np.ndarray, styles: list[ContourStyle], located: bool, colour_map: str
) -> np.ndarray:
    """Heat overlay plus iso-contours at the clip's shared levels (`styles`; none for a map drawn
    without contours), lowest level drawn first; a map that singles out no region gets no contours
    and the mark `UNLOCALISED_MARK`."""
    upsampled = resize_map(display_map, (base.shape[1], base.shape[0]))
    image = overlay(base, upsampled, colour_map)
    if not located:
        return _mark_unlocalised(image)
    contours = frame_contours(upsampled, [s.level for s in styles])
    for style in styles:
        found = contours[style.level]
        cv2.drawContours(image, found, -1, OUTLINE_RGB, style.thickness + 2, cv2.LINE_AA)
        cv2.drawContours(image, found, -1, style.rgb, style.thickness, cv2.LINE_AA)
    return image


UNLOCALISED_MARK = "\u2205"  # the empty-set sign: this map singles out no region (the caption says so in words)


def _mark_unlocalised(image: np.ndarray) -> np.ndarray:
    """Draw `UNLOCALISED_MARK` in a white box at the picture's top left (in place)."""
    size = max(12, round(image.shape[1] / 32))
    draw_text(image, UNLOCALISED_MARK, (0, 0), size, bold=True, background=(255, 255, 255), pad=max(4, size // 3))
    return image


def _columns(count: int, aspect: float, row_span: float) -> int:
    """Columns for `count` tiles of width/height `aspect` so that a row is at most `row_span` tile
    heights wide and GRID_COLUMNS tiles (at least one tile), with rows as evenly filled as possible."""
    widest = max(1, min(GRID_COLUMNS, math.floor(row_span / aspect)))
    rows = math.ceil(count / widest)
    return math.ceil(count / rows)


def _tile_sheet(images: Sequence[np.ndarray], height: int, columns: int) -> np.ndarray:
    """Images scaled to `height` px, laid out `columns` to a row, each numbered by its position
    in a white band below it."""
    tiles = [labelled_tile(image, height, str(t)) for t, image in enumerate(images)]
    width = min(columns, len(tiles))
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % width)  # blank tiles fill the last row
    rows = [join_images(tiles[start : start + width], axis=1) for start in range(0, len(tiles), width)]
    return join_images(rows, axis=0)


def labelled_tile(image: np.ndarray, height: int, label: str) -> np.ndarray:
    source_height, source_width = image.shape[:2]
    size = (max(1, round(source_width * height / source_height)), height)
    shrink = cv2.INTER_AREA if source_height > height else cv2.INTER_NEAREST
    band = np.full((TILE_BAND, size[0], 3), 255, np.uint8)
    draw_text(band, label, (4, 1), TILE_BAND - 4)
    return np.vstack([cv2.resize(image, size, interpolation=shrink), band])


def join_images(parts: list[np.ndarray], axis: int) -> np.ndarray:
    """Concatenate along `axis` with a 2 px white gap between parts."""
    gap_shape = list(parts[0].shape)
    gap_shape[axis] = 2
    gap = np.full(gap_shape, 255, np.uint8)
    return np.concatenate([piece for part in parts for piece in (part, gap)][:-1], axis=axis)


_LEGEND_WIDTH = 560
BAR_LEFT, BAR_TOP, BAR_WIDTH, BAR_HEIGHT = 24, 16, 512, 36  # the legend's colour bar, px (2 px per grey level)
_LEGEND_TEXT = 18  # px


def _legend_image(styles: list[ContourStyle]) -> np.ndarray:
    """The colour scale, then one row per contour level, in numbers only: the caption under the
    legend says in words what they measure and of which maximum (`captions.legend_caption`).

    The colour bar is the heat of the overlays (same colormap, same opacity rule) over a mid-grey
    frame, from 0 to 100 % of the scale's maximum, with the contour levels marked on it in their
    styles; each contour row shows a sample line on a mid-grey swatch and its level.
    """
    top, bar_height, row = BAR_TOP, BAR_HEIGHT, 40
    image = np.full((top + bar_height + 44 + row * len(styles), _LEGEND_WIDTH, 3), 255, np.uint8)
    ramp = np.tile(np.linspace(0.0, 1.0, BAR_WIDTH, dtype=np.float32), (bar_height, 1))
    grey = np.full((bar_height, BAR_WIDTH, 3), 128, np.uint8)
    image[top : top + bar_height, BAR_LEFT : BAR_LEFT + BAR_WIDTH] = overlay(grey, ramp)
    for style in styles:
        x = _bar_x(style.level)
        _sample_line(image, (x, top - 4), (x, top + bar_height + 3), style)
    for value in SCALE_TICKS:
        x = _bar_x(value)
        cv2.line(image, (x, top + bar_height), (x, top + bar_height + 8), (0, 0, 0), 2)
        label = f"{value:.0%}".replace("%", " %")
        width, _ = text_size(label, _LEGEND_TEXT)
        _text(image, label, (x - width // 2, top + bar_height + 12))
    for i, style in enumerate(styles):
        y = top + bar_height + 44 + i * row
        cv2.rectangle(image, (BAR_LEFT, y), (BAR_LEFT + 100, y + row - 8), (128, 128, 128), -1)
        middle = y + (row - 8) // 2
        _sample_line(image, (BAR_LEFT + 10, middle), (BAR_LEFT + 90, middle), style)
        level = f"{style.level:.0%}".replace("%", " %")
        _text(image, level, (BAR_LEFT + 116, middle - _LEGEND_TEXT // 2 - 2))
    return image


def _bar_x(value: float) -> int:
    """The colour bar's column of a share of the maximum."""
    return BAR_LEFT + round(value * (BAR_WIDTH - 1))


def _sample_line(image: np.ndarray, start: tuple[int, int], end: tuple[int, int], style: ContourStyle) -> None:
    cv2.line(image, start, end, OUTLINE_RGB, style.thickness + 2, cv2.LINE_AA)
    cv2.line(image, start, end, style.rgb, style.thickness, cv2.LINE_AA)


def _text(image: np.ndarray, text: str, origin: tuple[int, int]) -> None:
    """The legend's text, its top-left corner at `origin`, kept inside the legend."""
    draw_text(image, text, origin, _LEGEND_TEXT)


def write_picture(out_dir: Path, picture: Picture) -> ImageArtifact:
    """Write `picture` into `out_dir`/images atomically: PNG for drawn graphics, JPEG otherwise."""
    folder = Path(out_dir) / IMAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = picture.stem + (PNG_SUFFIX if picture.kind in DRAWN_KINDS else JPEG_SUFFIX)
    data = encode_picture(picture.rgb, lossless=picture.kind in DRAWN_KINDS)
    atomic_write_bytes(folder / name, data)
    return ImageArtifact(f"{IMAGES_DIR}/{name}", picture.kind, picture.frame, sha256_bytes(data))


def encode_picture(rgb: np.ndarray, *, lossless: bool) -> bytes:
    """PNG (`lossless`) or baseline JPEG at PICTURE_QUALITY without chroma subsampling; the same
    pixels always give the same bytes (no time or other metadata is written)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ReportError(f"a picture must be (H, W, 3) uint8 RGB, not {rgb.shape} {rgb.dtype}; report this as a bug")
    out = io.BytesIO()
    if lossless:
        Image.fromarray(rgb).save(out, format="PNG", compress_level=6)
    else:
        Image.fromarray(rgb).save(out, format="JPEG", quality=PICTURE_QUALITY, subsampling=0, optimize=True)
    return out.getvalue()
