"""Grad-CAM and saliency through TimeDistributed equal an unrolled per-frame reference.

The reference runs each frame through the CNN layers separately in eager mode, stacks the
per-frame features, runs the recurrent head on the stack and differentiates the final Dense
layer's linear output with one GradientTape: no TimeDistributed, no tf.function, no split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from auditor._tensorflow import keras, tf
from auditor.detector import load_detector
from auditor.explain.gradcam import gradcam_pre_relu

T, SIZE, VGG_SIZE = 3, 32, 64
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Case:
    build: Callable[[], keras.Model]
    frame_layers: Callable[[keras.Model], list]  # per-frame layers of the loaded model, in order
    target_layer: str
    layer_arg: str | None = None  # passed to load_detector; None = the detector's default
    suffix: str = ".keras"


def _small_cnn(name: str = "cnn", pooling: str = "gap") -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="conv_a")(inputs)
    x = keras.layers.MaxPooling2D(name="pool_a")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x) if pooling == "gap" else keras.layers.Flatten()(x)
    return keras.Model(inputs, x, name=name)


def _vgg19(pooling: str | None = "avg") -> keras.Model:
    return keras.applications.VGG19(
        include_top=False, weights=None, input_shape=(VGG_SIZE, VGG_SIZE, 3), pooling=pooling
    )


def _functional(cnn: keras.Model, recurrent: keras.layers.Layer, frame_size: int = SIZE) -> keras.Model:
    inputs = keras.Input((T, frame_size, frame_size, 3))
    x = keras.layers.TimeDistributed(cnn, name="td_cnn")(inputs)
    x = recurrent(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(x))


def _sequential_vgg() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((T, VGG_SIZE, VGG_SIZE, 3)),
            keras.layers.TimeDistributed(_vgg19(pooling=None)),
            keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D()),
            keras.layers.GRU(6),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _conv_stack() -> keras.Model:
    td = keras.layers.TimeDistributed
    return keras.Sequential(
        [
            keras.Input((T, SIZE, SIZE, 3)),
            td(keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="c1")),
            td(keras.layers.MaxPooling2D(name="p1")),
            td(keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="c2")),
            td(keras.layers.MaxPooling2D(name="p2")),
            td(keras.layers.Flatten(name="flat")),
            keras.layers.GRU(6),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _nested_layers(model: keras.Model) -> list:
    td = next(layer for layer in model.layers if isinstance(layer, keras.layers.TimeDistributed))
    return [layer for layer in td.layer.layers if not isinstance(layer, keras.layers.InputLayer)]


def _td_inner_layers(model: keras.Model) -> list:
    layers: list = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.TimeDistributed):
            inner = layer.layer
            nested = isinstance(inner, keras.Model)
            layers.extend([sub for sub in inner.layers if not isinstance(sub, keras.layers.InputLayer)] if nested else [inner])
    return layers


CASES = {
    "functional_nested_gru": Case(lambda: _functional(_small_cnn(), keras.layers.GRU(6)), _nested_layers, "conv_b"),
    "functional_vgg19_gru": Case(
        lambda: _functional(_vgg19(), keras.layers.GRU(6), VGG_SIZE), _nested_layers, "block5_pool"
    ),
    "vgg19_inner_layer_block4_conv4": Case(
        lambda: _functional(_vgg19(), keras.layers.GRU(6), VGG_SIZE), _nested_layers, "block4_conv4", "block4_conv4"
    ),
    "sequential_vgg19_roundtrip": Case(_sequential_vgg, _td_inner_layers, "block5_pool"),
    "td_conv_stack": Case(_conv_stack, _td_inner_layers, "p2"),
    "td_conv_stack_inner_c1": Case(_conv_stack, _td_inner_layers, "c1", "c1"),
    "lstm": Case(lambda: _functional(_small_cnn(pooling="flatten"), keras.layers.LSTM(6)), _nested_layers, "conv_b"),
    "bidirectional_gru": Case(
        lambda: _functional(_small_cnn(), keras.layers.Bidirectional(keras.layers.GRU(5))), _nested_layers, "conv_b"
    ),
    "legacy_h5": Case(
        lambda: _functional(_small_cnn(), keras.layers.GRU(6)), _nested_layers, "conv_b", suffix=".h5"
    ),
}


def _head_layers(model: keras.Model) -> tuple[list, keras.layers.Layer]:
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, (keras.layers.InputLayer, keras.layers.TimeDistributed))
    ]
    return layers[:-1], layers[-1]


def reference(model: keras.Model, frame_layers: list, target_layer: str, x: np.ndarray, target: int) -> dict:
    """Unrolled per-frame Grad-CAM (pre-ReLU) and saliency, eager, one tape."""
    cut = [layer.name for layer in frame_layers].index(target_layer) + 1
    head, final = _head_layers(model)
    frames = [tf.constant(x[t : t + 1]) for t in range(x.shape[0])]
    with tf.GradientTape(persistent=True) as tape:
        for frame in frames:
            tape.watch(frame)
        maps = [_apply(frame_layers[:cut], frame) for frame in frames]
        sequence = tf.stack([_apply(frame_layers[cut:], a) for a in maps], axis=1)
        features = _apply(head, sequence)
        logits = tf.matmul(features, final.kernel) + final.bias
        score = logits[0, target]
    map_grads = tape.gradient(score, maps)
    input_grads = tape.gradient(score, frames)
    cam = [tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * a, axis=-1)[0] for a, g in zip(maps, map_grads)]
    return {
        "logits": logits.numpy()[0],
        "cam_pre_relu": np.stack([c.numpy() for c in cam]),
        "saliency": np.stack([np.abs(g.numpy()[0]).max(axis=-1) for g in input_grads]),
    }


def _apply(layers: list, tensor: tf.Tensor) -> tf.Tensor:
    for layer in layers:
        tensor = layer(tensor, training=False)
    return tensor


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))


@pytest.mark.parametrize("name", sorted(CASES))
def test_explanation_matches_unrolled_reference(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    keras.utils.set_random_seed(7)
    path = tmp_path / f"model{case.suffix}"
    case.build().save(path)
    detector = load_detector(path, layer=case.layer_arg)
    assert detector.layer_name == case.target_layer

    frames = np.random.default_rng(1).integers(0, 256, (T, 48, 40, 3), dtype=np.uint8)
    x = detector.preprocess(frames)
    original = keras.saving.load_model(path, compile=False)
    probe = reference(original, case.frame_layers(original), case.target_layer, x, target=0)
    target = int(np.argmax(probe["logits"]))
    expected = reference(original, case.frame_layers(original), case.target_layer, x, target)

    explanation = detector.explain(frames)  # default target: the predicted class
    gradients = detector.gradients(frames, target=target)
    assert explanation.target_index == target
    np.testing.assert_allclose(explanation.logits, expected["logits"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(explanation.probabilities, original(x[None]).numpy()[0], rtol=1e-4, atol=1e-6)
    assert _relative_error(gradcam_pre_relu(gradients), expected["cam_pre_relu"]) < TOLERANCE
    assert _relative_error(explanation.gradcam, np.maximum(expected["cam_pre_relu"], 0)) < TOLERANCE
    assert _relative_error(explanation.saliency, expected["saliency"]) < TOLERANCE
    assert np.abs(expected["cam_pre_relu"]).max() > 0, "a zero reference map would make the test vacuous"


def test_weights_are_per_frame_not_pooled_over_time(tmp_path: Path) -> None:
    """Pooling α over time (a common shortcut) gives a measurably different map on these frames."""
    keras.utils.set_random_seed(3)
    path = tmp_path / "m.keras"
    _functional(_small_cnn(), keras.layers.GRU(6)).save(path)
    detector = load_detector(path)
    gradients = detector.gradients(np.random.default_rng(2).integers(0, 256, (T, SIZE, SIZE, 3), dtype=np.uint8))
    time_pooled = gradients.activation_grads.mean(axis=(0, 1, 2), keepdims=True)
    pooled_map = (time_pooled * gradients.activations).sum(-1)
    assert _relative_error(pooled_map, gradcam_pre_relu(gradients)) > 1e-3


def test_target_by_name_and_index_agree(tmp_path: Path) -> None:
    keras.utils.set_random_seed(4)
    path = tmp_path / "m.keras"
    _functional(_small_cnn(), keras.layers.GRU(6)).save(path)
    detector = load_detector(path, class_names=["normal", "fight", "fall"])
    frames = np.random.default_rng(5).integers(0, 256, (T, SIZE, SIZE, 3), dtype=np.uint8)
    by_name = detector.explain(frames, target="fall")
    by_index = detector.explain(frames, target=2)
    assert by_name.target_name == "fall" and by_name.target_index == 2
    np.testing.assert_array_equal(by_name.gradcam, by_index.gradcam)
    other = detector.explain(frames, target="fight")
    assert not np.allclose(other.gradcam, by_name.gradcam)
