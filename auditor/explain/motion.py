"""Spatial vs motion relevance (DESIGN §2; the idea of Hiley et al. 2019, applied to Grad-CAM and
saliency): how much of each frame's relevance is there only because things move.

Definition. The static clip of frame t is frame t repeated T times (no motion). The spatial map of
frame t is the map (Grad-CAM or saliency, the formulas of `gradcam` and `saliency`, differentiating
the logit of the clip's explained class) of that static clip at position t. The motion map is the
full-clip map minus the spatial map (signed). Per frame,

    motion share[t] = Σ_ij max(full[t] − spatial[t], 0) / Σ_ij full[t]   (0 when full[t] is all zero),

the part of frame t's relevance present only because of movement; the overall share is
Σ_t numerator[t] / Σ_t denominator[t] (0 when every full map is zero). The static clips' class
logits and probabilities (T, n_classes) say what the detector decides on each frozen frame.

All T static clips take one compiled pass (`Detector.static_clip_pass`), plus one batched pass of
the layers above the per-frame CNN for their scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from auditor.explain import METHODS
from auditor.explain.base import ClipExplanation

if TYPE_CHECKING:
    from auditor.detector import Detector


@dataclass(frozen=True)
class MotionRelevance:
    """Spatial maps and motion shares of one explained clip, per map method."""

    spatial_maps: Mapping[str, np.ndarray]  # method -> raw spatial maps, the full maps' shape (T, ...)
    frame_shares: Mapping[str, np.ndarray]  # method -> float64 (T,), in [0, 1]
    overall_shares: Mapping[str, float]  # method -> share of the whole clip, in [0, 1]
    static_logits: np.ndarray  # float32 (T, n_classes): static clip t's logits
    static_probabilities: np.ndarray  # float32 (T, n_classes)


def motion_relevance(detector: Detector, explanation: ClipExplanation) -> MotionRelevance:
    """The spatial maps of `explanation`'s map methods and the motion shares against its full maps.

    `detector` is the `Detector` that made the explanation (same frames, class and target layer)."""
    methods = [name for name in explanation.maps if name in METHODS]
    needs_input = any(METHODS[name].needs_input_grads for name in methods)
    static = detector.static_clip_pass(
        explanation.frames, explanation.target_index, explanation.layer_name, input_grads=needs_input
    )
    spatial = {name: METHODS[name].compute(static) for name in methods}
    shares = {name: motion_shares(explanation.maps[name], spatial[name]) for name in methods}
    features = cast(np.ndarray, static.frame_features)  # static_clip_pass always sets them
    windows = np.repeat(features[:, np.newaxis], len(features), axis=1)
    logits = detector.window_logits(windows)
    return MotionRelevance(
        spatial_maps=spatial,
        frame_shares={name: frame for name, (frame, _) in shares.items()},
        overall_shares={name: overall for name, (_, overall) in shares.items()},
        static_logits=logits.astype(np.float32),
        static_probabilities=detector.probabilities(logits).astype(np.float32),
    )


def motion_maps(full: np.ndarray, spatial: np.ndarray) -> np.ndarray:
    """The signed motion maps, full − spatial, float32 (T, ...)."""
    return np.subtract(full, spatial, dtype=np.float32)


def motion_shares(full: np.ndarray, spatial: np.ndarray) -> tuple[np.ndarray, float]:
    """(per-frame shares (T,), overall share) of the relevance in `full` that `spatial` lacks."""
    axes = tuple(range(1, full.ndim))
    numerators = np.maximum(full.astype(np.float64) - spatial, 0.0).sum(axis=axes)
    denominators = full.astype(np.float64).sum(axis=axes)
    frame = np.divide(numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0)
    total = denominators.sum()
    return frame, float(numerators.sum() / total) if total > 0 else 0.0
