"""Faithfulness (DESIGN §2): deletion and insertion curves on the demo model's synthetic clips.

Figures measured with the default settings (blur sigma 3.2 px, fractions 0…1, seeds 0-2), on
fight and fall clips of seeds 0-3, all classified as their label:
Grad-CAM deletion AUC fight 0.053-0.088 against random 0.866-0.867, fall 0.155-0.811 against
0.720-0.911 (random minus Grad-CAM: fight ≥ 0.77, fall 0.10-0.62, mean 0.38); Grad-CAM insertion
AUC fight 0.961-0.976 against 0.850-0.875, fall 0.896-0.943 against 0.655-0.944 (mean +0.11,
below random on fall seeds 0 and 3 by ≤ 0.03). Saliency deletion fight 0.054-0.110, fall
0.221-0.755 against the same random figures.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from auditor.demo import demo_model_path
from auditor.detector import Detector, load_detector
from auditor.errors import ReportError
from auditor.explain import ClipExplanation
from auditor.explain.faithfulness import (
    Faithfulness,
    FaithfulnessSettings,
    faithfulness,
)
from auditor.synthetic import make_clip

SEEDS = (0, 1, 2, 3)
LABELS = ("fight", "fall")
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(demo_model_path())


@pytest.fixture(scope="module")
def explained(detector: Detector) -> dict[tuple[str, int], ClipExplanation]:
    return {(label, seed): detector.explain(make_clip(label, seed).frames) for label in LABELS for seed in SEEDS}


@pytest.fixture(scope="module")
def results(detector: Detector, explained: dict) -> dict[tuple[str, int], Faithfulness]:
    return {key: faithfulness(detector, explanation) for key, explanation in explained.items()}


class CountingDetector:
    """The detector, counting its batched scoring calls and the clips given to `clip_probabilities`."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.calls = {"clip_probabilities": 0, "frame_features": 0, "window_logits": 0}
        self.clips = 0

    def clip_probabilities(self, clips: np.ndarray) -> np.ndarray:
        self.calls["clip_probabilities"] += 1
        self.clips += len(clips)
        return self.detector.clip_probabilities(clips)

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        self.calls["frame_features"] += 1
        return self.detector.frame_features(frames)

    def window_logits(self, features: np.ndarray) -> np.ndarray:
        self.calls["window_logits"] += 1
        return self.detector.window_logits(features)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return self.detector.probabilities(logits)


def blurred(frames: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT) for f in frames])


def test_the_explained_clips_are_classified_as_their_label(explained: dict) -> None:
    assert all(explanation.target_name == label for (label, _), explanation in explained.items())


@pytest.mark.parametrize("label", LABELS)
def test_gradcam_deletion_is_clearly_below_random(results: dict, label: str) -> None:
    curves = [results[(label, seed)].curve("gradcam") for seed in SEEDS]
    gaps = np.array([c.random_deletion.auc - c.deletion.auc for c in curves])
    assert gaps.mean() >= 0.25, gaps
    assert np.all(gaps > 0.05), gaps
    assert all(c.deletion.auc < min(c.random_deletion_aucs) for c in curves)


@pytest.mark.parametrize("label", LABELS)
def test_saliency_deletion_is_clearly_below_random(results: dict, label: str) -> None:
    curves = [results[(label, seed)].curve("saliency") for seed in SEEDS]
    gaps = np.array([c.random_deletion.auc - c.deletion.auc for c in curves])
    assert gaps.mean() >= 0.25 and np.all(gaps > 0.05), gaps


@pytest.mark.parametrize("label", LABELS)
def test_gradcam_insertion_is_above_random_on_average(results: dict, label: str) -> None:
    curves = [results[(label, seed)].curve("gradcam") for seed in SEEDS]
    gaps = np.array([c.insertion.auc - c.random_insertion.auc for c in curves])
    assert gaps.mean() >= 0.05, gaps


def test_gradcam_insertion_is_above_random_for_most_clips(results: dict) -> None:
    above = [r.curve("gradcam").insertion.auc > r.curve("gradcam").random_insertion.auc for r in results.values()]
    assert sum(above) >= 0.75 * len(above), above


