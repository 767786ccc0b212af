"""Display scaling and iso-contours of explanation maps (DESIGN section 2, "Contours").

Raw maps stay unnormalised in the evidence; `normalise` makes the display copy. Contours are
drawn at fixed levels shared by every frame of a clip, so with the default per-clip scale a
contour at 0.5 means the same intensity in every frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import cv2
import numpy as np

from auditor.errors import ModelError

DEFAULT_LEVELS = (0.25, 0.5, 0.75, 0.9)

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
