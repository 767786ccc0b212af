"""Person grounding: which detected person the Grad-CAM activation lies on, in the key frames.

OpenCV's HOG people detector (Dalal & Triggs; `cv2.HOGDescriptor.getDefaultPeopleDetector`, a
64×128 window) runs on the recorded frames at the key positions. Its window only fits people at
least 128 px tall, so each frame is resized by `upscale_factor`: a person box of
`min_person_share` of the frame height (at least `min_person_pixels` px) reaches 128 px, bounded so that the resized frame's longer
side stays at most `max_side` px (the factor is below 1 for very large frames). Overlapping boxes
are reduced by greedy non-maximum suppression (highest score first, IoU ≥ `nms_iou` dropped); the
boxes are mapped back to recorded pixels (x0, y0, x1, y1), end-exclusive.

Persons across key frames: a frame's boxes are linked to the persons of the earlier key frames
(each person's most recent box) greedily by decreasing IoU, a link needing IoU ≥ `link_iou`;
unlinked boxes start new persons. Ids are 1, 2, … in order of first appearance, left to right
within a frame.

Share of the activation: the raw Grad-CAM map of a frame (model resolution, covering the whole
recorded frame: the frame was stretched to the model's input) is resized bilinearly to the
recorded size and negative values are set to 0. A person's share in a frame is the mass inside
their box divided by the frame's total mass (0 when the frame has no mass); the person's overall
share is Σ mass in box / Σ frame mass over the key frames where the person was detected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in recorded pixels, end-exclusive
HOG_WINDOW_WIDTH, HOG_WINDOW_HEIGHT = 64, 128


@dataclass(frozen=True)
class PersonSettings:
    """Detector, linking and bound parameters."""

    min_person_share: float = 0.15  # smallest person box (share of frame height) the upscale targets
    min_person_pixels: float = 32.0  # ... but never a person shorter than this many recorded pixels
    max_side: int = 2000  # longer side of the resized frame at most this many px
    win_stride: int = 8  # HOG window step, px
    padding: int = 8  # HOG image padding, px
    scale: float = 1.05  # HOG pyramid step
    hit_threshold: float = 0.0  # SVM score a window needs
    nms_iou: float = 0.3  # overlapping boxes above this IoU are suppressed
    link_iou: float = 0.3  # boxes of two key frames are one person from this IoU on
    max_positions: int = 8  # key frames a call may ground


DEFAULT_SETTINGS = PersonSettings()


@dataclass(frozen=True)
class DetectedPerson:
    """One person across the key frames where the detector found them."""

    person_id: int
    boxes: Mapping[int, Box]  # key position -> box
    frame_shares: Mapping[int, float]  # key position -> share of that frame's activation in the box
    share: float  # Σ mass in box / Σ frame mass over the positions in `boxes`


@dataclass(frozen=True)
class PersonGrounding:
    """The persons found in the key frames and their shares of the activation."""

    positions: tuple[int, ...]
    persons: tuple[DetectedPerson, ...]
    upscale: float  # factor the frames were resized by for the detector
    window: tuple[int, int]  # the HOG detector's window, width and height (Dalal-Triggs default SVM)
    frames_without_person: tuple[int, ...]


def ground_persons(
    recorded: np.ndarray, gradcam: np.ndarray, positions: Sequence[int], settings: PersonSettings = DEFAULT_SETTINGS
) -> PersonGrounding:
    """Detect persons in `recorded[positions]` ((T,H,W,3) uint8 RGB) and measure the share of the
    Grad-CAM activation (`gradcam` (T,h,w), raw maps at model resolution) on each."""
    keys = _checked(recorded, gradcam, positions, settings)
    height, width = recorded.shape[1:3]
    factor = upscale_factor(height, width, settings)
    detections = {p: detect_people(recorded[p], factor, settings) for p in keys}
    tracks = link_boxes([detections[p] for p in keys], settings.link_iou)
    masses = {p: _activation(gradcam[p], width, height) for p in keys}
    persons = tuple(_person(i + 1, {keys[k]: box for k, box in track.items()}, masses) for i, track in enumerate(tracks))
    empty = tuple(p for p in keys if not detections[p])
    return PersonGrounding(keys, persons, factor, (HOG_WINDOW_WIDTH, HOG_WINDOW_HEIGHT), empty)


def upscale_factor(height: int, width: int, settings: PersonSettings = DEFAULT_SETTINGS) -> float:
    """128 / max(min_person_share · height, min_person_pixels), bounded so the longer side stays
    ≤ max_side: people too small to see in the recorded frame are not enlarged for."""
    wanted = HOG_WINDOW_HEIGHT / max(settings.min_person_share * height, settings.min_person_pixels)
    return min(wanted, settings.max_side / max(height, width))


def detect_people(frame: np.ndarray, factor: float, settings: PersonSettings = DEFAULT_SETTINGS) -> list[Box]:
    """Person boxes of one RGB frame, after non-maximum suppression, in the frame's pixels."""
    height, width = frame.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_LINEAR)
    if size[0] < HOG_WINDOW_WIDTH or size[1] < HOG_WINDOW_HEIGHT:
        return []
    found, scores = _hog().detectMultiScale(
        image, hitThreshold=settings.hit_threshold, winStride=(settings.win_stride,) * 2,
        padding=(settings.padding,) * 2, scale=settings.scale,
    )
    boxes = [_back(tuple(int(v) for v in b), size, width, height) for b in found]
    kept = non_maximum_suppression(boxes, [float(s) for s in np.ravel(scores)], settings.nms_iou)
    return sorted(kept)


