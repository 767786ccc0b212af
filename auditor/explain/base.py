"""Records shared by the explanation methods: what the detector's pass returns, and the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from auditor.errors import VideoError


@dataclass(frozen=True)
class DetectorPass:
    """One forward (+ backward) pass of the detector over one clip.

    All arrays drop the batch axis. `input_grads` is None when no method needed it.
    `frame_features` is the output of the whole TimeDistributed CNN, frame by frame; since the
    CNN sees each frame alone, changing frame t of the clip changes only `frame_features[t]`, so
    `logits_from_features` (the layers above the CNN, on a batch) scores edited clips exactly.
    """

    inputs: np.ndarray  # (T, H, W, C) float32, the model input after preprocessing
    activations: np.ndarray  # (T, h, w, K) float32, the target layer's maps
    activation_grads: np.ndarray  # (T, h, w, K) float32, dy/dA
    input_grads: np.ndarray | None  # (T, H, W, C) float32, dy/dx
    logits: np.ndarray  # (n_classes,) float32, pre-activation scores
    target_index: int
    frame_features: np.ndarray | None = None  # (T, ...) float32, per-frame output of the CNN
    logits_from_features: Callable[[np.ndarray], np.ndarray] | None = None  # (N, T, ...) -> (N, n_classes)

    @cached_property
    def neighbour_logits(self) -> np.ndarray:
        """Logits of the clip (row 0) and of the clip with frame t replaced by its neighbour
        (row t+1, see `neighbours`), scored in one batch once per pass; float64 (T+1, n_classes)."""
        features, score = self.frame_features, self.logits_from_features
        if features is None or score is None:
            raise ValueError("scoring edited clips needs the per-frame features and the function that scores them")
        count = features.shape[0]
        edited = np.repeat(features[np.newaxis], count + 1, axis=0)
        edited[np.arange(1, count + 1), np.arange(count)] = features[neighbours(count)]
        return np.asarray(score(edited), dtype=np.float64)


def neighbours(count: int) -> np.ndarray:
    """The frame that replaces frame t, for t = 0 … count−1: t−1, and 1 for t = 0."""
    if count < 2:
        raise VideoError(
            f"frame occlusion replaces each frame by a neighbour, so it needs a clip of at least 2 frames; "
            f"this clip has {count}: leave 'occlusion' out of the frame-importance methods"
        )
    index = np.arange(count) - 1
    index[0] = 1
    return index


@dataclass(frozen=True)
class Explanation:
    """The explanation of one clip's decision; raw maps, never normalised.

    `maps` holds one array per method name: "gradcam" (T, h, w) and "saliency" (T, H, W).
    `frame_scores` holds one float32 array (T,) per frame-importance method name.
    """

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, the frames as the model saw them (resized)
    maps: Mapping[str, np.ndarray]
    logits: np.ndarray  # (n_classes,) float32
    probabilities: np.ndarray  # (n_classes,) float32
    class_names: tuple[str, ...]
    target_index: int
    layer_name: str
    preprocessing: str
    score: str = "logit"  # the differentiated quantity: the target class's pre-activation logit
    parameters: Mapping[str, object] = field(default_factory=dict)
    frame_scores: Mapping[str, np.ndarray] = field(default_factory=dict)
    occluded_probabilities: np.ndarray | None = None  # (T, n_classes): frame t replaced by its neighbour

    @property
    def target_name(self) -> str:
        return self.class_names[self.target_index]

    @property
    def score_value(self) -> float:
        return float(self.logits[self.target_index])

    @property
    def gradcam(self) -> np.ndarray:
        return self.maps["gradcam"]

    @property
    def saliency(self) -> np.ndarray:
        return self.maps["saliency"]


@dataclass(frozen=True)
class Method:
    """One explanation method: a formula over one detector pass, registered by name."""

    name: str
    compute: Callable[[DetectorPass], np.ndarray]
    needs_input_grads: bool
    summary: str  # one plain sentence for reports: what the map shows


@dataclass(frozen=True)
class FrameMethod:
    """One frame-importance score: one value per frame of one detector pass, registered by name."""

    name: str
    compute: Callable[[DetectorPass], np.ndarray]  # float32 (T,), positive = the frame supports the class
    needs_input_grads: bool
    label: str  # short chart label
    summary: str  # one plain sentence for reports: what the score shows
