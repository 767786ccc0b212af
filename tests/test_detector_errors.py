"""Models auditor cannot explain are refused with a typed error that says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from auditor._tensorflow import keras
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
    with pytest.raises(ModelError, match="cannot read model file garbage.h5"):
        load_detector(garbage)


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