def non_maximum_suppression(boxes: Sequence[Box], scores: Sequence[float], max_iou: float) -> list[Box]:
    """Greedy: highest score first (ties: leftmost, topmost), dropping boxes with IoU ≥ max_iou to a kept one."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], boxes[i]))
    kept: list[Box] = []
    for i in order:
        if all(iou(boxes[i], other) < max_iou for other in kept):
            kept.append(boxes[i])
    return kept


def link_boxes(frames: Sequence[Sequence[Box]], min_iou: float) -> list[dict[int, Box]]:
    """Persons across frames, each {frame index: box}, ids in list order (first appearance, left to right)."""
    tracks: list[dict[int, Box]] = []
    for index, boxes in enumerate(frames):
        last = [track[max(track)] for track in tracks]
        pairs = sorted(
            ((iou(box, prev), b, t) for b, box in enumerate(boxes) for t, prev in enumerate(last)),
            key=lambda pair: (-pair[0], pair[1], pair[2]),
        )
        used_boxes: set[int] = set()
        for overlap, b, t in pairs:
            if overlap >= min_iou and b not in used_boxes and index not in tracks[t]:
                tracks[t][index] = boxes[b]
                used_boxes.add(b)
        new = sorted((boxes[b] for b in range(len(boxes)) if b not in used_boxes), key=lambda box: (box[0], box[1]))
        tracks.extend({index: box} for box in new)
    return tracks


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two end-exclusive boxes."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _person(person_id: int, boxes: dict[int, Box], masses: Mapping[int, np.ndarray]) -> DetectedPerson:
    inside = {p: float(masses[p][y0:y1, x0:x1].sum()) for p, (x0, y0, x1, y1) in boxes.items()}
    totals = {p: float(masses[p].sum()) for p in boxes}
    shares = {p: inside[p] / totals[p] if totals[p] > 0 else 0.0 for p in boxes}
    total = sum(totals.values())
    share = sum(inside.values()) / total if total > 0 else 0.0
    return DetectedPerson(person_id, MappingProxyType(dict(boxes)), MappingProxyType(shares), share)


def _activation(raw: np.ndarray, width: int, height: int) -> np.ndarray:
    """The map resized bilinearly over the whole recorded frame, negatives set to 0 (float64)."""
    upsampled = cv2.resize(np.asarray(raw, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.maximum(upsampled, 0.0).astype(np.float64)


def _back(box: tuple[int, ...], size: tuple[int, int], width: int, height: int) -> Box:
    """A detector box (x, y, w, h) in resized pixels as an end-exclusive box in recorded pixels."""
    x, y, w, h = box
    sx, sy = width / size[0], height / size[1]
    x0, y0 = max(0, math.floor(x * sx)), max(0, math.floor(y * sy))
    x1, y1 = min(width, math.ceil((x + w) * sx)), min(height, math.ceil((y + h) * sy))
    return x0, y0, x1, y1


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _hog() -> cv2.HOGDescriptor:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
    return hog


def _checked(recorded: np.ndarray, gradcam: np.ndarray, positions: Sequence[int], settings: PersonSettings) -> tuple[int, ...]:
    """The key positions, sorted and unique, after checking shapes and bounds."""
    if recorded.ndim != 4 or recorded.shape[3] != 3 or recorded.dtype != np.uint8:
        raise ValueError(f"recorded frames must be (T,H,W,3) uint8, got {recorded.shape} {recorded.dtype}")
    if gradcam.ndim != 3 or gradcam.shape[0] != recorded.shape[0]:
        raise ValueError(f"gradcam maps must be (T,h,w) with T={recorded.shape[0]}, got {gradcam.shape}")
    keys = tuple(sorted({int(p) for p in positions}))
    if len(keys) > settings.max_positions:
        raise ValueError(f"person grounding takes at most {settings.max_positions} key frames, got {len(keys)}")
    if keys and not 0 <= keys[0] <= keys[-1] < recorded.shape[0]:
        raise ValueError(f"key positions {keys} are outside the clip's {recorded.shape[0]} frames")
    return keys
