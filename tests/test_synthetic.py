"""Synthetic clips: determinism, boxes, class-specific motion."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.synthetic import CLASS_NAMES, SyntheticClip, make_clip, make_dataset

CHANGE = 40  # per-channel change between frames far above the sensor noise (sigma about 5)


def _centres(clip: SyntheticClip) -> np.ndarray:
    b = clip.boxes.astype(float)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)


def _aspect(clip: SyntheticClip) -> np.ndarray:
    """Box height / width per frame."""
    b = clip.boxes
    return (b[:, 3] - b[:, 1]) / (b[:, 2] - b[:, 0])


def _resting(clip: SyntheticClip) -> bool:
    """Lying (wider than tall) and still in every frame."""
    return bool(np.all(_aspect(clip) < 1) and np.all(clip.boxes == clip.boxes[0]))


def _mean_step(clip: SyntheticClip) -> float:
    """Mean frame-to-frame displacement of the box centre, in pixels."""
    return float(np.linalg.norm(np.diff(_centres(clip), axis=0), axis=1).mean())


@pytest.mark.parametrize("label", CLASS_NAMES)
def test_same_seed_same_clip_and_different_seed_different_clip(label: str) -> None:
    a, b, c = make_clip(label, 3), make_clip(label, 3), make_clip(label, 4)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.frames, c.frames)
    assert a.frames.shape == (16, 64, 64, 3) and a.frames.dtype == np.uint8
    assert a.boxes.shape == (16, 4) and a.boxes.dtype == np.int32 and a.label == label


def test_size_and_length_are_honoured() -> None:
    clip = make_clip("fall", 0, frames=8, size=48)
    assert clip.frames.shape == (8, 48, 48, 3) and clip.boxes.shape == (8, 4)
    with pytest.raises(ValueError):
        make_clip("run", 0)


@pytest.mark.parametrize("label", CLASS_NAMES)
def test_boxes_lie_inside_frames_and_hold_every_moving_pixel(label: str) -> None:
    for seed in range(6):
        clip = make_clip(label, seed)
        x0, y0, x1, y1 = clip.boxes.T
        assert np.all((x0 >= 0) & (x0 < x1) & (x1 <= 64) & (y0 >= 0) & (y0 < y1) & (y1 <= 64))
        assert np.all((y1 - y0 >= 4) & (y1 - y0 <= 40) & (x1 - x0 <= 48))
        changed_in_boxes = 0
        for t in range(len(clip.frames) - 1):
            change = np.abs(clip.frames[t + 1].astype(int) - clip.frames[t].astype(int)).max(axis=-1) > CHANGE
            inside = np.zeros_like(change)
            for bx0, by0, bx1, by1 in clip.boxes[t : t + 2]:
                inside[by0:by1, bx0:bx1] = True
            assert not np.any(change & ~inside), f"{label} seed {seed}: change outside the boxes at frame {t}"
            changed_in_boxes += int(change.sum())
        assert changed_in_boxes > 20 or _resting(clip)


def test_classes_differ_in_motion() -> None:
    seeds = range(8)
    walk = np.mean([_mean_step(make_clip("normal", s)) for s in seeds])
    fight = np.mean([_mean_step(make_clip("fight", s)) for s in seeds])
    assert walk < 1.5 and fight > 2 * walk
    for seed in seeds:
        normal, fall = make_clip("normal", seed), make_clip("fall", seed)
        assert np.all(_aspect(normal) > 1) or _resting(normal)  # walking upright, or lying still throughout
        assert _aspect(fall)[0] > 1 > _aspect(fall)[-1]  # upright, then lying
        assert np.all(_aspect(fall)[-4:] < 1)  # stays down


def test_normal_clips_include_people_resting_on_the_floor() -> None:
    resting = [_resting(make_clip("normal", seed)) for seed in range(30)]
    assert 3 <= sum(resting) <= 20  # about a third: lying down alone is not a fall


def test_make_dataset_is_balanced_shuffled_and_seeded() -> None:
    x, y = make_dataset(4, seed=11, frames=8, size=32)
    x2, y2 = make_dataset(4, seed=11, frames=8, size=32)
    assert x.shape == (12, 8, 32, 32, 3) and x.dtype == np.uint8
    assert np.bincount(y, minlength=3).tolist() == [4, 4, 4]
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(y, np.sort(y))
    assert not np.array_equal(x, make_dataset(4, seed=12, frames=8, size=32)[0])
