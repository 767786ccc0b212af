"""Keras model adapter: find the TimeDistributed CNN, split it at the target layer, and compile
the functions per target layer that return logits, the layer's maps, the gradients, and the
logits of edited clips.

The model is rebuilt (sharing its weights) as

    x (T,H,W,C) ─► TimeDistributed(encoder) ─► A (T,h,w,K) ─► TimeDistributed(upper) ─► F (T,...)
        ─► head ─► logits

where `encoder` is the per-frame CNN up to the target layer A, `upper` the rest of the per-frame
network (F: its per-frame features), `head` the recurrent and dense layers, and `logits` the last
Dense layer without its activation (DESIGN §2: never differentiate a saturated probability).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from auditor._tensorflow import keras, tf
from auditor.errors import ModelError, VideoError
from auditor.explain import (
    DEFAULT_FRAME_METHODS,
    DEFAULT_METHODS,
    FRAME_METHODS,
    METHODS,
    Explanation,
    Gradients,
)
from auditor.files import sha256_file
from auditor.sidecar import Sidecar, read_sidecar

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True)
class _Step:
    """One per-frame operation of the TimeDistributed CNN, with the name a user can target."""

    name: str
    apply: Callable


@dataclass(frozen=True)
class _Split:
    """The model rebuilt around one target layer, with its compiled gradient functions."""

    layer_name: str
    encoder: keras.Model  # (1,T,H,W,C) -> A
    upper: keras.Model  # A -> F, the per-frame features (output of the TimeDistributed CNN)
    head: keras.Model  # F -> input of the final Dense layer
    gradcam_fn: Callable
    full_fn: Callable
    logits_fn: Callable  # F for N clips (N,T,...) -> logits (N, n_classes)


class Detector:
    """A loaded video classifier that can explain its decisions frame by frame."""

    def __init__(self, model: keras.Model, model_path: Path, sidecar: Sidecar, class_names: Sequence[str]):
        self.model = model
        self.model_path = Path(model_path)
        self.model_sha256 = sha256_file(self.model_path)
        self.sidecar = sidecar
        self.class_names = tuple(class_names)
        self.input_shape = _frame_input_shape(model)
        self._td_layers, self._head_layers, self._final = _split_top_level(model)
        self._steps = _per_frame_steps(self._td_layers)
        self.output_activation = _activation_name(self._final)
        self.layer_name = self._default_layer_name()
        self._splits: dict[str, _Split] = {}

    @property
    def preprocessing(self) -> str:
        return self.sidecar.preprocessing

    @property
    def frames_per_clip(self) -> int | None:
        return self.input_shape[0]

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """Resize uint8 RGB frames to the model input and apply the sidecar's preprocessing."""
        resized = self.resize(frames)
        return _preprocess(resized.astype(np.float32), self.preprocessing)

    def resize(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames (T, H', W', 3) at the model's input size (T, H, W, 3)."""
        _check_frames(frames, self.frames_per_clip)
        height, width = self.input_shape[1:3]
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])

    def explain(
        self,
        frames: np.ndarray,
        target: int | str | None = None,
        layer: str | None = None,
        methods: Sequence[str] = DEFAULT_METHODS,
        frame_methods: Sequence[str] = DEFAULT_FRAME_METHODS,
    ) -> Explanation:
        """Explain the score of `target` (default: the predicted class) on one clip.

        One forward + backward pass gives the maps and gradient × input; frame occlusion adds one
        batched pass of the layers above the per-frame CNN.
        """
        _check_names(methods, METHODS, "explanation method")
        _check_names(frame_methods, FRAME_METHODS, "frame-importance method")
        chosen = [METHODS[m] for m in methods] + [FRAME_METHODS[m] for m in frame_methods]
        resized = self.resize(frames)
        gradients = self.gradients(resized, target, layer, any(m.needs_input_grads for m in chosen))
        return Explanation(
            frames=resized,
            maps={m: METHODS[m].compute(gradients) for m in methods},
            frame_scores={m: FRAME_METHODS[m].compute(gradients) for m in frame_methods},
            occluded_probabilities=(
                self.probabilities(gradients.neighbour_logits[1:].astype(np.float32)) if "occlusion" in frame_methods else None
            ),
            logits=gradients.logits,
            probabilities=self.probabilities(gradients.logits),
            class_names=self.class_names,
            target_index=gradients.target_index,
            layer_name=layer or self.layer_name,
            preprocessing=self.preprocessing,
            parameters={"output_activation": self.output_activation},
        )

    def gradients(
        self, frames: np.ndarray, target: int | str | None = None, layer: str | None = None, input_grads: bool = True
    ) -> Gradients:
        """One forward + backward pass: logits, target-layer maps and their gradients (and dy/dx)."""
        x = tf.constant(self.preprocess(frames)[np.newaxis])
        target_index = tf.constant(self._target_index(target), dtype=tf.int32)
        split = self._split(layer or self.layer_name)
        out = (split.full_fn if input_grads else split.gradcam_fn)(x, target_index)
        return Gradients(
            inputs=x.numpy()[0],
            activations=out["maps"].numpy(),
            activation_grads=out["maps_grad"].numpy(),
            input_grads=out["input_grad"].numpy() if input_grads else None,
            logits=out["logits"].numpy(),
            target_index=int(out["index"].numpy()),
            frame_features=out["features"].numpy(),
            logits_from_features=lambda features: split.logits_fn(tf.constant(features, tf.float32)).numpy(),
        )

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities of one clip, from the original model."""
        x = self.preprocess(frames)[np.newaxis]
        return np.asarray(self.model(x, training=False))[0]

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The model's own output activation applied to logits (n,) or (N, n) (softmax when the head is linear)."""
        logits = tf.constant(logits[np.newaxis])
        if self.output_activation == "sigmoid":
            return tf.sigmoid(logits).numpy()[0]
        return tf.nn.softmax(logits).numpy()[0]

    def layer_names(self) -> list[str]:
        """Names of the per-frame layers that can be chosen as the Grad-CAM target."""
        return [step.name for step in self._steps]

    def _target_index(self, target: int | str | None) -> int:
        if target is None:
            return -1
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
        spatial = [name for name, shape in self._trace_shapes() if len(shape) == 3 and min(shape[:2]) > 1]
        if not spatial:
            raise ModelError(
                f"{self.model_path.name}: the TimeDistributed part has no layer with a spatial map (h, w, K); "
                "Grad-CAM needs a CNN inside TimeDistributed"
            )
        return spatial[-1]

    def _trace_shapes(self) -> list[tuple[str, tuple]]:
        tensor = keras.Input(self.input_shape[1:])
        shapes = []
        for step in self._steps:
            tensor = step.apply(tensor)
            shapes.append((step.name, tuple(tensor.shape[1:])))
        return shapes

    def _split(self, layer_name: str) -> _Split:
        if layer_name not in self._splits:
            self._splits[layer_name] = self._build_split(layer_name)
        return self._splits[layer_name]

    def _build_split(self, layer_name: str) -> _Split:
        names = self.layer_names()
        if layer_name not in names:
            raise ModelError(
                f"layer {layer_name!r} is not a per-frame layer of the TimeDistributed CNN; choose one of {names}"
            )
        cut = names.index(layer_name) + 1
        frame_encoder = _chain_model(self._steps[:cut], self.input_shape[1:], "auditor_frame_encoder")
        target_shape = tuple(frame_encoder.output.shape[1:])
        if len(target_shape) != 3:
            raise ModelError(f"layer {layer_name!r} outputs shape {target_shape}, not a spatial map (h, w, K)")
        frame_upper = _chain_model(self._steps[cut:], target_shape, "auditor_frame_upper")
        encoder = _time_distributed_model(frame_encoder, self.input_shape, "auditor_encoder")
        upper = _time_distributed_model(frame_upper, (self.input_shape[0], *target_shape), "auditor_upper")
        head = _head_model(self._head_layers, tuple(upper.output.shape[1:]))
        return _Split(layer_name, encoder, upper, head, *_compile_functions(encoder, upper, head, self._final))


