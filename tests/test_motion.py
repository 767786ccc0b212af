"""Spatial vs motion relevance: the batched static-clip pass against explicit static clips, the
motion shares on the demo model's synthetic clips, and the zero-map edge case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.models import CASES, SIZE, small_cnn

from auditor._tensorflow import keras
from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.explain.motion import motion_parts, motion_relevance, motion_shares, relevant_frames
from auditor.synthetic import make_clip, make_still_clip

TOLERANCE = 1e-4
SEEDS = range(20)  # the share distributions are wide: seeds 0-9 alone give fall/still 2.4x (saliency)


@pytest.fixture(scope="module")
def demo() -> Detector:
    return load_detector(demo_model_path())


def _unfixed_length_gru() -> keras.Model:
    inputs = keras.Input((None, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(small_cnn(), name="td_cnn")(inputs)
    x = keras.layers.GRU(6)(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(x))


def _small_detector(name: str, tmp_path: Path) -> Detector:
    keras.utils.set_random_seed(7)
    path = tmp_path / "model.keras"
    (_unfixed_length_gru() if name == "unfixed_length_gru" else CASES[name].build()).save(path)
    return load_detector(path)


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))


def _check_against_explicit_static_clips(detector: Detector, frames: np.ndarray, positions: list[int]) -> None:
    explanation = detector.explain(frames, frame_importance=())
    motion = motion_relevance(detector, explanation)
    length = len(explanation.frames)
    for t in positions:
        static = np.repeat(explanation.frames[t][np.newaxis], length, axis=0)
        reference = detector.explain(static, target=explanation.target_index, frame_importance=())
        for name in ("gradcam", "saliency"):
            assert motion.spatial_maps[name].shape == explanation.maps[name].shape
            assert _relative_error(motion.spatial_maps[name][t], reference.maps[name][t]) < TOLERANCE, (name, t)
        assert np.allclose(motion.static_probabilities[t], detector.predict(static), atol=1e-5)
        assert np.allclose(motion.static_logits[t], reference.logits, rtol=1e-4, atol=1e-4)
    assert motion.static_probabilities.shape == (length, len(detector.class_names))


def test_batched_spatial_maps_equal_explicit_static_clips_on_the_demo_model(demo: Detector) -> None:
    _check_against_explicit_static_clips(demo, make_clip("fall", 1).frames, [0, 6, 15])


@pytest.mark.parametrize("name", ["lstm", "functional_nested_gru", "unfixed_length_gru"])
def test_batched_spatial_maps_equal_explicit_static_clips_on_small_models(name: str, tmp_path: Path) -> None:
    detector = _small_detector(name, tmp_path)
    rng = np.random.default_rng(3)
    lengths = (4, 6) if detector.frames_per_clip is None else (detector.frames_per_clip,)
    for length in lengths:
        frames = rng.integers(0, 256, (length, 40, 36, 3), dtype=np.uint8)
        _check_against_explicit_static_clips(detector, frames, list(range(length)))


def _shares(detector: Detector, frames: np.ndarray, label: str) -> dict[str, float] | None:
    """Overall shares of a clip the detector classifies as `label` (None otherwise), and whether
    the clip's own target logit beats every static clip's (its decision needs the movement)."""
    explanation = detector.explain(frames, frame_importance=())
    if explanation.target_name != label:
        return None
    motion = motion_relevance(detector, explanation)
    static_best = motion.static_logits[:, explanation.target_index].max()
    return {**motion.overall_shares, "needs_movement": float(explanation.score_value > static_best)}


def test_motion_share_is_high_for_falls_and_low_for_a_standing_figure(demo: Detector) -> None:
    """Measured on seeds 0-19 (overall share, Grad-CAM / saliency): still mean 0.034 / 0.028 (max
    0.052 / 0.037); fall mean 0.608 / 0.618 (min 0.222 / 0.230); fight mean 0.163 / 0.142; walking
    normal 0.141 / 0.119. The demo's fight decision rests mostly on the static pose (a frozen fight
    frame alone scores fight 0.94 on average), the fall decision on the movement (0.37)."""
    clips = {
        "still": [make_still_clip(seed).frames for seed in SEEDS],
        "fall": [make_clip("fall", seed).frames for seed in SEEDS],
        "fight": [make_clip("fight", seed).frames for seed in SEEDS],
    }
    measured = {
        kind: [s for s in (_shares(demo, f, "normal" if kind == "still" else kind) for f in frames) if s]
        for kind, frames in clips.items()
    }
    means = {kind: {m: float(np.mean([s[m] for s in rows])) for m in ("gradcam", "saliency")} for kind, rows in measured.items()}
    assert len(measured["still"]) == len(SEEDS) and len(measured["fall"]) >= len(SEEDS) - 1
    assert all(s["needs_movement"] for s in measured["fall"])  # every fall clip's decision needs the movement
    for method in ("gradcam", "saliency"):
        still_max = max(s[method] for s in measured["still"])
        assert still_max < 0.08
        assert min(s[method] for s in measured["fall"]) > 2 * still_max  # every fall above every still clip
        assert means["fall"][method] > 0.45
        assert means["fight"][method] > 2 * means["still"][method]  # measured 4.8x / 5.1x


def test_frame_shares_and_motion_maps_follow_the_definition() -> None:
    full = np.array([[[2.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [0.0, 0.0]]], np.float32)
    spatial = np.array([[[1.0, 3.0], [1.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]], np.float32)
    # frame 0: shapes [.5, 0, .25, .25] vs [.2, .6, .2, 0], score kept; frame 1: same shape, half the score kept
    frame, overall = motion_shares(full, spatial, np.array([1.0, 0.5]))
    assert np.allclose(frame, [0.3 + 0.05 + 0.25, 0.5]) and overall == pytest.approx((0.6 * 4 + 0.5 * 2) / 6)
    frame, _ = motion_shares(full, spatial, np.array([3.0, 1.0]))  # a still frame scoring higher keeps it all
    assert np.allclose(frame, [0.6, 0.0])
    still, moving = motion_parts(full, spatial, np.array([1.0, 0.5]))
    assert np.allclose(still[0], [[0.2, 0.6], [0.2, 0.0]]) and np.allclose(moving[0], [[0.3, 0.0], [0.05, 0.25]])
    assert np.allclose(still[1] + moving[1], [[0.5, 0.5], [0.0, 0.0]])  # same shape: the parts add up to it


def test_frames_without_relevance_are_not_measurable_and_count_for_nothing() -> None:
    full = np.zeros((3, 4, 4), np.float32)
    full[1, 0, 0] = 1.0
    frame, overall = motion_shares(full, np.zeros_like(full), np.ones(3))
    assert np.isnan(frame[[0, 2]]).all() and frame[1] == 1.0 and overall == 1.0
    frame, overall = motion_shares(np.zeros_like(full), np.ones_like(full), np.ones(3))
    assert np.isnan(frame).all() and overall is None  # no relevance: not measurable, never "0 % movement"
    full[0] = 1.0  # a flat frame carries relevance everywhere, so none in particular
    measurable = relevant_frames(full)
    assert measurable.tolist() == [False, True, False]
    frame, overall = motion_shares(full, np.zeros_like(full), np.ones(3), measurable)
    assert np.isnan(frame[0]) and overall == 1.0


def test_still_clip_is_seeded_and_holds_one_motionless_figure() -> None:
    clip, again, other = make_still_clip(2), make_still_clip(2), make_still_clip(3)
    assert np.array_equal(clip.frames, again.frames) and not np.array_equal(clip.frames, other.frames)
    assert clip.frames.shape == (16, 64, 64, 3) and clip.label == "normal"
    assert np.all(clip.boxes == clip.boxes[0]) and np.all(clip.boxes[0, 2:] > clip.boxes[0, :2])
    change = np.abs(np.diff(clip.frames.astype(int), axis=0))
    assert np.percentile(change, 99.9) < 25  # frames differ by sensor noise only (sigma about 5)
