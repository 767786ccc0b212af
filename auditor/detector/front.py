"""The `Detector`: a loaded video classifier that resizes and preprocesses clips, runs one
detector pass per explanation, and turns the pass into maps and frame scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from auditor._tensorflow import keras, tf
from auditor.detector.anatomy import (
    activation_name,
    frame_input_shape,
    frame_model,
    head_model,
    per_frame_steps,
    split_at,
    split_top_level,
    trace_shapes,
    weighted_layers,
)
from auditor.detector.passes import Passes, compile_frames, compile_logits, compile_passes, head_logits
from auditor.detector.sidecar import Sidecar
from auditor.errors import ModelError, VideoError
from auditor.explain import (
    DEFAULT_FRAME_IMPORTANCE,
    DEFAULT_METHODS,
    FRAME_IMPORTANCE,
    METHODS,
    ClipExplanation,
    DetectorPass,
)
from auditor.files import sha256_file


class Detector:
    """A loaded video classifier that can explain its decisions frame by frame.

    Nothing here calls the loaded `model` itself (Keras would unroll its TimeDistributed CNN into
    T copies): the per-frame CNN runs on frames as one batch, the layers above it on windows of
    per-frame features (see `anatomy`, `passes`).
    """

    def __init__(
        self, model: keras.Model, model_path: Path, sidecar: Sidecar, class_names: Sequence[str],
        reload: Callable[[], Detector] | None = None,
    ):
        self.model = model
        self._reload = reload
        self.model_path = Path(model_path)
        self.model_sha256 = sha256_file(self.model_path)
        self.sidecar = sidecar
        self.class_names = tuple(class_names)
        self.input_shape = frame_input_shape(model)
        self._td_layers, self._head_layers, self._final = split_top_level(model)
        self._steps = per_frame_steps(self._td_layers)
        self.output_activation = activation_name(self._final)
        self.binary = int(self._final.kernel.shape[-1]) == 1  # one sigmoid unit: logits [0, z] (auditor.detector.sidecar)
        self.layer_name = self._default_layer_name()
        self._compiled: dict[str, Passes] = {}

    @property
    def preprocessing(self) -> str:
        return self.sidecar.preprocessing

    @property
    def frames_per_clip(self) -> int | None:
        return self.input_shape[0]

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """Resize uint8 RGB frames to the model input and apply the sidecar's preprocessing."""
        _check_frames(frames, self.frames_per_clip)
        return self.prepare_frames(frames)

    def resize(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames (T, H', W', 3) at the model's input size (T, H, W, 3)."""
        _check_frames(frames, self.frames_per_clip)
        return self._resized(frames)

    def prepare_frames(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames (N, H', W', 3), any N >= 1 → float32 model input (N, H, W, 3): resized
        (INTER_AREA, as `resize`) and preprocessed per the sidecar. No clip-length check."""
        _check_frames(frames, None)
        return _preprocess(self._resized(frames).astype(np.float32), self.preprocessing)

    def frame_features(self, frames: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Per-frame features F (N, *F) = the output of the TimeDistributed CNN for each frame, from
        uint8 RGB frames (N, H', W', 3); one compiled batched function (traced once per detector,
        input signature (None, H, W, 3)), run in chunks of batch_size."""
        _check_frames(frames, None)
        chunks = [
            self.features_of_prepared(self.prepare_frames(frames[start : start + batch_size]))
            for start in range(0, len(frames), batch_size)
        ]
        return np.concatenate(chunks)

    def features_of_prepared(self, inputs: np.ndarray) -> np.ndarray:
        """Per-frame features (N, *F) of model inputs `prepare_frames` made (N, H, W, 3), in one call."""
        return self._frame_cnn(tf.constant(inputs, tf.float32)).numpy()

    def window_logits(self, features: np.ndarray) -> np.ndarray:
        """Logits (N, n_classes) of N windows of per-frame features (N, T, *F) (binary detectors:
        [0, z]); only the layers above the CNN run."""
        return self._window_logits(tf.constant(features, tf.float32)).numpy()

    def window_probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N, n_classes) of N windows (the model's own output activation;
        binary: [1-p, p])."""
        return self.probabilities(self.window_logits(features))

    def clip_logits(self, clips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Logits (N, n_classes) of N edited clips of uint8 RGB frames (N, T, H', W', 3), any frame
        size: every frame goes through the per-frame CNN in batches of `batch_size`, then each clip
        through the layers above it; equal to scoring each clip on its own."""
        if not isinstance(clips, np.ndarray) or clips.ndim != 5:
            raise VideoError(f"clips must be a uint8 array (N, T, H, W, 3); got shape {getattr(clips, 'shape', None)}")
        count, length = clips.shape[:2]
        _check_frames(clips[0], self.frames_per_clip)
        features = self.frame_features(clips.reshape(count * length, *clips.shape[2:]), batch_size)
        return self.window_logits(features.reshape(count, length, *features.shape[1:]))

    def clip_probabilities(self, clips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities (N, n_classes) of N clips (N, T, H', W', 3), as `clip_logits`."""
        return self.probabilities(self.clip_logits(clips, batch_size))

    def explain(
        self,
        frames: np.ndarray,
        target: int | str | None = None,
        layer: str | None = None,
        methods: Sequence[str] = DEFAULT_METHODS,
        frame_importance: Sequence[str] = DEFAULT_FRAME_IMPORTANCE,
    ) -> ClipExplanation:
        """Explain the score of `target` (default: the predicted class) on one clip.

        One forward + backward pass gives the maps and gradient × input; methods that score
        edited clips (frame occlusion) add one batched pass of the layers above the per-frame CNN.
        """
        _check_names(methods, METHODS, "explanation method")
        _check_names(frame_importance, FRAME_IMPORTANCE, "frame-importance method")
        chosen = [METHODS[m] for m in methods] + [FRAME_IMPORTANCE[m] for m in frame_importance]
        resized = self.resize(frames)
        detector_pass = self.gradients(resized, target, layer, any(m.needs_input_grads for m in chosen))
        return ClipExplanation(
            frames=resized,
            maps={m: METHODS[m].compute(detector_pass) for m in methods},
            frame_importance={m: FRAME_IMPORTANCE[m].compute(detector_pass) for m in frame_importance},
            logits=detector_pass.logits,
            probabilities=self.probabilities(detector_pass.logits),
            class_names=self.class_names,
            target_index=detector_pass.target_index,
            layer_name=layer or self.layer_name,
            preprocessing=self.preprocessing,
            parameters={"output_activation": self.output_activation},
            frame_features=detector_pass.frame_features,
        )

    def gradients(
        self, frames: np.ndarray, target: int | str | None = None, layer: str | None = None, input_grads: bool = True
    ) -> DetectorPass:
        """One forward + backward pass: logits, target-layer maps and their gradients (and dy/dx)."""
        passes = self._passes(layer or self.layer_name)
        run = passes.maps_with_input_gradient if input_grads else passes.maps_without_input_gradient
        return self._detector_pass(run, frames, target, input_grads)

    def static_clip_pass(
        self, frames: np.ndarray, target: int | str | None = None, layer: str | None = None, input_grads: bool = True
    ) -> DetectorPass:
        """The T static clips of a clip (static clip t: frame t repeated T times, no motion) in one
        compiled pass: row t of `activation_grads` (and `input_grads`) is static clip t's gradient of
        the explained class's logit (the clip's own explained class, as `gradients`) at position t,
        so the map methods give each frame's spatial map. `activations`, `frame_features` and
        `logits` are the clip's own (the static clip t has A[t] and F[t] at every position)."""
        passes = self._passes(layer or self.layer_name)
        run = passes.static_with_input_gradient if input_grads else passes.static_without_input_gradient
        return self._detector_pass(run, frames, target, input_grads)

    def _detector_pass(
        self, run: Callable, frames: np.ndarray, target: int | str | None, input_grads: bool
    ) -> DetectorPass:
        """One compiled maps pass over the clip's preprocessed frames, as a DetectorPass."""
        x = tf.constant(self.preprocess(frames))
        out = run(x, tf.constant(self._target_index(target), dtype=tf.int32))
        return DetectorPass(
            inputs=x.numpy(),
            activations=out["maps"].numpy(),
            activation_grads=out["maps_grad"].numpy(),
            input_grads=out["input_grad"].numpy() if input_grads else None,
            logits=out["logits"].numpy(),
            target_index=int(out["index"].numpy()),
            frame_features=out["features"].numpy(),
            logits_from_features=self.window_logits,
            probabilities_from_logits=self.probabilities,
        )

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities of one clip ([1 - p, p] for a binary detector): the per-frame CNN on
        its frames, then the layers above it (equal to the loaded model's output)."""
        _check_frames(frames, self.frames_per_clip)
        return self.window_probabilities(self.frame_features(frames)[np.newaxis])[0]

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The model's own output activation applied to logits (n,) or (N, n) (softmax when the head is
        linear, and for a binary detector's logits [0, z], giving [1 - p, p])."""
        logits = tf.constant(logits[np.newaxis])
        if self.output_activation == "sigmoid" and not self.binary:
            return tf.sigmoid(logits).numpy()[0]
        return tf.nn.softmax(logits).numpy()[0]

    def fresh_copy(self) -> Detector:
        """An independent detector loaded again from the same file, with its own weights (what the
        model-randomisation check re-initialises, leaving this one untouched)."""
        if self._reload is None:
            raise ModelError("this detector was not loaded from a file by load_detector; it cannot be copied")
        return self._reload()

    def weighted_layers(self) -> list[tuple[int, keras.layers.Layer]]:
        """The per-frame CNN's layers that hold weights, bottom to top, with their step index."""
        return weighted_layers(self._steps)

    def layer_names(self) -> list[str]:
        """Names of the per-frame layers that can be chosen as the Grad-CAM target."""
        return [step.name for step in self._steps]

    def _target_index(self, target: int | str | None) -> int:
        """The explained class; by default the predicted one, for a binary detector the anomaly (z)."""
        if target is None:
            return 1 if self.binary else -1
        if isinstance(target, str):
            if target not in self.class_names:
                raise ModelError(f"unknown class {target!r}; the model's classes are {list(self.class_names)}")
            return self.class_names.index(target)
        if not 0 <= int(target) < len(self.class_names):
            raise ModelError(f"class index {target} is out of range 0..{len(self.class_names) - 1}")
        return int(target)

    def _default_layer_name(self) -> str:
        if self.sidecar.target_layer:
            return self.sidecar.target_layer
        shapes = trace_shapes(self._steps, self.input_shape[1:])
        spatial = [name for name, shape in shapes if len(shape) == 3 and min(shape[:2]) > 1]
        if not spatial:
            raise ModelError(
                f"{self.model_path.name}: the TimeDistributed part has no layer with a spatial map (h, w, K); "
                "Grad-CAM needs a CNN inside TimeDistributed"
            )
        return spatial[-1]

    def _resized(self, frames: np.ndarray) -> np.ndarray:
        height, width = self.input_shape[1:3]
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])

    @cached_property
    def _frame_cnn(self) -> Callable:
        """The whole per-frame CNN, compiled for any number of frames."""
        return compile_frames(frame_model(self._steps, self.input_shape[1:]))

    @cached_property
    def _window_shape(self) -> tuple:
        """(T, *F): one window of per-frame features, T None when unfixed."""
        return (self.frames_per_clip, *trace_shapes(self._steps, self.input_shape[1:])[-1][1])

    @cached_property
    def _head_logits(self) -> Callable:
        """Windows of per-frame features (N, T, *F) -> logits, uncompiled (for the maps passes' tapes)."""
        return head_logits(head_model(self._head_layers, self._window_shape), self._final)

    @cached_property
    def _window_logits(self) -> Callable:
        """`_head_logits` compiled once for any number of windows (and, T unfixed, any length)."""
        return compile_logits(self._head_logits, self._window_shape)

    def _passes(self, layer_name: str) -> Passes:
        """The compiled passes of one target layer, built on first use and kept."""
        if layer_name not in self._compiled:
            split = split_at(layer_name, self._steps, self.input_shape[1:])
            self._compiled[layer_name] = compile_passes(
                split, self._head_logits, self._window_logits, self.frames_per_clip
            )
        return self._compiled[layer_name]


def _check_names(names: Sequence[str], registry: Mapping[str, object], kind: str) -> None:
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ModelError(f"unknown {kind} {unknown[0]!r}; choose from {sorted(registry)}")


def _check_frames(frames: np.ndarray, expected_frames: int | None) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise VideoError(f"frames must be a uint8 RGB array (T, H, W, 3); got {type(frames).__name__} {shape}")
    if frames.shape[0] == 0:
        raise VideoError("no frames were given; pass at least one uint8 RGB frame (N, H, W, 3)")
    if expected_frames is not None and frames.shape[0] != expected_frames:
        raise VideoError(f"the model takes clips of {expected_frames} frames; got {frames.shape[0]}")


def _preprocess(x: np.ndarray, mode: str) -> np.ndarray:
    """Float RGB in [0, 255] → the model's input convention (see auditor.detector.sidecar)."""
    if mode == "unit":
        return x / np.float32(255.0)
    return keras.applications.imagenet_utils.preprocess_input(x, mode=mode).astype(np.float32)
