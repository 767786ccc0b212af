"""Region edits of a clip (`counterfactual`): the Grad-CAM components a region edit is made of,
stretched to recorded pixels, and the blur whose values replace those pixels. The blur is stated
in full (`BlurRule`), so the replacement values can be recomputed with plain OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from auditor.explain.contours import DEFAULT_LEVELS, Scale, normalise

BLUR_SIGMA_SHARE = 0.05  # Gaussian sigma of a region blur, as a share of the frame's longer side
DILATION_CELLS = 0.5  # region masks grow by this many Grad-CAM cells (at least 1 pixel)
REGION_SCALE: Scale = "frame"  # Grad-CAM normalised per frame before thresholding (counterfactual doc)


@dataclass(frozen=True)
class BlurRule:
    """How a region's replacement values are computed from a recorded frame (H, W, 3) uint8: with
    f = `factor` > 1, cv2.resize to (round(W / f), round(H / f)) with INTER_AREA, cv2.GaussianBlur
    with ksize (0, 0) and sigma / f (BORDER_REFLECT_101), cv2.resize back to (W, H) with
    INTER_LINEAR; with f = 1, the Gaussian blur alone at full size."""

    sigma: float  # pixels of the recorded frame
    factor: int
    border: str = "BORDER_REFLECT_101"


@dataclass(frozen=True, eq=False)
class Component:
    level: float
    cells: np.ndarray  # (T, h, w) bool at map resolution
    share: float  # of the recorded pixels, once stretched and dilated


def components(gradcam: np.ndarray, size: tuple[int, int], max_area: float) -> list[Component]:
    """The Grad-CAM components at every contour level (lowest first) whose stretched, dilated
    pixels cover at most `max_area` of the clip; a mask found at a lower level is not repeated."""
    display = normalise(gradcam, REGION_SCALE)
    found: dict[bytes, Component] = {}
    for level in sorted(DEFAULT_LEVELS):
        labels = components_3d(display >= level)
        for label in range(1, int(labels.max(initial=0)) + 1):
            cells = labels == label
            if cells.tobytes() in found:
                continue
            share = float(region_pixels(cells, size).mean())
            if share <= max_area:
                found[cells.tobytes()] = Component(float(level), cells, share)
    return list(found.values())


def components_3d(volume: np.ndarray) -> np.ndarray:
    """Labels (T, h, w) int of the 26-connected components of a bool volume; 0 = background,
    1 … n numbered by first cell in (t, y, x) order."""
    labels, _ = ndimage.label(volume, structure=np.ones((3, 3, 3), bool))
    return np.asarray(labels, dtype=np.int64)


def region_pixels(mask: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """A map-resolution mask (T, h, w) bool stretched to recorded frames (T, H, W) bool: bilinear
    resize kept where ≥ 0.5, then dilated by a square of `DILATION_CELLS` map cells on each side
    (at least 1 pixel)."""
    height, width = size[:2]
    cell = max(height / mask.shape[1], width / mask.shape[2])
    radius = max(1, round(DILATION_CELLS * cell))
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    pixels = np.zeros((len(mask), height, width), bool)
    for t in np.flatnonzero(mask.any(axis=(1, 2))):
        stretched = cv2.resize(mask[t].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
        pixels[t] = cv2.dilate(stretched.astype(np.uint8), kernel) > 0
    return pixels


def blur_rule(height: int, width: int) -> BlurRule:
    """The region blur of frames of this size: sigma `BLUR_SIGMA_SHARE` × the longer side; a large
    sigma applied at 1/f of the size, f = max(1, floor(sigma / 4)) (the same low-pass, in
    milliseconds instead of seconds)."""
    sigma = BLUR_SIGMA_SHARE * max(height, width)
    return BlurRule(sigma=sigma, factor=max(1, int(sigma // 4)))


def blurred_clip(recorded: np.ndarray) -> np.ndarray:
    """Every frame blurred per `blur_rule` of its size."""
    height, width = recorded.shape[1:3]
    rule = blur_rule(height, width)
    small = (max(1, round(width / rule.factor)), max(1, round(height / rule.factor)))
    frames = []
    for frame in recorded:
        reduced = cv2.resize(frame, small, interpolation=cv2.INTER_AREA) if rule.factor > 1 else frame
        blurred = cv2.GaussianBlur(reduced, (0, 0), rule.sigma / rule.factor, borderType=cv2.BORDER_REFLECT_101)
        frames.append(cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR) if rule.factor > 1 else blurred)
    return np.stack(frames)