def load_detector(path: Path | str, class_names: Sequence[str] | None = None, layer: str | None = None) -> Detector:
    """Load a Keras 3 `.keras` or legacy `.h5` video classifier with its sidecar (if any).

    Class names come from `class_names`, else from the sidecar, else `class_0 …`.
    `layer` overrides the sidecar's Grad-CAM target layer.
    """
    path = Path(path)
    sidecar = read_sidecar(path)
    if layer:
        sidecar = sidecar.model_copy(update={"target_layer": layer})
    model = _load_keras_model(path)
    names = _resolve_class_names(path, model, class_names, sidecar)
    detector = Detector(model, path, sidecar, names)
    detector._split(detector.layer_name)
    return detector


def _load_keras_model(path: Path) -> keras.Model:
    if path.is_dir() and looks_like_keras2(path):
        raise ModelError(
            f"{path} is a Keras 2 SavedModel; convert it once with: auditor import-model {path} --out MODEL.keras"
        )
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; check the path")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} is not a Keras model; expected one of {', '.join(MODEL_SUFFIXES)}")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for unreadable files
        if looks_like_keras2(path):
            raise ModelError(
                f"{path.name} is a Keras 2 model that Keras 3 cannot read; convert it once with: "
                f"auditor import-model {path} --out {path.with_suffix('.keras')}"
            ) from exc
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot read model file {path.name} ({reason}); is it a complete Keras 3 .keras or .h5 file?"
        ) from exc