def test_every_curve_starts_at_the_clip_and_ends_at_the_removed_clip(results: dict, explained: dict) -> None:
    for key, result in results.items():
        explanation = explained[key]
        assert result.original_score == pytest.approx(explanation.probabilities[explanation.target_index], abs=1e-5)
        removed_score = result.curves[0].deletion.scores[-1]
        for c in result.curves:
            for curve in (c.deletion, c.insertion, c.random_deletion, c.random_insertion):
                assert curve.fractions[0] == 0 and curve.fractions[-1] == 1
            assert c.deletion.scores[0] == c.insertion.scores[-1] == result.original_score
            assert c.random_deletion.scores[0] == c.random_insertion.scores[-1] == result.original_score
            assert c.deletion.scores[-1] == c.insertion.scores[0] == removed_score


def test_auc_is_the_trapezoid_and_random_is_the_mean_over_seeds(results: dict) -> None:
    for c in results[("fight", 0)].curves:
        assert c.deletion.auc == pytest.approx(np.trapezoid(c.deletion.scores, c.deletion.fractions))
        assert c.insertion.auc == pytest.approx(np.trapezoid(c.insertion.scores, c.insertion.fractions))
        assert len(c.random_deletion_aucs) == 3
        assert c.random_deletion.auc == pytest.approx(np.mean(c.random_deletion_aucs))
        assert c.random_insertion.auc == pytest.approx(np.mean(c.random_insertion_aucs))


def test_frame_curves_from_features_equal_scoring_the_edited_clips(detector: Detector, explained: dict) -> None:
    explanation = explained[("fall", 1)]
    result = faithfulness(detector, explanation)
    frames = explanation.frames
    removed = blurred(frames, result.blur_sigma)
    clips, expected = [], []
    for name, importance in explanation.frame_importance.items():
        c = result.curve(name)
        top = np.argsort(-importance.values, kind="stable")
        for index, fraction in enumerate(result.fractions):
            chosen = np.isin(np.arange(len(frames)), top[: round(fraction * len(frames))])
            clips.append(np.where(chosen[:, None, None, None], removed, frames))
            clips.append(np.where(chosen[:, None, None, None], frames, removed))
            expected += [c.deletion.scores[index], c.insertion.scores[index]]
    scored = detector.clip_probabilities(np.stack(clips))[:, explanation.target_index]
    np.testing.assert_allclose(scored, expected, atol=TOLERANCE)
    assert {c.unit for c in result.curves if c.ordering in explanation.frame_importance} == {"frames"}


def test_gradcam_curve_at_ten_percent_equals_the_edited_clip(detector: Detector, explained: dict) -> None:
    explanation = explained[("fight", 2)]
    result = faithfulness(detector, explanation)
    frames = explanation.frames
    t, h, w = frames.shape[:3]
    upsampled = np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in explanation.gradcam])
    chosen = np.zeros(t * h * w, bool)
    chosen[np.argsort(-upsampled.ravel(), kind="stable")[: round(0.1 * chosen.size)]] = True
    chosen = chosen.reshape(t, h, w, 1)
    removed = blurred(frames, result.blur_sigma)
    clips = np.stack([np.where(chosen, removed, frames), np.where(chosen, frames, removed)])
    deleted, inserted = detector.clip_probabilities(clips)[:, explanation.target_index]
    index = result.fractions.index(0.1)
    assert result.curve("gradcam").deletion.scores[index] == pytest.approx(deleted, abs=TOLERANCE)
    assert result.curve("gradcam").insertion.scores[index] == pytest.approx(inserted, abs=TOLERANCE)


