"""Synthetic surveillance-like clips with known object boxes, for the demo model and tests.

A fixed, seeded camera view in muted colours (wall, floor, static furniture, texture) with
per-frame sensor noise, and moving person-like figures in vivid clothing:

- "normal": one figure walking slowly or, in a third of the clips, resting on the floor (so that
  a figure lying down is not by itself evidence of a fall: the fall is the transition);
- "fight": two figures close together with abrupt, fast, jittery motion and punching arms;
- "fall": one figure walks, then topples to horizontal within a few frames and stays down,
  stirring (limbs moving) without getting up.

`make_still_clip` adds a figure standing motionless (labelled "normal"; not in the training set).

`boxes[t] = (x0, y0, x1, y1)` encloses the moving figure(s) of frame t, end-exclusive, so
`frames[t, y0:y1, x0:x1]` holds every pixel they cover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from auditor.demo_settings import CLASS_NAMES

RESTING_SHARE = 1 / 3  # share of "normal" clips showing a person resting on the floor
_SHIFT = 4  # sub-pixel bits for OpenCV drawing, so slow motion is smooth
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class SyntheticClip:
    """One generated clip with the box of its moving figure(s) in every frame."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    boxes: np.ndarray  # (T, 4) int32 (x0, y0, x1, y1), end-exclusive
    label: str


@dataclass(frozen=True)
class _Pose:
    """Where and how one figure is drawn in one frame."""

    x: float  # feet centre, pixels
    y: float
    height: float
    angle: float = 0.0  # radians, 0 upright, +pi/2 lying with the head to the right
    stride: float = 0.0  # leg swing, -1..1
    arm: float = 0.0  # 0 arms down, 1 fully stretched sideways (punch); sign = side


@dataclass(frozen=True)
class _Look:
    """Colours of one figure."""

    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]


def make_clip(label: str, seed: int, frames: int = 16, size: int = 64) -> SyntheticClip:
    """A clip of class `label` (one of CLASS_NAMES); the same seed gives the same clip."""
    if label not in CLASS_NAMES:
        raise ValueError(f"label {label!r} is not one of {CLASS_NAMES}")
    if frames < 4 or size < 32:
        raise ValueError("a clip needs at least 4 frames of at least 32x32 pixels")
    rng = np.random.default_rng(seed)
    background, horizon = _background(rng, size)
    motion = {"normal": _walk_poses, "fight": _fight_poses, "fall": _fall_poses}[label]
    tracks = motion(rng, frames, size, horizon)
    looks = [_look(rng) for _ in tracks]
    images, boxes = [], []
    for t in range(frames):
        image, mask = background.copy(), np.zeros((size, size), np.uint8)
        for track, look in zip(tracks, looks, strict=True):
            _draw_figure(image, mask, track[t], look)
        images.append(_sensor_noise(image, rng))
        boxes.append(_mask_box(mask))
    return SyntheticClip(np.stack(images), np.asarray(boxes, np.int32), label)


def make_still_clip(seed: int, frames: int = 16, size: int = 64) -> SyntheticClip:
    """A "normal" clip of one figure standing in the same pose in every frame: only the sensor
    noise differs between frames (no motion at all); the same seed gives the same clip."""
    if frames < 4 or size < 32:
        raise ValueError("a clip needs at least 4 frames of at least 32x32 pixels")
    rng = np.random.default_rng(seed)
    background, horizon = _background(rng, size)
    x, y, height = _start(rng, size, horizon, 0.15)
    image, mask = background.copy(), np.zeros((size, size), np.uint8)
    _draw_figure(image, mask, _Pose(x, y, height), _look(rng))
    images = [_sensor_noise(image, rng) for _ in range(frames)]
    return SyntheticClip(np.stack(images), np.tile(np.asarray(_mask_box(mask), np.int32), (frames, 1)), "normal")


