"""Faithfulness (DESIGN §2): deletion and insertion curves on the demo model's synthetic clips.

Figures measured with the default settings (blur sigma 3.2 px; pixel curves at 0, 0.1, 0.9, 1 with
random seeds 0-1), on fight and fall clips of seeds 0-3, all classified as their label:
Grad-CAM deletion AUC fight 0.053-0.172 against random 0.520-0.806, fall 0.197-0.780 against
0.555-0.933 (random minus Grad-CAM: fight ≥ 0.43, fall 0.12-0.50); Grad-CAM insertion AUC fight
0.921-0.945 against the same random figures (symmetric fractions: random insertion and deletion
AUCs are equal), fall 0.793-0.924 (below random on fall seeds 0 and 3). Saliency deletion fight
0.063-0.280, fall 0.301-0.737 (random minus saliency 0.12-0.40 on fall). On every clip the pixel
curves' verdicts (below / above random) equal those of nine fractions and three seeds.
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
    """The detector, counting its batched calls and the frames given to the per-frame CNN."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.calls = {"frame_features": 0, "window_logits": 0}
        self.frames = 0

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        self.calls["frame_features"] += 1
        self.frames += len(frames)
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
    assert gaps.mean() >= 0.2 and np.all(gaps > 0.05), gaps


@pytest.mark.parametrize("label", LABELS)
def test_gradcam_insertion_is_above_random_on_average(results: dict, label: str) -> None:
    curves = [results[(label, seed)].curve("gradcam") for seed in SEEDS]
    gaps = np.array([c.insertion.auc - c.random_insertion.auc for c in curves])
    assert gaps.mean() >= 0.05, gaps


def test_gradcam_insertion_is_above_random_for_most_clips(results: dict) -> None:
    above = [r.curve("gradcam").insertion.auc > r.curve("gradcam").random_insertion.auc for r in results.values()]
    assert sum(above) >= 0.75 * len(above), above


def verdicts(result: Faithfulness, unit: str) -> dict[str, tuple[bool, bool]]:
    return {c.ordering: (bool(c.deletion.auc < c.random_deletion.auc), bool(c.insertion.auc > c.random_insertion.auc))
            for c in result.curves if c.unit == unit}


def test_four_points_and_two_seeds_give_the_verdicts_of_nine_points_and_three_seeds(
    detector: Detector, explained: dict, results: dict
) -> None:
    dense = FaithfulnessSettings(fractions=FaithfulnessSettings().frame_fractions, seeds=(0, 1, 2))
    for key, explanation in explained.items():
        assert verdicts(results[key], "pixels") == verdicts(faithfulness(detector, explanation, dense), "pixels"), key


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
        assert len(c.random_deletion_aucs) == len(c.seeds) == (2 if c.unit == "pixels" else 3)
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
        for index, fraction in enumerate(result.settings.frame_fractions):
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
    index = result.settings.fractions.index(0.1)
    assert result.curve("gradcam").deletion.scores[index] == pytest.approx(deleted, abs=TOLERANCE)
    assert result.curve("gradcam").insertion.scores[index] == pytest.approx(inserted, abs=TOLERANCE)


def test_only_frames_removed_in_part_go_through_the_cnn(detector: Detector, explained: dict) -> None:
    """A map that ranks all of frame 3 first: its top 10 % (1.6 frames) removes frame 3 and part of
    frame 0 (ties by position), its top 90 % keeps frame 15 and part of frame 14, so each named
    clip has one frame edited in part; every random clip edits all T frames in part."""
    explanation = explained[("fight", 0)]
    t, h, w = explanation.frames.shape[:3]
    ranked = np.zeros((t, h, w), np.float32)
    ranked[3] = 1.0
    edited = dataclasses.replace(explanation, maps={"gradcam": ranked}, frame_importance={})
    counting = CountingDetector(detector)
    settings = FaithfulnessSettings(seeds=(0,))
    result = faithfulness(counting, edited, settings)
    named, randoms = 4, 2  # deletion and insertion at 0.1 and 0.9; one seed's clips at 0.1 and 0.9
    assert counting.frames == result.frames_through_cnn == t + named + randoms * t  # t: the removed frames
    removed = blurred(explanation.frames, result.blur_sigma)
    order = np.argsort(-ranked.ravel(), kind="stable")
    clips = []
    for k in (round(0.1 * t * h * w), round(0.9 * t * h * w)):
        chosen = np.zeros(t * h * w, bool)
        chosen[order[:k]] = True
        chosen = chosen.reshape(t, h, w, 1)
        clips += [np.where(chosen, removed, explanation.frames), np.where(chosen, explanation.frames, removed)]
    scored = detector.clip_probabilities(np.stack(clips))[:, explanation.target_index]
    curve = result.curve("gradcam")
    np.testing.assert_allclose(scored[[0, 2]], curve.deletion.scores[1:3], atol=TOLERANCE)
    np.testing.assert_allclose(scored[[1, 3]], curve.insertion.scores[1:3], atol=TOLERANCE)


def test_without_the_explanations_features_the_clip_goes_through_the_cnn_once(
    detector: Detector, explained: dict
) -> None:
    explanation = explained[("fall", 0)]
    with_features, without = CountingDetector(detector), CountingDetector(detector)
    first = faithfulness(with_features, explanation)
    second = faithfulness(without, dataclasses.replace(explanation, frame_features=None))
    assert without.frames == with_features.frames + len(explanation.frames)
    for a, b in zip(first.curves, second.curves, strict=True):
        np.testing.assert_allclose(a.deletion.scores, b.deletion.scores, atol=TOLERANCE)


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
    frame_clips = 2 + (2 * len(explanation.frame_importance) + 3) * (len(settings.frame_fractions) - 2)
    assert pixel_clips < result.clips_scored <= pixel_clips + frame_clips
    curves = result.curve("gradcam")
    assert np.allclose(curves.random_insertion.scores, curves.random_deletion.scores[::-1])
    assert len(explanation.frames) < counting.frames <= len(explanation.frames) * (pixel_clips - 1)
    assert counting.calls == {
        "frame_features": math.ceil(counting.frames / settings.chunk),  # removed and partly removed frames together
        "window_logits": math.ceil(pixel_clips / settings.chunk) + math.ceil(
            (result.clips_scored - pixel_clips) / settings.chunk),
    }
    assert result.batched_calls == sum(counting.calls.values())


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
    index = result.settings.fractions.index(0.1)
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
    assert result.settings.removal == "mean" and result.blur_sigma is None
    assert result.curve("gradcam").deletion.scores[-1] == pytest.approx(expected, abs=TOLERANCE)
    assert result.curve("gradcam").deletion.auc < result.curve("gradcam").random_deletion.auc - 0.25


@pytest.mark.parametrize(
    "change",
    [
        {"fractions": (0.0, 0.5, 1.0)},
        {"fractions": (0.1, 0.5, 1.0)},
        {"fractions": (0.0, 0.5, 0.1, 1.0)},
        {"frame_fractions": (0.0, 0.5, 1.0)},
        {"frame_seeds": ()},
        {"removal": "noise"},
        {"seeds": ()},
        {"chunk": 0},
    ],
)
def test_unusable_settings_are_refused(change: dict) -> None:
    with pytest.raises(ReportError, match="faithfulness settings"):
        FaithfulnessSettings(**change)
