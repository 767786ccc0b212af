"""Records shared by the explanation methods: what one detector pass holds, what a method
is, and what an explanation of one clip holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# The checks of how far an explanation can be trusted (`auditor.explain.checks`), by name: the
# names `--skip-check` takes, kept here so that the command line offers them without loading TensorFlow.
CHECK_NAMES = ("motion", "counterfactuals", "faithfulness", "sanity", "persons")


@dataclass(frozen=True)
class DetectorPass:
    """One forward (+ backward) pass of the detector over one clip.

    All arrays drop the batch axis. `input_grads` is None when no method needed it.
    `frame_features` is the output of the whole TimeDistributed CNN, frame by frame; since the
    CNN sees each frame alone, changing frame t of the clip changes only `frame_features[t]`, so
    `logits_from_features` (the layers above the CNN, on a batch) scores edited clips exactly,
    and `probabilities_from_logits` applies the model's own output activation.
    """

    inputs: np.ndarray  # (T, H, W, C) float32, the model input after preprocessing
    activations: np.ndarray  # (T, h, w, K) float32, the target layer's maps
    activation_grads: np.ndarray  # (T, h, w, K) float32, dy/dA
    input_grads: np.ndarray | None  # (T, H, W, C) float32, dy/dx
    logits: np.ndarray  # (n_classes,) float32, pre-activation scores
    target_index: int
    frame_features: np.ndarray | None = None  # (T, ...) float32, per-frame output of the CNN
    logits_from_features: Callable[[np.ndarray], np.ndarray] | None = None  # (N, T, ...) -> (N, n_classes)
    probabilities_from_logits: Callable[[np.ndarray], np.ndarray] | None = None  # (N, n) -> (N, n)


@dataclass(frozen=True)
class FrameImportance:
    """How much each frame of one clip counted, by one frame-importance method.

    Methods that score edited clips also give what each edited clip decides: the clip with frame
    t edited has class probabilities `edited_probabilities[t]`; `replaced_by[t]` names the frame
    that replaced frame t.
    """

    values: np.ndarray  # float32 (T,); positive = the frame supports the explained class
    edited_probabilities: np.ndarray | None = None  # float32 (T, n_classes)
    replaced_by: np.ndarray | None = None  # int (T,)


@dataclass(frozen=True)
class ClipExplanation:
    """The explanation of one clip's decision; raw maps, never normalised.

    `maps` holds one array per map method name: "gradcam" (T, h, w) and "saliency" (T, H, W).
    `frame_importance` holds one `FrameImportance` per frame-importance method name.
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
    frame_importance: Mapping[str, FrameImportance] = field(default_factory=dict)
    frame_features: np.ndarray | None = None  # (T, ...) the CNN's per-frame output, from the same pass

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
    """One map method: a formula over one detector pass giving a map per frame, registered by name."""

    name: str
    compute: Callable[[DetectorPass], np.ndarray]
    needs_input_grads: bool


@dataclass(frozen=True)
class FrameImportanceMethod:
    """One way of measuring how much each frame counted; its module owns everything about it:
    the formula, what the report says of it, and what it cannot show."""

    name: str
    compute: Callable[[DetectorPass], FrameImportance]
    label: str  # chart row label
    description: str  # one plain sentence for the report: what a bar shows and how to read it
    limitation: str  # one plain sentence for the report's limitations
    signed: bool = True  # bars may go below the line
    needs_input_grads: bool = False
    min_frames: int = 1  # shortest clip the method can measure
    selects_key_frames: bool = False  # the key frames are the frames it ranks highest


class DetectorLike(Protocol):
    """What the trust checks (`motion`, `counterfactual`, `sanity`, `checks`) use of an
    `auditor.detector.Detector`, named here so that explain never imports the detector package."""

    model: Any  # the loaded keras.Model
    model_path: Path
    model_sha256: str
    layer_name: str
    class_names: tuple[str, ...]
    input_shape: tuple
    binary: bool
    output_activation: str

    @property
    def frames_per_clip(self) -> int | None: ...
    def probabilities(self, logits: np.ndarray) -> np.ndarray: ...
    def window_logits(self, features: np.ndarray) -> np.ndarray: ...
    def frame_features(self, frames: np.ndarray, batch_size: int = 16) -> np.ndarray: ...
    def clip_probabilities(self, clips: np.ndarray, batch_size: int = 64) -> np.ndarray: ...
    def preprocess(self, frames: np.ndarray) -> np.ndarray: ...
    def resize(self, frames: np.ndarray) -> np.ndarray: ...
    def gradients(
        self, frames: np.ndarray, target: int | str | None = None, layer: str | None = None, input_grads: bool = True
    ) -> DetectorPass: ...
    def static_clip_pass(
        self, frames: np.ndarray, target: int | str | None = None, layer: str | None = None, input_grads: bool = True
    ) -> DetectorPass: ...
    def layer_names(self) -> list[str]: ...
    def weighted_layers(self) -> list[tuple[int, Any]]: ...
    def fresh_copy(self) -> DetectorLike: ...


@dataclass(frozen=True)
class DecisionRule:
    """When the detector raises an alert: its top class is not the normal class and the class's
    probability reaches the threshold."""

    threshold: float
    normal_class: str | None = None

    def raises_alert(self, class_name: str, probability: float) -> bool:
        """Whether a clip whose top class is `class_name`, at `probability`, raises an alert."""
        return class_name != self.normal_class and probability >= self.threshold
