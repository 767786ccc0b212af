"""Models auditor cannot explain are refused with a typed error that says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from auditor._tensorflow import keras, tf
from auditor.detector import load_detector
from auditor.errors import ModelError, VideoError

T, SIZE = 3, 24


def _td_model() -> keras.Model:
    inputs = keras.Input((T, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", name="conv"))(inputs)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    x = keras.layers.GRU(4)(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="module")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "model.keras"
    _td_model().save(path)
    return path


def test_model_without_time_distributed_cnn(tmp_path: Path) -> None:
    inputs = keras.Input((T, SIZE, SIZE, 3))
    x = keras.layers.Conv3D(4, 3, padding="same")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    path = tmp_path / "conv3d.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(path)
    with pytest.raises(ModelError, match="does not start with a TimeDistributed CNN"):
        load_detector(path)


def test_time_distributed_without_spatial_map(tmp_path: Path) -> None:
    inputs = keras.Input((T, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Flatten())(inputs)
    x = keras.layers.TimeDistributed(keras.layers.Dense(4))(x)
    path = tmp_path / "dense.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GRU(3)(x))).save(path)
    with pytest.raises(ModelError, match="no layer with a spatial map"):
        load_detector(path)


def test_input_is_not_a_clip(tmp_path: Path) -> None:
    inputs = keras.Input((T, 16))
    path = tmp_path / "seq.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GRU(3)(inputs))).save(path)
    with pytest.raises(ModelError, match=r"not a clip \(batch, T, H, W, 3\)"):
        load_detector(path)


def test_truncated_file(tmp_path: Path, good_model: Path) -> None:
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good_model.read_bytes()[: good_model.stat().st_size // 2])
    with pytest.raises(ModelError, match="cannot read model file truncated.keras"):
        load_detector(truncated)


def test_garbage_h5(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not an HDF5 file" * 10)
    with pytest.raises(ModelError, match="garbage.h5 is not a Keras model file: a .h5 model is an HDF5 file"):
        load_detector(garbage)
    with h5py.File(tmp_path / "data.h5", "w") as handle:  # HDF5, but no model in it: Keras's reason is given
        handle["x"] = np.zeros(3)
    with pytest.raises(ModelError, match="cannot read model file data.h5"):
        load_detector(tmp_path / "data.h5")


@pytest.mark.parametrize("name", ["missing.keras", "model.onnx"])
def test_missing_or_foreign_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".onnx"):
        path.write_bytes(b"\0")
    with pytest.raises(ModelError, match="does not exist|is not a Keras model"):
        load_detector(path)


def test_class_name_count_mismatch(good_model: Path) -> None:
    with pytest.raises(ModelError, match="has 3 outputs but 2 class names"):
        load_detector(good_model, class_names=["normal", "fight"])


def test_sidecar_supplies_class_names_and_is_validated(tmp_path: Path, good_model: Path) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(good_model.read_bytes())
    sidecar = model.with_suffix(".json")
    sidecar.write_text(json.dumps({"class_names": ["normal", "fight", "fall"], "normal_class": "normal"}))
    assert load_detector(model).class_names == ("normal", "fight", "fall")
    sidecar.write_text(json.dumps({"class_names": ["a", "b", "c"], "preprocessing": "sepia"}))
    with pytest.raises(ModelError, match="preprocessing"):
        load_detector(model)
    sidecar.write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_detector(model)


def test_unknown_layer_and_class(good_model: Path) -> None:
    with pytest.raises(ModelError, match="'nope' is not a per-frame layer"):
        load_detector(good_model, layer="nope")
    detector = load_detector(good_model)
    frames = np.zeros((T, SIZE, SIZE, 3), np.uint8)
    with pytest.raises(ModelError, match="unknown class 'shooting'"):
        detector.explain(frames, target="shooting")
    with pytest.raises(ModelError, match="out of range"):
        detector.explain(frames, target=7)


def test_wrong_frames(good_model: Path) -> None:
    detector = load_detector(good_model)
    with pytest.raises(VideoError, match="clips of 3 frames"):
        detector.explain(np.zeros((5, SIZE, SIZE, 3), np.uint8))
    with pytest.raises(VideoError, match="uint8 RGB"):
        detector.explain(np.zeros((T, SIZE, SIZE, 3), np.float32))


def _binary_model() -> keras.Model:
    inputs = keras.Input((T, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", name="conv"))(inputs)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GRU(4)(x)))


def test_a_binary_detector_scores_the_anomaly_with_logits_zero_and_z(tmp_path: Path) -> None:
    """One sigmoid unit: classes (normal, anomaly), probabilities [1 - p, p], logits [0, z], and the
    maps explain the model's own z = logit(p) (dz/dx = dp/dx / (p (1 - p)))."""
    keras.utils.set_random_seed(5)
    path = tmp_path / "binary.keras"
    _binary_model().save(path)
    detector = load_detector(path)
    assert detector.class_names == ("normal", "anomaly") and detector.sidecar.decision_rule.normal_class == "normal"
    frames = np.random.default_rng(1).integers(0, 256, (T, SIZE, SIZE, 3), dtype=np.uint8)
    x = tf.constant(detector.preprocess(frames)[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = detector.model(x, training=False)[0, 0]
    dp_dx, p = tape.gradient(p, x).numpy()[0], float(p)
    explanation = detector.explain(frames)
    np.testing.assert_allclose(explanation.probabilities, [1 - p, p], atol=1e-6)
    np.testing.assert_allclose(explanation.logits, [0.0, np.log(p / (1 - p))], atol=1e-4)
    np.testing.assert_allclose(detector.predict(frames), [1 - p, p], atol=1e-6)
    assert explanation.target_name == "anomaly"
    detector_pass = detector.gradients(frames)
    np.testing.assert_allclose(detector_pass.input_grads, dp_dx / (p * (1 - p)), rtol=1e-3, atol=1e-6)


def test_class_settings_that_disagree_are_refused(tmp_path: Path, good_model: Path) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(good_model.read_bytes())
    with pytest.raises(ModelError, match="--classes: 'normal' is named twice"):
        load_detector(model, class_names=["normal", "normal", "fall"])
    model.with_suffix(".json").write_text(json.dumps({"class_names": ["normal", "fight", "fall"], "normal_class": "normal"}))
    with pytest.raises(ModelError, match=r"normal_class 'normal' in m.json is not one of the class names \['calm'"):
        load_detector(model, class_names=["calm", "fight", "fall"])
    assert load_detector(model, class_names=["normal", "riot", "fall"]).sidecar.class_names == ["normal", "riot", "fall"]
    model.with_suffix(".json").write_text(json.dumps({"class_names": ["a", "b", "a"]}))
    with pytest.raises(ModelError, match="class_names: 'a' is named twice"):
        load_detector(model)
    model.with_suffix(".json").write_text(json.dumps({"frames_per_clip": 8}))
    with pytest.raises(ModelError, match="sets frames_per_clip 8 but m.keras takes clips of 3 frames"):
        load_detector(model)


def test_a_model_of_any_clip_length_needs_it_in_its_sidecar(tmp_path: Path) -> None:
    from auditor.scan.sliding import window_length as clip_length

    inputs = keras.Input((None, SIZE, SIZE, 3))
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", name="conv"))(inputs)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    path = tmp_path / "any.keras"
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GRU(4)(x))).save(path)
    with pytest.raises(ModelError, match="takes clips of any length: set frames_per_clip in its sidecar any.json"):
        clip_length(load_detector(path))
    path.with_suffix(".json").write_text(json.dumps({"frames_per_clip": 12}))
    assert clip_length(load_detector(path)) == 12
