"""The per-frame CNN runs on a clip's frames as one batch: its features and the windows' scores
equal the loaded model's own TimeDistributed output and prediction, and the traced graphs hold
one copy of the CNN whatever the clip length."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fixtures.models import CASES, SIZE, T, small_cnn

from auditor._tensorflow import keras, tf
from auditor.detector import Detector, load_detector

CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def td_gru(frames: int | None, units: int = 3, activation: str = "softmax") -> keras.Model:
    inputs = keras.Input((frames, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(small_cnn(), name="td_cnn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation)(keras.layers.GRU(6)(x)))


MODELS = {
    **{name: (case.build, case.layer_arg, case.suffix) for name, case in CASES.items()},
    "binary_sigmoid": (lambda: td_gru(T, units=1, activation="sigmoid"), None, ".keras"),
    "unfixed_clip_length": (lambda: td_gru(None), None, ".keras"),
}


def saved(name: str, folder: Path) -> tuple[Detector, keras.Model]:
    """The detector of MODELS[name] and the same file loaded as a plain Keras model."""
    build, layer, suffix = MODELS[name]
    keras.utils.set_random_seed(11)
    path = folder / f"model{suffix}"
    build().save(path)
    return load_detector(path, layer=layer), keras.saving.load_model(path, compile=False)


def time_distributed_output(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The loaded model's own TimeDistributed layers, applied in order to clips x (N, T, H, W, C)."""
    tensor = tf.constant(x)
    for layer in model.layers:
        if isinstance(layer, keras.layers.TimeDistributed):
            tensor = layer(tensor, training=False)
    return tensor.numpy()


def frames_of(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 48, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_frame_features_and_window_scores_equal_the_model(name: str, tmp_path: Path) -> None:
    detector, original = saved(name, tmp_path)
    clips = [frames_of(T, seed) for seed in (1, 2, 3)]
    x = np.stack([detector.preprocess(clip) for clip in clips])
    expected_features = time_distributed_output(original, x)
    expected = original(x, training=False).numpy()
    if detector.binary:
        expected = np.concatenate([1 - expected, expected], axis=-1)

    features = np.stack([detector.frame_features(clip) for clip in clips])
    np.testing.assert_allclose(features, expected_features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(detector.window_probabilities(features), expected, rtol=1e-5, atol=1e-6)
    for clip, probabilities in zip(clips, expected, strict=True):
        np.testing.assert_allclose(detector.predict(clip), probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(detector.clip_probabilities(np.stack(clips), batch_size=5), expected, rtol=1e-5, atol=1e-6)
    logits = detector.window_logits(features)
    assert logits.shape == (3, len(detector.class_names))
    np.testing.assert_allclose(logits[0], detector.gradients(clips[0], input_grads=False).logits, rtol=1e-5, atol=1e-5)


def test_features_do_not_depend_on_the_grad_cam_layer(tmp_path: Path) -> None:
    """frame_features is the whole CNN's output, whichever target layer the detector explains."""
    default, _ = saved("td_conv_stack", tmp_path)
    inner, _ = saved("td_conv_stack_inner_c1", tmp_path)
    assert (default.layer_name, inner.layer_name) == ("p2", "c1")
    frames = frames_of(5, seed=4)
    features = default.frame_features(frames)
    assert features.shape == (5, 8 * (SIZE // 4) ** 2)
    np.testing.assert_allclose(inner.frame_features(frames), features, rtol=1e-6, atol=1e-6)


def test_frame_features_are_traced_once_and_chunking_does_not_change_them(tmp_path: Path) -> None:
    detector, _ = saved("functional_nested_gru", tmp_path)
    frames = frames_of(21, seed=5)
    whole = detector.frame_features(frames, batch_size=32)
    for batch_size in (1, 4, 16):
        np.testing.assert_allclose(detector.frame_features(frames, batch_size=batch_size), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(detector.frame_features(frames[7:8]), whole[7:8], rtol=1e-5, atol=1e-6)
    assert detector._frame_cnn.experimental_get_tracing_count() == 1
    assert detector.prepare_frames(frames).shape == (21, SIZE, SIZE, 3)
    np.testing.assert_array_equal(detector.prepare_frames(frames[:T]), detector.preprocess(frames[:T]))


def conv_ops(function: tf.types.experimental.ConcreteFunction) -> Counter:
    return Counter(op.type for op in function.graph.get_operations() if op.type in CONV_OPS)


def test_the_traced_graphs_do_not_grow_with_the_clip_length(tmp_path: Path) -> None:
    """One copy of the CNN in the maps pass and in frame_features for T = 4 and T = 32 alike
    (Keras' TimeDistributed unrolled 4 vs 32 copies)."""
    counts = {}
    for frames in (4, 32):
        keras.utils.set_random_seed(2)
        path = tmp_path / f"t{frames}.keras"
        td_gru(frames).save(path)
        detector = load_detector(path)
        passes = detector._passes(detector.layer_name)
        maps_pass = passes.maps_with_input_gradient.get_concrete_function()
        counts[frames] = (
            conv_ops(maps_pass),
            len(maps_pass.graph.get_operations()),
            conv_ops(passes.maps_without_input_gradient.get_concrete_function()),
            conv_ops(detector._frame_cnn.get_concrete_function()),
        )
    assert counts[4] == counts[32]
    assert counts[4][0]["Conv2D"] == counts[4][0]["Conv2DBackpropInput"] == 2  # conv_a and conv_b, once each
    assert counts[4][2] == counts[4][3] == {"Conv2D": 2}  # dy/dA from conv_b's maps up: no conv to differentiate


def test_a_model_of_unfixed_clip_length_is_traced_once_for_all_lengths(tmp_path: Path) -> None:
    detector, original = saved("unfixed_clip_length", tmp_path)
    for count in (2, 5, 3):
        frames = frames_of(count, seed=count)
        explanation = detector.explain(frames, frame_importance=())
        assert explanation.gradcam.shape[0] == count
        expected = original(detector.preprocess(frames)[None], training=False).numpy()[0]
        np.testing.assert_allclose(explanation.probabilities, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(detector.predict(frames), expected, rtol=1e-5, atol=1e-6)
    assert detector._passes(detector.layer_name).maps_with_input_gradient.experimental_get_tracing_count() == 1


class Untouchable:
    """Stands in for the loaded Keras model: any use of it fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the loaded model was used ({name})")

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("the loaded model was called")


def test_explaining_and_predicting_never_run_the_loaded_model(tmp_path: Path) -> None:
    """The loaded model unrolls its TimeDistributed CNN into T copies: nothing may call it."""
    detector, original = saved("functional_nested_gru", tmp_path)
    detector.model = Untouchable()
    frames = frames_of(T, seed=6)
    expected = original(detector.preprocess(frames)[None], training=False).numpy()[0]
    np.testing.assert_allclose(detector.explain(frames).probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(detector.predict(frames), expected, rtol=1e-5, atol=1e-6)
