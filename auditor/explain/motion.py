"""Spatial vs motion relevance (DESIGN §2; the idea of Hiley et al. 2019, applied to Grad-CAM and
saliency): how much of each frame's relevance is there only because things move.

Definition. The static clip of frame t is frame t repeated T times (no motion). The spatial map of
frame t is the map (Grad-CAM or saliency, the formulas of `gradcam` and `saliency`, differentiating
the logit of the clip's explained class) of that static clip at position t. Gradient maps do not
conserve relevance (a static clip's map can be several times larger than the full clip's while its
score is far lower), so both maps of frame t are compared as shapes, each divided by its own sum
(p̂), and the spatial one is weighted by how much of the full clip's probability p of the explained
class the static clip keeps, r[t] = min(p_static[t] / p_full, 1):

    motion share[t] = Σ_ij max(p̂_full[t] − r[t] · p̂_spatial[t], 0)      (0 when full[t] is all zero)

the part of frame t's relevance that the frame held still does not account for, where or how
strongly: 0 when the still frame gives the same map and the same score, 1 when it keeps none of
the score. It is measured only where frame t's full map carries relevance, that is singles out a
region (`contours.localised`); elsewhere it is NaN ("not measurable"), not 0. The overall share is
the mean of the measurable frames' shares weighted by each one's share of their relevance; None
when no frame is measurable (a detector blind to its input rests neither on movement nor on
single frames, and nothing may say it does). `motion_parts` gives both parts of each frame's map for display. The static clips'
class logits and probabilities (T, n_classes) say what the detector decides on each frozen frame.

All T static clips take one compiled pass (`Detector.static_clip_pass`), plus one batched pass of
the layers above the per-frame CNN for their scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from auditor.explain import METHODS
from auditor.explain.base import ClipExplanation, DetectorLike
from auditor.explain.contours import localised


@dataclass(frozen=True)
class MotionRelevance:
    """Spatial maps and motion shares of one explained clip, per map method."""

    spatial_maps: Mapping[str, np.ndarray]  # method -> raw spatial maps, the full maps' shape (T, ...)
    frame_shares: Mapping[str, np.ndarray]  # method -> float64 (T,), in [0, 1]; NaN: not measurable
    overall_shares: Mapping[str, float | None]  # method -> share of the whole clip, in [0, 1]; None: not measurable
    static_logits: np.ndarray  # float32 (T, n_classes): static clip t's logits
    static_probabilities: np.ndarray  # float32 (T, n_classes)
    kept: np.ndarray  # float64 (T,): r[t], the share of the clip's probability static clip t keeps (≤ 1)


def motion_relevance(detector: DetectorLike, explanation: ClipExplanation) -> MotionRelevance:
    """The spatial maps of `explanation`'s map methods and the motion shares against its full maps.

    `detector` is the `Detector` that made the explanation (same frames, class and target layer)."""
    methods = [name for name in explanation.maps if name in METHODS]
    needs_input = any(METHODS[name].needs_input_grads for name in methods)
    static = detector.static_clip_pass(
        explanation.frames, explanation.target_index, explanation.layer_name, input_grads=needs_input
    )
    spatial = {name: METHODS[name].compute(static) for name in methods}
    features = cast(np.ndarray, static.frame_features)  # static_clip_pass always sets them
    windows = np.repeat(features[:, np.newaxis], len(features), axis=1)
    logits = detector.window_logits(windows)
    probabilities = detector.probabilities(logits)
    target = explanation.target_index
    kept = np.minimum(probabilities[:, target] / max(float(explanation.probabilities[target]), 1e-12), 1.0)
    shares = {name: motion_shares(explanation.maps[name], spatial[name], kept, relevant_frames(explanation.maps[name]))
              for name in methods}
    return MotionRelevance(
        spatial_maps=spatial,
        frame_shares={name: frame for name, (frame, _) in shares.items()},
        overall_shares={name: overall for name, (_, overall) in shares.items()},
        static_logits=logits.astype(np.float32),
        static_probabilities=probabilities.astype(np.float32),
        kept=kept.astype(np.float64),
    )


def motion_parts(full: np.ndarray, spatial: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(still, moving), float64 (T, ...): each frame's map split into what the frame held still
    accounts for, r[t] · p̂_spatial[t], and the rest, max(p̂_full[t] − r[t] · p̂_spatial[t], 0), both
    in shares of that frame's full relevance (p̂: a map divided by its own sum); `kept` (T,) is r."""
    axes = tuple(range(1, full.ndim))
    shape = (-1,) + (1,) * (full.ndim - 1)
    full64, spatial64 = full.astype(np.float64), np.maximum(spatial.astype(np.float64), 0.0)
    mass, spatial_mass = full64.sum(axis=axes).reshape(shape), spatial64.sum(axis=axes).reshape(shape)
    full_shape = np.divide(full64, mass, out=np.zeros_like(full64), where=mass > 0)
    spatial_shape = np.divide(spatial64, spatial_mass, out=np.zeros_like(spatial64), where=spatial_mass > 0)
    still = np.clip(np.asarray(kept, dtype=np.float64), 0.0, 1.0).reshape(shape) * spatial_shape
    return still, np.maximum(full_shape - still, 0.0)


def relevant_frames(full: np.ndarray) -> np.ndarray:
    """bool (T,): the frames whose map carries relevance, i.e. singles out a region."""
    return np.array([localised(frame) for frame in full], dtype=bool)


def motion_shares(
    full: np.ndarray, spatial: np.ndarray, kept: np.ndarray, measurable: np.ndarray | None = None
) -> tuple[np.ndarray, float | None]:
    """(per-frame shares (T,), overall share) of the relevance in `full` (T, ...) that `spatial`
    does not account for, `kept` (T,) being r[t], the share of the score each static clip keeps.

    Only frames in `measurable` (T,) bool (default: every frame) with relevance (a positive sum)
    are measured; the others get NaN. The overall share is None when no frame is measured."""
    axes = tuple(range(1, full.ndim))
    mass = full.astype(np.float64).sum(axis=axes)
    measured = (mass > 0) & (np.ones(len(full), bool) if measurable is None else np.asarray(measurable, bool))
    frame = np.where(measured, motion_parts(full, spatial, kept)[1].sum(axis=axes), np.nan)
    if not measured.any():
        return frame, None
    weights = mass[measured]
    return frame, float((frame[measured] * weights).sum() / weights.sum())