def looks_like_keras2(path: Path | str) -> bool:
    """Cheap check: a Keras 2 `.h5` full model, architecture `.json` or SavedModel folder."""
    path = Path(path)
    try:
        if path.is_dir():
            return (path / "saved_model.pb").is_file()
        if path.suffix.lower() == ".json":
            return str(json.loads(path.read_text(encoding="utf-8")).get("keras_version", "")).startswith("2.")
        with h5py.File(path, "r") as handle:
            return "model_config" in handle.attrs and h5_text(handle.attrs.get("keras_version", "")).startswith("2.")
    except Exception:  # noqa: BLE001 - any unreadable file is simply "not Keras 2"
        return False


def h5_text(value: object) -> str:
    """An HDF5 string attribute as text (h5py returns bytes or str depending on how it was stored)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _resolve_class_names(
    path: Path, model: keras.Model, given: Sequence[str] | None, sidecar: Sidecar
) -> tuple[str, ...]:
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    names = list(given or sidecar.class_names or [f"class_{i}" for i in range(outputs or 0)])
    if outputs is not None and len(names) != outputs:
        raise ModelError(
            f"{path.name} has {outputs} outputs but {len(names)} class names were given; "
            "fix class_names in the sidecar or the --classes option"
        )
    return tuple(names)


def _frame_input_shape(model: keras.Model) -> tuple:
    shape = tuple(model.inputs[0].shape) if model.inputs else ()
    if len(shape) != 5 or shape[-1] != 3 or None in shape[2:]:
        raise ModelError(
            f"the model's input shape is {shape}, not a clip (batch, T, H, W, 3); "
            "auditor explains video models whose input is a stack of RGB frames"
        )
    return shape[1:]


def _split_top_level(model: keras.Model) -> tuple[list, list, keras.layers.Layer]:
    """The leading TimeDistributed layers, the head layers, and the final Dense layer."""
    layers = [layer for layer in _linear_chain(model) if not isinstance(layer, keras.layers.InputLayer)]
    count = 0
    while count < len(layers) and isinstance(layers[count], keras.layers.TimeDistributed):
        count += 1
    if count == 0:
        raise ModelError(
            f"model {model.name!r} does not start with a TimeDistributed CNN "
            f"(first layer: {type(layers[0]).__name__ if layers else 'none'}); auditor explains "
            "TimeDistributed(CNN) → recurrent → dense video classifiers"
        )
    head, final = _final_dense(layers[count:], model.name)
    return layers[:count], head, final


def _final_dense(layers: list, model_name: str) -> tuple[list, keras.layers.Layer]:
    """Split off the last Dense layer; a trailing Activation/Softmax layer is dropped (logits)."""
    trimmed = list(layers)
    while trimmed and isinstance(trimmed[-1], (keras.layers.Activation, keras.layers.Softmax)):
        trimmed.pop()
    if not trimmed or not isinstance(trimmed[-1], keras.layers.Dense):
        raise ModelError(f"model {model_name!r} does not end in a Dense layer; cannot take class logits")
    return trimmed[:-1], trimmed[-1]


def _activation_name(dense: keras.layers.Layer) -> str:
    return getattr(dense.activation, "__name__", "linear")


def _linear_chain(model: keras.Model) -> list:
    """The model's layers in order, when each feeds only the next one (else ModelError)."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    layers = list(model.layers)
    for previous, layer in zip(layers, layers[1:]):
        tensor = _connection(layer, "input")
        if tensor is None or tensor is not _connection(previous, "output"):
            raise ModelError(
                f"model {model.name!r} is not a single chain of layers (layer {layer.name!r} does not "
                f"take the output of {previous.name!r}); branching outer models are not supported"
            )
    return layers


def _connection(layer: keras.layers.Layer, side: str) -> object:
    """`layer.input` or `layer.output`; None when the layer has no single call to tell it."""
    try:
        return getattr(layer, side)
    except (AttributeError, ValueError):
        return None


def _per_frame_steps(td_layers: list) -> list[_Step]:
    """The per-frame operations inside the TimeDistributed layers, nested models expanded."""
    steps: list[_Step] = []
    for td in td_layers:
        inner = td.layer
        if isinstance(inner, keras.Model):
            steps.extend(_model_steps(inner))
        else:
            steps.append(_Step(inner.name, inner))
    return steps


