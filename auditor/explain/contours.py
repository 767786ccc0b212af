"""Display scaling and iso-contours of explanation maps (DESIGN section 2, "Contours").

Raw maps stay unnormalised in the evidence; `normalise` makes the display copy. Contours are
drawn at fixed levels shared by every frame of a clip, so with the default per-clip scale a
contour at 0.5 means the same intensity in every frame. A frame whose map singles out no region
(`localised` is false) gets no contours: its lines would only trace the frame border.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import cv2
import numpy as np

from auditor.errors import ModelError

DEFAULT_LEVELS = (0.25, 0.5, 0.75, 0.9)
LOCALISED_MAX_AREA = 0.5  # a localised map has at least half its peak on at most this share of the frame

Scale = Literal["clip", "frame"]


def normalise(maps: np.ndarray, scale: Scale = "clip") -> np.ndarray:
    """Raw non-negative maps (T, h, w) -> float32 in [0, 1], divided by the clip's or each frame's maximum.

    All-zero maps (or frames, with scale="frame") stay zero.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (T, h, w), got {maps.shape}")
    if not np.all(np.isfinite(maps)):
        raise ModelError(
            "the explanation maps hold NaN or infinite values: the model's gradients are not finite for this "
            "clip; check the model (and try TF_ENABLE_ONEDNN_OPTS=0)"
        )
    if np.any(maps < 0):
        raise ValueError("maps must be non-negative (raw Grad-CAM or saliency)")
    if scale == "clip":
        peak = np.full((1, 1, 1), maps.max(initial=0.0), np.float32)
    elif scale == "frame":
        peak = maps.max(axis=(1, 2), keepdims=True, initial=0.0)
    else:
        raise ValueError(f"scale must be 'clip' or 'frame', got {scale!r}")
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)


def strong_area(frame_map: np.ndarray) -> float:
    """The share of the frame where a raw map (h, w) holds at least half its own peak; 0 for a map
    with no positive value."""
    frame_map = np.asarray(frame_map, dtype=np.float64)
    peak = float(frame_map.max(initial=0.0))
    return float((frame_map >= 0.5 * peak).mean()) if peak > 0 else 0.0


def localised(frame_map: np.ndarray) -> bool:
    """Whether a raw map (h, w) of one frame singles out a region of the frame.

    It does when it has a positive peak and the values of at least half that peak cover at most
    `LOCALISED_MAX_AREA` (half) of the frame. One measure covers every way a map can fail to
    point anywhere: a map of zeros has no peak; a flat map, or a nearly flat one (any map whose
    smallest value is at least half its largest), is strong on the whole frame; and a map strong
    on most of the frame names no part of it. Its peak's position is then an accident of the
    arithmetic, and contours at shares of the maximum would trace the frame border. It is measured
    against the frame's own peak, so it describes the map's shape, not its strength (a weak frame
    can be localised). A 1×1 map never localises.
    """
    area = strong_area(frame_map)
    return 0.0 < area <= LOCALISED_MAX_AREA


def frame_contours(
    display_map: np.ndarray, levels: Iterable[float] = DEFAULT_LEVELS
) -> dict[float, list[np.ndarray]]:
    """Iso-contours of one display map (H, W) in [0, 1]: for each level, the outlines of `map >= level`.

    Contours are OpenCV point arrays (N, 1, 2) of (x, y) pixel coordinates, holes included.
    """
    display_map = np.asarray(display_map, dtype=np.float32)
    if display_map.ndim != 2:
        raise ValueError(f"display_map must have shape (H, W), got {display_map.shape}")
    result: dict[float, list[np.ndarray]] = {}
    for level in levels:
        if not 0.0 < level <= 1.0:
            raise ValueError(f"contour level {level} is outside (0, 1]")
        region = (display_map >= level).astype(np.uint8)
        found, _ = cv2.findContours(region, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        result[float(level)] = list(found)
    return result