@pytest.mark.parametrize("fractions", [FaithfulnessSettings().fractions, tuple(np.linspace(0, 1, 11).round(2))])
def test_a_handful_of_batched_calls_whatever_the_fractions(
    detector: Detector, explained: dict, fractions: tuple[float, ...]
) -> None:
    explanation = explained[("fight", 0)]
    counting = CountingDetector(detector)
    settings = FaithfulnessSettings(fractions=fractions)
    result = faithfulness(counting, explanation, settings)
    # symmetric fractions: each random clip serves deletion (at f) and insertion (reversed order, at 1 - f)
    pixel_clips = 2 + (2 * len(explanation.maps) + len(settings.seeds)) * (len(fractions) - 2)
    assert counting.clips == pixel_clips
    curves = result.curve("gradcam")
    assert np.allclose(curves.random_insertion.scores, curves.random_deletion.scores[::-1])
    assert counting.calls == {
        "clip_probabilities": math.ceil(pixel_clips / settings.chunk),
        "frame_features": 1,
        "window_logits": 1,
    }
    assert result.batched_calls == sum(counting.calls.values())
    assert result.clips_scored > pixel_clips
    one_chunk = CountingDetector(detector)
    faithfulness(one_chunk, explanation, dataclasses.replace(settings, chunk=1024))
    assert one_chunk.calls["clip_probabilities"] == 1


def test_same_result_twice(detector: Detector, explained: dict, results: dict) -> None:
    again = faithfulness(detector, explained[("fall", 2)])
    first = results[("fall", 2)]
    assert again.original_score == first.original_score
    for a, b in zip(again.curves, first.curves, strict=True):
        assert a.ordering == b.ordering
        for name in ("deletion", "insertion", "random_deletion", "random_insertion"):
            np.testing.assert_array_equal(getattr(a, name).scores, getattr(b, name).scores)
        assert a.random_deletion_aucs == b.random_deletion_aucs


def test_a_flat_map_gives_valid_curves_ordered_by_position(detector: Detector, explained: dict) -> None:
    explanation = explained[("fight", 1)]
    t, h, w = explanation.frames.shape[:3]
    flat = np.zeros_like(explanation.gradcam)
    broken = np.full((t, h, w), np.nan, np.float32)
    edited = dataclasses.replace(explanation, maps={"gradcam": flat, "saliency": broken}, frame_importance={})
    result = faithfulness(detector, edited)
    for c in result.curves:
        for curve in (c.deletion, c.insertion):
            assert np.all(np.isfinite(curve.scores)) and np.isfinite(curve.auc)
    chosen = np.zeros(t * h * w, bool)
    chosen[: round(0.1 * chosen.size)] = True  # the first positions: frames 0 and 1, then the top rows of frame 2
    clip = np.where(chosen.reshape(t, h, w, 1), blurred(explanation.frames, result.blur_sigma), explanation.frames)
    index = result.fractions.index(0.1)
    expected = detector.clip_probabilities(clip[np.newaxis])[0, explanation.target_index]
    assert result.curve("gradcam").deletion.scores[index] == pytest.approx(expected, abs=TOLERANCE)
    np.testing.assert_array_equal(result.curve("saliency").deletion.scores, result.curve("gradcam").deletion.scores)


def test_mean_removal_fills_with_the_frame_mean_colour(detector: Detector, explained: dict) -> None:
    explanation = explained[("fight", 0)]
    result = faithfulness(detector, explanation, FaithfulnessSettings(removal="mean"))
    frames = explanation.frames
    means = np.rint(frames.reshape(len(frames), -1, 3).mean(axis=1)).astype(np.uint8)
    filled = np.broadcast_to(means[:, None, None, :], frames.shape)[np.newaxis]
    expected = detector.clip_probabilities(np.ascontiguousarray(filled))[0, explanation.target_index]
    assert result.removal == "mean" and result.blur_sigma is None
    assert result.curve("gradcam").deletion.scores[-1] == pytest.approx(expected, abs=TOLERANCE)
    assert result.curve("gradcam").deletion.auc < result.curve("gradcam").random_deletion.auc - 0.25


@pytest.mark.parametrize(
    "change",
    [
        {"fractions": (0.0, 0.5, 1.0)},
        {"fractions": (0.1, 0.5, 1.0)},
        {"fractions": (0.0, 0.5, 0.1, 1.0)},
        {"removal": "noise"},
        {"seeds": ()},
        {"chunk": 0},
    ],
)
def test_unusable_settings_are_refused(change: dict) -> None:
    with pytest.raises(ReportError, match="faithfulness settings"):
        FaithfulnessSettings(**change)