def _model_steps(model: keras.Model) -> list[_Step]:
    """A nested model's layers as steps; a branching model stays one step (targetable as a whole)."""
    try:
        chain = _linear_chain(model)
    except ModelError:
        log.info("nested model %s branches; only its output can be the Grad-CAM target", model.name)
        return [_Step(model.name, model)]
    steps: list[_Step] = []
    for layer in chain:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        steps.extend(_model_steps(layer) if isinstance(layer, keras.Model) else [_Step(layer.name, layer)])
    return steps


def _chain_model(steps: list[_Step], input_shape: tuple, name: str) -> keras.Model:
    inputs = keras.Input(input_shape)
    tensor = inputs
    for step in steps:
        tensor = step.apply(tensor)
    return keras.Model(inputs, tensor, name=name)


def _time_distributed_model(frame_model: keras.Model, clip_shape: tuple, name: str) -> keras.Model:
    inputs = keras.Input(clip_shape)
    return keras.Model(inputs, keras.layers.TimeDistributed(frame_model)(inputs), name=name)


def _head_model(head_layers: list, features_shape: tuple) -> keras.Model:
    inputs = keras.Input(features_shape)
    tensor = inputs
    for layer in head_layers:
        tensor = layer(tensor)
    return keras.Model(inputs, tensor, name="auditor_head")


def _compile_functions(
    encoder: keras.Model, upper: keras.Model, head: keras.Model, final: keras.layers.Layer
) -> tuple[Callable, Callable, Callable]:
    """Three tf.functions: Grad-CAM only (tape from A up), Grad-CAM + saliency (one tape from x),
    and the logits of a batch of per-frame feature sequences (no tape).

    The time axis is never relaxed: Keras 3's TimeDistributed maps over the batch axis when the
    time axis is dynamic, so a model of unfixed T is traced once per clip length; a model of fixed
    T is traced once, and `logits_fn` accepts any batch size.
    """
    kernel, bias = final.kernel, final.bias

    def logits_of(features: tf.Tensor) -> tf.Tensor:
        logits = tf.matmul(head(features, training=False), kernel)
        return logits + bias if bias is not None else logits

    def chosen(logits: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        return tf.where(target < 0, tf.argmax(logits[0], output_type=tf.int32), target)

    def record(index: tf.Tensor, **batched: tf.Tensor) -> dict:
        return {"index": index, **{name: value[0] for name, value in batched.items()}}

    @tf.function
    def gradcam_fn(x: tf.Tensor, target: tf.Tensor) -> dict:
        maps = encoder(x, training=False)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            features = upper(maps, training=False)
            logits = logits_of(features)
            index = chosen(logits, target)
            score = tf.gather(logits[0], index)
        maps_grad, input_grad = tape.gradient(score, maps), tf.zeros((1, 0))
        return record(index, logits=logits, maps=maps, features=features, maps_grad=maps_grad, input_grad=input_grad)

    @tf.function
    def full_fn(x: tf.Tensor, target: tf.Tensor) -> dict:
        with tf.GradientTape() as tape:
            tape.watch(x)
            maps = encoder(x, training=False)
            features = upper(maps, training=False)
            logits = logits_of(features)
            index = chosen(logits, target)
            score = tf.gather(logits[0], index)
        maps_grad, input_grad = tape.gradient(score, [maps, x])
        return record(index, logits=logits, maps=maps, features=features, maps_grad=maps_grad, input_grad=input_grad)

    features_shape = tuple(head.input.shape[1:])
    signature = [tf.TensorSpec((None, *features_shape), tf.float32)] if features_shape[0] is not None else None
    return gradcam_fn, full_fn, tf.function(logits_of, input_signature=signature)


def _check_names(names: Sequence[str], registry: Mapping[str, object], kind: str) -> None:
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ModelError(f"unknown {kind} {unknown[0]!r}; choose from {sorted(registry)}")


def _check_frames(frames: np.ndarray, expected_frames: int | None) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise VideoError(f"frames must be a uint8 RGB array (T, H, W, 3); got {type(frames).__name__} {shape}")
    if expected_frames is not None and frames.shape[0] != expected_frames:
        raise VideoError(f"the model takes clips of {expected_frames} frames; got {frames.shape[0]}")


def _preprocess(x: np.ndarray, mode: str) -> np.ndarray:
    """Float RGB in [0, 255] → the model's input convention (see auditor.sidecar)."""
    if mode == "unit":
        return x / np.float32(255.0)
    return keras.applications.imagenet_utils.preprocess_input(x, mode=mode).astype(np.float32)