def make_dataset(
    n_per_class: int, seed: int, frames: int = 16, size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` clips of every class in seeded random order: x (N,T,H,W,3) uint8, y (N,) int."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), n_per_class)
    rng.shuffle(labels)
    clip_seeds = rng.integers(0, 2**62, size=labels.size)
    x = np.empty((labels.size, frames, size, size, 3), np.uint8)
    for i, (label, clip_seed) in enumerate(zip(labels, clip_seeds, strict=True)):
        x[i] = make_clip(CLASS_NAMES[label], int(clip_seed), frames, size).frames
    return x, labels.astype(np.int64)


# --- scene -------------------------------------------------------------------------------


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """A static camera view in muted colours: wall, floor with tiles, furniture, texture."""
    horizon = int(size * rng.uniform(0.28, 0.42))
    image = np.empty((size, size, 3), np.float32)
    image[:horizon] = _muted(rng, 110, 210)
    image[horizon:] = _muted(rng, 70, 160)
    rows = np.linspace(0.85, 1.1, size, dtype=np.float32)[:, None, None]
    image = image * rows + _low_frequency_texture(rng, size, amplitude=10.0)
    canvas = np.clip(image, 0, 255).astype(np.uint8)
    _draw_floor_lines(canvas, rng, horizon)
    _draw_wall_items(canvas, rng, horizon)
    _draw_furniture(canvas, rng, horizon)
    return canvas, horizon


RGB = tuple[int, int, int]


def _rgb(values: np.ndarray) -> RGB:
    red, green, blue = (int(c) for c in values)
    return red, green, blue


def _colour(rng: np.random.Generator, low: int, high: int) -> RGB:
    return _rgb(rng.integers(low, high, size=3))


def _muted(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    """A greyish paint or floor colour: a grey level with a slight tint."""
    grey = rng.uniform(low, high)
    return _rgb(np.clip(grey + rng.normal(0.0, 10.0, size=3), 0, 255))


def _low_frequency_texture(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    coarse = rng.normal(0.0, amplitude, size=(6, 6, 3)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _draw_floor_lines(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    """Perspective tile seams converging above the image."""
    size = canvas.shape[0]
    shade = tuple(int(c) for c in np.clip(canvas[-1, size // 2].astype(int) - 25, 0, 255))
    vanish_x = rng.uniform(0.2, 0.8) * size
    for k in range(-3, 5):
        x_bottom = vanish_x + k * size * rng.uniform(0.25, 0.32)
        cv2.line(canvas, _pt(vanish_x + (x_bottom - vanish_x) * 0.3, horizon), _pt(x_bottom, size), shade, 1, cv2.LINE_AA, _SHIFT)
    for frac in (0.35, 0.7):
        y = horizon + (size - horizon) * frac
        cv2.line(canvas, _pt(0, y), _pt(size, y), shade, 1, cv2.LINE_AA, _SHIFT)


def _draw_wall_items(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    """A door or window and a skirting board."""
    size = canvas.shape[0]
    for _ in range(int(rng.integers(1, 3))):
        w, h = rng.uniform(0.1, 0.25) * size, rng.uniform(0.5, 0.9) * horizon
        x = rng.uniform(0, size - w)
        top = horizon - h if rng.random() < 0.5 else rng.uniform(0, horizon - h)
        cv2.rectangle(canvas, _pt(x, top), _pt(x + w, horizon - 1), _muted(rng, 40, 230), -1, cv2.LINE_AA, _SHIFT)
    cv2.line(canvas, _pt(0, horizon), _pt(size, horizon), _colour(rng, 20, 90), 1, cv2.LINE_AA, _SHIFT)


def _draw_furniture(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    """Benches, bins and plant pots standing on the floor."""
    size = canvas.shape[0]
    for _ in range(int(rng.integers(2, 5))):
        w, h = rng.uniform(0.06, 0.22) * size, rng.uniform(0.05, 0.16) * size
        x, base = rng.uniform(0, size - w), rng.uniform(horizon + 2, size)
        colour = _muted(rng, 30, 220)
        if rng.random() < 0.5:
            cv2.rectangle(canvas, _pt(x, base - h), _pt(x + w, base), colour, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.ellipse(canvas, _pt(x + w / 2, base - h / 2), (int(w / 2 * _ONE), int(h / 2 * _ONE)), 0, 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)


def _sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise and a small global flicker."""
    noisy = image.astype(np.float32) + rng.normal(0.0, 3.0, image.shape) + rng.normal(0.0, 2.0)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# --- figures -----------------------------------------------------------------------------


def _look(rng: np.random.Generator) -> _Look:
    tone = rng.uniform(0.45, 1.0)
    skin = _rgb(np.array([235, 190, 160]) * tone)
    return _Look(shirt=_vivid(rng), trousers=_muted(rng, 15, 110), skin=skin)


def _vivid(rng: np.random.Generator) -> tuple[int, int, int]:
    """A saturated clothing colour of random hue."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(150, 255), rng.uniform(110, 255)]]], np.uint8)
    return _rgb(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _height(rng: np.random.Generator, foot_y: float, horizon: int, size: int) -> float:
    """Figure height in pixels, larger nearer the camera (lower in the image)."""
    depth = (foot_y - horizon) / max(size - horizon, 1)
    return size * rng.uniform(0.26, 0.32) * (0.7 + 0.4 * depth)


def _draw_figure(image: np.ndarray, mask: np.ndarray, pose: _Pose, look: _Look) -> None:
    """Legs, torso, arms and head of one figure, into `image` and (as 255) into `mask`."""
    h = pose.height
    limb = max(h * 0.11, 1.2)
    swing = 0.16 * h * pose.stride
    parts: list[tuple[list[tuple[float, float]], tuple[int, int, int]]] = [
        (_bar((-0.07 * h, 0.46 * h), (-0.07 * h + swing, 0.0), limb), look.trousers),
        (_bar((0.07 * h, 0.46 * h), (0.07 * h - swing, 0.0), limb), look.trousers),
        (_box(-0.15 * h, 0.44 * h, 0.15 * h, 0.8 * h), look.shirt),
    ]
    reach = 0.15 * h + 0.3 * h * abs(pose.arm)
    side = 1.0 if pose.arm >= 0 else -1.0
    hand = (side * reach, 0.76 * h - 0.3 * h * (1 - abs(pose.arm)))
    parts.append((_bar((side * 0.12 * h, 0.76 * h), hand, limb * 0.9), look.shirt))
    parts.append((_bar((-side * 0.13 * h, 0.76 * h), (-side * 0.17 * h, 0.5 * h), limb * 0.9), look.shirt))
    for polygon, colour in parts:
        points = _to_image(polygon, pose)
        cv2.fillConvexPoly(image, points, colour, cv2.LINE_AA, _SHIFT)
        cv2.fillConvexPoly(mask, points, 255, cv2.LINE_AA, _SHIFT)
    head = _to_image([(0.0, 0.9 * h)], pose)[0]
    radius = int(max(0.1 * h, 1.5) * _ONE)
    cv2.circle(image, tuple(int(v) for v in head), radius, look.skin, -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(mask, tuple(int(v) for v in head), radius, 255, -1, cv2.LINE_AA, _SHIFT)


def _bar(a: tuple[float, float], b: tuple[float, float], width: float) -> list[tuple[float, float]]:
    """A rectangle of `width` from a to b, in figure coordinates (u right, v up from the feet)."""
    du, dv = b[0] - a[0], b[1] - a[1]
    norm = math.hypot(du, dv) or 1.0
    nu, nv = -dv / norm * width / 2, du / norm * width / 2
    return [(a[0] + nu, a[1] + nv), (b[0] + nu, b[1] + nv), (b[0] - nu, b[1] - nv), (a[0] - nu, a[1] - nv)]


def _box(u0: float, v0: float, u1: float, v1: float) -> list[tuple[float, float]]:
    return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def _to_image(points: list[tuple[float, float]], pose: _Pose) -> np.ndarray:
    """Figure coordinates -> fixed-point image coordinates, rotated about the feet."""
    c, s = math.cos(pose.angle), math.sin(pose.angle)
    out = [(pose.x + u * c + v * s, pose.y + u * s - v * c) for u, v in points]
    return np.rint(np.asarray(out) * _ONE).astype(np.int32)


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * _ONE), round(y * _ONE)


# --- motion ------------------------------------------------------------------------------


def _start(rng: np.random.Generator, size: int, horizon: int, margin: float) -> tuple[float, float, float]:
    """A feet position and height that keep the whole figure inside the frame."""
    y = rng.uniform(horizon + 0.3 * (size - horizon), size - 2)
    height = _height(rng, y, horizon, size)
    return rng.uniform(margin * size, (1 - margin) * size), y, height


def _walk(rng: np.random.Generator, frames: int, size: int, horizon: int) -> list[_Pose]:
    """A slow walk (0.4-1 px per frame) that stays inside the frame."""
    x, y, height = _start(rng, size, horizon, 0.15)
    speed, drift = rng.uniform(0.4, 1.0), rng.uniform(-0.15, 0.15)
    direction = 1.0 if x < size / 2 else -1.0
    phase, cadence = rng.uniform(0, 2 * math.pi), rng.uniform(0.6, 0.9)
    return [
        _Pose(x + direction * speed * t, y + drift * t, height, stride=math.sin(phase + cadence * t), arm=0.1 * math.sin(phase + cadence * t))
        for t in range(frames)
    ]


def _walk_poses(rng: np.random.Generator, frames: int, size: int, horizon: int) -> list[list[_Pose]]:
    """A slow walk or, with probability RESTING_SHARE, a figure resting on the floor."""
    walk = _walk(rng, frames, size, horizon)
    if rng.random() >= RESTING_SHARE:
        return [walk]
    at = walk[0]
    side = 1.0 if at.x < size / 2 else -1.0
    return [[_Pose(at.x, at.y, at.height, angle=side * math.pi / 2, stride=0.3) for _ in range(frames)]]


def _fight_poses(rng: np.random.Generator, frames: int, size: int, horizon: int) -> list[list[_Pose]]:
    """Two figures facing each other, jumping, leaning and punching at random every frame."""
    x, y, height = _start(rng, size, horizon, 0.25)
    gap = height * rng.uniform(0.3, 0.5)
    tracks: list[list[_Pose]] = [[], []]
    for _ in range(frames):
        centre = x + rng.normal(0.0, 1.5)
        for side, track in zip((-1.0, 1.0), tracks, strict=False):
            track.append(
                _Pose(
                    x=centre + side * gap / 2 + rng.normal(0.0, 1.8),
                    y=y + rng.normal(0.0, 1.0),
                    height=height,
                    angle=-side * rng.uniform(0.0, 0.45),
                    stride=rng.uniform(-1.0, 1.0),
                    arm=-side * rng.uniform(0.3, 1.0),
                )
            )
    return tracks


def _fall_poses(rng: np.random.Generator, frames: int, size: int, horizon: int) -> list[list[_Pose]]:
    """A walk, then a topple to horizontal over 2-3 frames, then stirring on the floor without getting up.

    A person resting on the floor ("normal") lies still: what tells a fall apart is the
    topple and the struggle afterwards, not lying down as such.
    """
    walk = _walk(rng, frames, size, horizon)
    onset = int(rng.integers(1, max(2, frames // 4)))
    duration = int(rng.integers(2, 4))
    at = walk[onset]
    side = 1.0 if at.x < size / 2 else -1.0  # fall towards the middle, so the figure stays in view
    poses = walk[: onset + 1]
    for t in range(onset + 1, frames):
        progress = min((t - onset) / duration, 1.0) ** 1.5
        down = progress >= 1.0  # on the floor: the person stirs (legs and arms move) but does not get up
        stride = rng.uniform(-1.0, 1.0) if down else 0.3 * progress
        arm = rng.uniform(-1.0, 1.0) if down else 0.0
        poses.append(_Pose(at.x, at.y, at.height, angle=side * progress * math.pi / 2, stride=stride, arm=arm))
    return [poses]
