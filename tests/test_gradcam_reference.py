"""Grad-CAM and saliency through TimeDistributed equal an unrolled per-frame reference.

The reference runs each frame through the CNN layers separately in eager mode, stacks the
per-frame features, runs the recurrent head on the stack and differentiates the final Dense
layer's linear output with one GradientTape: no TimeDistributed, no tf.function, no split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.models import CASES, SIZE, T, functional, small_cnn

from auditor._tensorflow import keras, tf
from auditor.detector import load_detector
from auditor.explain.gradcam import gradcam_pre_relu

TOLERANCE = 1e-4


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
    cam = [tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * a, axis=-1)[0] for a, g in zip(maps, map_grads, strict=True)]
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
    functional(small_cnn(), keras.layers.GRU(6)).save(path)
    detector = load_detector(path)
    gradients = detector.gradients(np.random.default_rng(2).integers(0, 256, (T, SIZE, SIZE, 3), dtype=np.uint8))
    time_pooled = gradients.activation_grads.mean(axis=(0, 1, 2), keepdims=True)
    pooled_map = (time_pooled * gradients.activations).sum(-1)
    assert _relative_error(pooled_map, gradcam_pre_relu(gradients)) > 1e-3


def test_target_by_name_and_index_agree(tmp_path: Path) -> None:
    keras.utils.set_random_seed(4)
    path = tmp_path / "m.keras"
    functional(small_cnn(), keras.layers.GRU(6)).save(path)
    detector = load_detector(path, class_names=["normal", "fight", "fall"])
    frames = np.random.default_rng(5).integers(0, 256, (T, SIZE, SIZE, 3), dtype=np.uint8)
    by_name = detector.explain(frames, target="fall")
    by_index = detector.explain(frames, target=2)
    assert by_name.target_name == "fall" and by_name.target_index == 2
    np.testing.assert_array_equal(by_name.gradcam, by_index.gradcam)
    other = detector.explain(frames, target="fight")
    assert not np.allclose(other.gradcam, by_name.gradcam)
