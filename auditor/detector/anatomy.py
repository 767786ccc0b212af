"""Taking a TimeDistributed(CNN) → recurrent → Dense video classifier apart, and rebuilding it
(sharing its weights) around one target layer of the per-frame CNN:

    x (T,H,W,C) ─► encoder ─► A (T,h,w,K) ─► upper ─► F (T,...) ─► head (1,T,...) ─► logits

where `encoder` is the per-frame CNN up to the target layer A, `upper` the rest of the per-frame
network (F: its per-frame features), `head` the recurrent and dense layers, and `logits` the last
Dense layer without its activation (DESIGN §2: never differentiate a saturated probability).

`encoder` and `upper` are per-frame models run on the clip's T frames as one batch, never wrapped
in TimeDistributed: Keras 3 unrolls a TimeDistributed layer of fixed T into T copies of the CNN
(DESIGN §4), so a graph built that way, and the time to trace it, grow with T. The CNN sees each
frame alone (inference mode), so the batched maps and their gradients are the per-frame ones.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from auditor._tensorflow import keras
from auditor.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One per-frame operation of the TimeDistributed CNN, with the name a user can target."""

    name: str
    apply: Callable


@dataclass(frozen=True)
class Split:
    """The model rebuilt around one target layer (sharing its weights)."""

    layer_name: str
    encoder: keras.Model  # frames (N,H,W,C) -> A (N,h,w,K)
    upper: keras.Model  # A -> F (N,...), the per-frame features (output of the TimeDistributed CNN)


def frame_input_shape(model: keras.Model) -> tuple:
    """The model's clip shape (T, H, W, 3), T None when unfixed (else ModelError)."""
    shape = tuple(model.inputs[0].shape) if model.inputs else ()
    if len(shape) != 5 or shape[-1] != 3 or None in shape[2:]:
        raise ModelError(
            f"the model's input shape is {shape}, not a clip (batch, T, H, W, 3); "
            "auditor explains video models whose input is a stack of RGB frames"
        )
    return shape[1:]


def split_top_level(model: keras.Model) -> tuple[list, list, keras.layers.Layer]:
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


def activation_name(dense: keras.layers.Layer) -> str:
    """The name of a Dense layer's activation ("linear" when it has none)."""
    return getattr(dense.activation, "__name__", "linear")


def per_frame_steps(td_layers: list) -> list[Step]:
    """The per-frame operations inside the TimeDistributed layers, nested models expanded."""
    steps: list[Step] = []
    for td in td_layers:
        inner = td.layer
        if isinstance(inner, keras.Model):
            steps.extend(_model_steps(inner))
        else:
            steps.append(Step(inner.name, inner))
    return steps


def trace_shapes(steps: list[Step], frame_shape: tuple) -> list[tuple[str, tuple]]:
    """Each step's name and per-frame output shape, traced on a fresh input of `frame_shape`."""
    tensor = keras.Input(frame_shape)
    shapes = []
    for step in steps:
        tensor = step.apply(tensor)
        shapes.append((step.name, tuple(tensor.shape[1:])))
    return shapes


def frame_model(steps: list[Step], frame_shape: tuple) -> keras.Model:
    """The whole per-frame CNN, frames (N,H,W,C) -> F (N,...), sharing the model's weights."""
    return _chain_model(steps, frame_shape, "auditor_frame_cnn")


def head_model(head_layers: list, features_shape: tuple) -> keras.Model:
    """The layers above the CNN: windows of per-frame features (N,T,...) -> input of the final Dense."""
    inputs = keras.Input(features_shape)
    tensor = inputs
    for layer in head_layers:
        tensor = layer(tensor)
    return keras.Model(inputs, tensor, name="auditor_head")


def weighted_layers(steps: list[Step]) -> list[tuple[int, keras.layers.Layer]]:
    """The per-frame layers that hold weights, bottom to top, each with the index of its step in
    `steps` (a step that is a whole nested model gives each of its weighted layers, under its index)."""
    found: list[tuple[int, keras.layers.Layer]] = []
    for index, step in enumerate(steps):
        found.extend((index, layer) for layer in _weighted(step.apply))
    return found


def split_at(layer_name: str, steps: list[Step], frame_shape: tuple) -> Split:
    """The per-frame CNN split at the layer `layer_name` (else ModelError)."""
    names = [step.name for step in steps]
    if layer_name not in names:
        raise ModelError(
            f"layer {layer_name!r} is not a per-frame layer of the TimeDistributed CNN; choose one of {names}"
        )
    cut = names.index(layer_name) + 1
    encoder = _chain_model(steps[:cut], frame_shape, "auditor_frame_encoder")
    target_shape = tuple(encoder.output.shape[1:])
    if len(target_shape) != 3:
        raise ModelError(f"layer {layer_name!r} outputs shape {target_shape}, not a spatial map (h, w, K)")
    return Split(layer_name, encoder, _chain_model(steps[cut:], target_shape, "auditor_frame_upper"))


def _final_dense(layers: list, model_name: str) -> tuple[list, keras.layers.Layer]:
    """Split off the last Dense layer; a trailing Activation/Softmax layer is dropped (logits)."""
    trimmed = list(layers)
    while trimmed and isinstance(trimmed[-1], (keras.layers.Activation, keras.layers.Softmax)):
        trimmed.pop()
    if not trimmed or not isinstance(trimmed[-1], keras.layers.Dense):
        raise ModelError(f"model {model_name!r} does not end in a Dense layer; cannot take class logits")
    return trimmed[:-1], trimmed[-1]


def _linear_chain(model: keras.Model) -> list:
    """The model's layers in order, when each feeds only the next one (else ModelError)."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    layers = list(model.layers)
    for previous, layer in itertools.pairwise(layers):
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


def _model_steps(model: keras.Model) -> list[Step]:
    """A nested model's layers as steps; a branching model stays one step (targetable as a whole)."""
    try:
        chain = _linear_chain(model)
    except ModelError:
        log.info("nested model %s branches; only its output can be the Grad-CAM target", model.name)
        return [Step(model.name, model)]
    steps: list[Step] = []
    for layer in chain:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        steps.extend(_model_steps(layer) if isinstance(layer, keras.Model) else [Step(layer.name, layer)])
    return steps


def _weighted(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    if isinstance(layer, keras.Model):
        return [inner for sub in layer.layers for inner in _weighted(sub)]
    return [layer] if layer.weights else []


def _chain_model(steps: list[Step], input_shape: tuple, name: str) -> keras.Model:
    inputs = keras.Input(input_shape)
    tensor = inputs
    for step in steps:
        tensor = step.apply(tensor)
    return keras.Model(inputs, tensor, name=name)
