"""Bystander masking (data minimisation, GDPR Art. 5(1)(c)): faces are blurred in report images.

`find_faces` runs OpenCV's Haar cascades on every frame: the frontal face cascade, and the profile
cascade on the frame and on its mirror image (the profile cascade knows one side only). Each frame
is converted to grey (no histogram equalisation: it made the cascades fire on plain synthetic
scenes) and resized by `detection_scale` for detection: frames
whose shorter side is below `min_short_side` are enlarged up to it, frames whose longer side is
above `max_side` are reduced to it. Boxes found by both cascades (IoU ≥ `merge_iou`) are kept once
(the larger). Each box is enlarged by `margin` of its width and height on every side and clipped
to the frame: (x0, y0, x1, y1) in frame pixels, end-exclusive.

`mask_faces` pixelates each box to `cells` cells across its shorter side (area average), resizes
that back bilinearly and blurs it with a Gaussian of sigma `blur_share` of the box's shorter side;
no pixel outside the boxes changes. The explanation itself is computed on the unmasked frames:
masking applies to the images shown in the report only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import cv2.data
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, end-exclusive
FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"
METHOD = "pixelate + gaussian blur"


@dataclass(frozen=True)
class MaskSettings:
    """Detection and blurring parameters."""

    scale_factor: float = 1.2  # cascade pyramid step
    min_neighbors: int = 5  # overlapping hits a face needs
    min_face: int = 24  # smallest face searched, px at detection scale (the cascades' window)
    min_short_side: int = 240  # smaller frames are enlarged to this for detection
    max_side: int = 2000  # larger frames are reduced to this for detection
    merge_iou: float = 0.5  # a frontal and a profile box this similar are one face
    margin: float = 0.25  # box enlargement on each side, share of its width / height
    cells: int = 6  # pixelation cells across the box's shorter side
    blur_share: float = 0.15  # Gaussian sigma, share of the box's shorter side


DEFAULT_SETTINGS = MaskSettings()


@dataclass(frozen=True)
class FaceMasking:
    """The faces found in every frame and how `mask_faces` blurs them."""

    cascades: tuple[str, ...]  # cascade files (from cv2.data.haarcascades); profile also mirrored
    boxes: tuple[tuple[Box, ...], ...]  # per frame, enlarged by the margin
    method: str
    settings: MaskSettings
    detection_scale: float  # factor the frames were resized by for detection

    @property
    def count(self) -> int:
        """Boxes over all frames."""
        return sum(len(frame) for frame in self.boxes)


def find_faces(frames: np.ndarray, settings: MaskSettings = DEFAULT_SETTINGS) -> FaceMasking:
    """The face boxes of every frame of `frames` ((T,H,W,3) uint8 RGB)."""
    _check(frames)
    height, width = frames.shape[1:3]
    scale = detection_scale(height, width, settings)
    frontal, profile = (cv2.CascadeClassifier(cv2.data.haarcascades + name) for name in (FRONTAL, PROFILE))
    if frontal.empty() or profile.empty():
        raise RuntimeError(f"OpenCV's Haar cascades are missing from {cv2.data.haarcascades}")
    boxes = tuple(tuple(_frame_faces(frame, scale, frontal, profile, settings)) for frame in frames)
    return FaceMasking((FRONTAL, PROFILE), boxes, METHOD, settings, scale)


def mask_faces(frames: np.ndarray, masking: FaceMasking) -> np.ndarray:
    """A copy of `frames` with every box of `masking` pixelated and blurred."""
    _check(frames)
    if len(masking.boxes) != frames.shape[0]:
        raise ValueError(f"the masking has {len(masking.boxes)} frames, the clip {frames.shape[0]}")
    masked = frames.copy()
    for t, boxes in enumerate(masking.boxes):
        for x0, y0, x1, y1 in boxes:
            masked[t, y0:y1, x0:x1] = _blurred(frames[t, y0:y1, x0:x1], masking.settings)
    return masked


def spread_in_time(masking: FaceMasking, reach: int = 1) -> FaceMasking:
    """The masking with each frame's boxes also applied to the `reach` frames before and after it,
    so that a face the cascades miss in one frame (turned, blurred by motion) is still masked when
    they find it in a neighbouring frame."""
    count = len(masking.boxes)
    spread = tuple(
        tuple(dict.fromkeys(box for near in range(max(0, t - reach), min(count, t + reach + 1)) for box in masking.boxes[near]))
        for t in range(count)
    )
    return replace(masking, boxes=spread)


def detection_scale(height: int, width: int, settings: MaskSettings = DEFAULT_SETTINGS) -> float:
    """Enlarge to `min_short_side` on the shorter side, never beyond `max_side` on the longer; else 1."""
    return min(max(1.0, settings.min_short_side / min(height, width)), settings.max_side / max(height, width))


def _frame_faces(
    frame: np.ndarray, scale: float, frontal: cv2.CascadeClassifier, profile: cv2.CascadeClassifier, settings: MaskSettings
) -> list[Box]:
    height, width = frame.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    found = [*_detect(frontal, grey, settings), *_detect(profile, grey, settings)]
    found += [(size[0] - x - w, y, w, h) for x, y, w, h in _detect(profile, cv2.flip(grey, 1), settings)]
    boxes = sorted((_to_frame(box, width / size[0], height / size[1]) for box in found), key=lambda b: (-_area(b), b))
    kept: list[Box] = []
    for box in boxes:
        if all(_iou(box, other) < settings.merge_iou for other in kept):
            kept.append(box)
    return sorted(_enlarged(box, settings.margin, width, height) for box in kept)


def _detect(cascade: cv2.CascadeClassifier, grey: np.ndarray, settings: MaskSettings) -> list[tuple[int, int, int, int]]:
    found = cascade.detectMultiScale(
        grey, scaleFactor=settings.scale_factor, minNeighbors=settings.min_neighbors, minSize=(settings.min_face,) * 2
    )
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


def _to_frame(box: tuple[int, int, int, int], sx: float, sy: float) -> Box:
    x, y, w, h = box
    return math.floor(x * sx), math.floor(y * sy), math.ceil((x + w) * sx), math.ceil((y + h) * sy)


def _enlarged(box: Box, margin: float, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    dx, dy = math.ceil(margin * (x1 - x0)), math.ceil(margin * (y1 - y0))
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def _blurred(patch: np.ndarray, settings: MaskSettings) -> np.ndarray:
    """Pixelated to `cells` across the shorter side, resized back bilinearly, Gaussian-blurred."""
    h, w = patch.shape[:2]
    short = min(h, w)
    cells = (max(1, round(settings.cells * w / short)), max(1, round(settings.cells * h / short)))
    coarse = cv2.resize(patch, cells, interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = max(1.0, settings.blur_share * short)
    return cv2.GaussianBlur(smooth, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def _iou(a: Box, b: Box) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _check(frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T,H,W,3) uint8 RGB, got {frames.shape} {frames.dtype}")
