"""Keras 2 models built with tf_keras, saved as .h5, imported into Keras 3 and checked against the original.

The reference Grad-CAM runs on the Keras 2 model itself, unrolled frame by frame: the per-frame layers
up to the target layer give A[t], the rest of the CNN, the recurrent head and the final Dense kernel
(without softmax) give the logit y, and CAM[t] = ReLU(Σ_k mean_ij(∂y/∂A[t]) · A[t]).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tf_keras as k2
from click.testing import CliRunner

from auditor import legacy, load_detector
from auditor._tensorflow import keras, tf
from auditor.cli.import_model import import_model
from auditor.detector import Detector
from auditor.errors import ModelError
from auditor.files import sha256_file
from auditor.legacy import rebuild
from auditor.video import write_video

FRAMES, SIZE = 3, 32
pytestmark = pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")
L = k2.layers


@dataclass(frozen=True)
class Imported:
    legacy_model: object  # the tf_keras model
    legacy_path: Path
    out: Path
    target_layer: str
    detector: Detector  # the imported model, loaded by auditor with the Grad-CAM target layer


def _cnn_functional() -> object:
    inputs = L.Input((SIZE, SIZE, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(6, 3, activation="relu", name="last_conv")(x)
    x = L.GlobalAveragePooling2D()(x)
    return k2.Model(inputs, x, name="frame_cnn")


def functional_gru() -> tuple[object, str]:
    """Functional: TimeDistributed(nested functional CNN with batch norm) → GRU → Dropout → Dense."""
    clip = L.Input((FRAMES, SIZE, SIZE, 3))
    x = L.TimeDistributed(_cnn_functional())(clip)
    x = L.GRU(8)(x)
    x = L.Dropout(0.3)(x)
    return k2.Model(clip, L.Dense(3, activation="softmax")(x)), "last_conv"


def sequential_lstm() -> tuple[object, str]:
    """Sequential with a nested Sequential inside TimeDistributed → LSTM → Dense."""
    cnn = k2.Sequential([
        L.Input((SIZE, SIZE, 3)), L.Conv2D(4, 3, activation="relu"), L.AveragePooling2D(),
        L.Conv2D(6, 3, activation="relu", name="seq_conv"), L.MaxPooling2D(), L.Flatten(),
    ], name="frame_seq")
    clip = L.Input((FRAMES, SIZE, SIZE, 3))
    return k2.Sequential([clip, L.TimeDistributed(cnn), L.LSTM(5), L.Dense(2, activation="softmax")]), "seq_conv"


def bidirectional_gru() -> tuple[object, str]:
    """TimeDistributed(Conv2D) stack → Bidirectional(GRU) → Dense."""
    clip = L.Input((FRAMES, SIZE, SIZE, 3))
    x = L.TimeDistributed(L.Conv2D(4, 3, strides=2, activation="relu"))(clip)
    x = L.TimeDistributed(L.Conv2D(6, 3, activation="relu", name="bi_conv"))(x)
    x = L.TimeDistributed(L.GlobalMaxPooling2D())(x)
    x = L.Bidirectional(L.GRU(4))(x)
    return k2.Model(clip, L.Dense(3, activation="softmax")(x)), "bi_conv"


def _built(factory: object, seed: int) -> tuple[object, str]:
    """The model with seeded random weights (not what an initializer draws: Keras 3 would draw the
    same) and batch-norm statistics far from their defaults."""
    k2.utils.set_random_seed(seed)
    model, layer = factory()
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    for bn in [layer for layer in _all_layers(model) if isinstance(layer, L.BatchNormalization)]:
        bn.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in bn.get_weights()])
    return model, layer


def _all_layers(layer: object) -> list:
    inner = getattr(layer, "layers", None) or ([layer.layer] if isinstance(layer, L.TimeDistributed) else [])
    return [layer] + [nested for child in inner for nested in _all_layers(child)]


@pytest.fixture(scope="module", params=[functional_gru, sequential_lstm, bidirectional_gru], ids=lambda f: f.__name__)
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    folder = tmp_path_factory.mktemp(request.param.__name__)
    model, layer = _built(request.param, seed=7)
    model.save(folder / "legacy.h5")
    legacy.import_legacy_model(folder / "legacy.h5", folder / "model.keras")
    detector = load_detector(folder / "model.keras", layer=layer)
    return Imported(model, folder / "legacy.h5", folder / "model.keras", layer, detector)


@pytest.fixture(scope="module")
def legacy_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The functional TD(CNN) + GRU model saved by Keras 2, not imported."""
    path = tmp_path_factory.mktemp("legacy") / "detector.h5"
    _built(functional_gru, seed=3)[0].save(path)
    return path


def _clip(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (FRAMES, SIZE, SIZE, 3), dtype=np.uint8)


def _frame_layers(model: object) -> tuple[list, list]:
    """Per-frame layers of the leading TimeDistributed layers (nested models flattened), then the rest."""
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    count = next(i for i, layer in enumerate(layers) if not isinstance(layer, L.TimeDistributed))
    frame = []
    for td in layers[:count]:
        inner = td.layer.layers if hasattr(td.layer, "layers") else [td.layer]
        frame += [layer for layer in inner if not isinstance(layer, L.InputLayer)]
    return frame, layers[count:]


def _apply(layers: list, tensor: tf.Tensor) -> tf.Tensor:
    for layer in layers:
        tensor = layer(tensor, training=False)
    return tensor


def reference_gradcam(model: object, x: np.ndarray, layer_name: str, target: int) -> np.ndarray:
    """Per-frame Grad-CAM of the Keras 2 model's pre-softmax logit, one frame at a time."""
    frame, head = _frame_layers(model)
    cut = [layer.name for layer in frame].index(layer_name) + 1
    maps = [_apply(frame[:cut], tf.constant(x[np.newaxis, t])) for t in range(x.shape[0])]
    with tf.GradientTape() as tape:
        tape.watch(maps)
        features = tf.stack([_apply(frame[cut:], a) for a in maps], axis=1)
        final = head[-1]
        logits = tf.matmul(_apply(head[:-1], features), final.kernel) + final.bias
        score = logits[0, target]
    grads = tape.gradient(score, maps)
    alphas = [tf.reduce_mean(g, axis=(1, 2), keepdims=True) for g in grads]
    cams = [tf.nn.relu(tf.reduce_sum(alpha * a, axis=-1))[0] for alpha, a in zip(alphas, maps, strict=True)]
    return np.stack([c.numpy() for c in cams])


def test_imported_model_predicts_like_the_keras2_original(imported: Imported) -> None:
    for seed in (11, 12):
        frames = _clip(seed)
        expected = imported.legacy_model(frames[np.newaxis] / np.float32(255), training=False).numpy()[0]
        np.testing.assert_allclose(imported.detector.predict(frames), expected, rtol=0, atol=1e-6)


def test_imported_gradcam_matches_unrolled_keras2_reference(imported: Imported) -> None:
    frames = _clip(21)
    x = frames.astype(np.float32) / 255
    classes = imported.legacy_model.output_shape[-1]
    references = [reference_gradcam(imported.legacy_model, x, imported.target_layer, c) for c in range(classes)]
    target = next(c for c, ref in enumerate(references) if np.all(ref.max(axis=(1, 2)) > 0))  # a non-empty map
    reference = references[target]
    explanation = imported.detector.explain(frames, target, methods=("gradcam",))
    cam = explanation.maps["gradcam"]
    assert explanation.layer_name == imported.target_layer and explanation.target_index == target
    assert cam.shape == reference.shape
    np.testing.assert_allclose(cam, reference, rtol=1e-4, atol=1e-5 * float(reference.max()))


def test_sidecar_records_hashes_tolerance_and_difference(imported: Imported) -> None:
    record = json.loads(imported.out.with_suffix(".json").read_text())["provenance"]["import"]
    assert record["legacy_sha256"] == sha256_file(imported.legacy_path)
    assert record["converted_sha256"] == sha256_file(imported.out)
    assert record["legacy_format"] == "keras2-h5" and record["legacy_keras_version"].startswith("2.")
    assert 0 <= record["max_abs_difference"] <= record["tolerance"] == legacy.DEFAULT_TOLERANCE
    assert imported.detector.sidecar.provenance["import"] == record


def _custom_layer_model() -> object:
    @k2.saving.register_keras_serializable("auditor_test")
    class Scale(L.Layer):
        def call(self, inputs: tf.Tensor) -> tf.Tensor:
            return inputs * 2.0

    inputs = L.Input((SIZE, SIZE, 3))
    x = L.GlobalAveragePooling2D()(Scale(name="scale")(L.Conv2D(4, 3)(inputs)))
    clip = L.Input((FRAMES, SIZE, SIZE, 3))
    x = L.TimeDistributed(k2.Model(inputs, x, name="cnn"), name="td")(clip)
    x = L.Lambda(lambda t: t + 1.0, name="shift")(L.GRU(4)(x))
    return k2.Model(clip, L.Dense(2, activation="softmax")(x), name="custom")


def test_unknown_custom_layer_is_named_in_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    _custom_layer_model().save(tmp_path / "custom.h5")
    with pytest.raises(ModelError) as caught:
        legacy.import_legacy_model(tmp_path / "custom.h5", tmp_path / "model.keras")
    message = str(caught.value)
    assert message.startswith("cannot convert 2 layer(s) to Keras 3: custom/td/cnn/scale (Scale, from ")
    assert "custom/shift (Lambda: holds Python code)" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom.h5"]


def test_conversion_that_changes_outputs_is_refused(
    legacy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = rebuild._copy_weights  # a conversion bug: the GRU keeps its fresh Keras 3 weights
    monkeypatch.setattr(rebuild, "_copy_weights", lambda old, new, at: None if "gru" in at else copy(old, new, at))
    with pytest.raises(ModelError, match=r"differs from detector.h5 by up to .* \(tolerance 1e-05\); nothing was"):
        legacy.import_legacy_model(legacy_h5, tmp_path / "model.keras")
    assert list(tmp_path.iterdir()) == []


def branching_cnn_and_many_layer_types() -> object:
    """A branching nested CNN and most supported layer types, in one Keras 2 model."""
    inputs = L.Input((SIZE, SIZE, 3))
    a = L.LeakyReLU(0.1)(L.SeparableConv2D(4, 3, padding="same")(inputs))
    b = L.PReLU()(L.Conv2D(4, 1)(L.DepthwiseConv2D(3, padding="same")(inputs)))
    x = L.Add()([a, b])
    x = L.Concatenate()([x, L.Conv2DTranspose(2, 3, padding="same")(x)])
    x = L.LayerNormalization()(L.SpatialDropout2D(0.1)(x))
    x = L.Conv2D(6, 3)(L.ELU()(L.Cropping2D(1)(L.ZeroPadding2D()(x))))
    clip = L.Input((FRAMES, SIZE, SIZE, 3))
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(L.TimeDistributed(k2.Model(inputs, x, name="branchy"))(clip))
    y = L.SimpleRNN(4)(L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")(y))
    y = L.Dense(3)(L.Activation("relu")(L.Dense(5)(y)))
    return k2.Model(clip, L.Softmax()(y))


def test_branching_cnn_and_many_layer_types_convert_exactly() -> None:
    k2.utils.set_random_seed(9)
    model = branching_cnn_and_many_layer_types()
    rng = np.random.default_rng(9)
    model.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    converted = legacy.convert_model(json.loads(model.to_json()), model)
    x = np.stack([_clip(s) for s in (41, 42)]).astype(np.float32) / 255
    expected = model(x, training=False).numpy()
    assert np.ptp(expected, axis=0).max() > 1e-3  # the clips give different outputs
    np.testing.assert_allclose(converted(x, training=False).numpy(), expected, rtol=0, atol=1e-6)


def test_architecture_json_with_weights_pair(tmp_path: Path) -> None:
    model, _ = _built(sequential_lstm, seed=5)
    (tmp_path / "arch.json").write_text(model.to_json())
    weights = tmp_path / "arch.weights.h5"
    model.save_weights(weights)
    result = legacy.import_legacy_model(tmp_path / "arch.json", tmp_path / "m.keras", weights=weights)
    frames = _clip(31)
    expected = model(frames[np.newaxis] / np.float32(255), training=False).numpy()[0]
    np.testing.assert_allclose(load_detector(result.model_path).predict(frames), expected, atol=1e-6)
    assert result.sidecar.provenance["import"]["legacy_weights_sha256"] == sha256_file(weights)


def test_cli_with_user_clip_classes_and_preprocessing(legacy_h5: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", np.stack([_clip(s)[0] for s in range(FRAMES + 2)]), fps=5.0)
    out = tmp_path / "cli.keras"
    args = [str(legacy_h5), "--out", str(out), "--classes", "normal,fight,fall", "--preprocessing", "tf",
            "--clip", str(video), "--tolerance", "1e-4"]
    result = CliRunner().invoke(import_model, args)
    assert result.exit_code == 0, result.output
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["class_names"] == ["normal", "fight", "fall"] and sidecar["preprocessing"] == "tf"
    assert sidecar["provenance"]["import"]["user_clip_sha256"] == sha256_file(video)
    assert sidecar["provenance"]["import"]["tolerance"] == 1e-4 and "verified" in result.output
    again = CliRunner().invoke(import_model, args)
    assert isinstance(again.exception, ModelError) and "--overwrite" in str(again.exception)


def test_missing_tf_keras_says_what_to_install(
    legacy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tf_keras", None)
    with pytest.raises(ModelError, match=r"pip install 'auditor\[legacy\]'"):
        legacy.import_legacy_model(legacy_h5, tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_looks_like_keras2(legacy_h5: Path, tmp_path: Path) -> None:
    keras3 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    keras3.save(tmp_path / "k3.h5")
    keras3.save(tmp_path / "k3.keras")
    (tmp_path / "notes.h5").write_text("not hdf5")
    assert legacy.looks_like_keras2(legacy_h5)
    assert not legacy.looks_like_keras2(tmp_path / "k3.keras")
    assert not legacy.looks_like_keras2(tmp_path / "k3.h5")
    assert not legacy.looks_like_keras2(tmp_path / "notes.h5")
    assert not legacy.looks_like_keras2(tmp_path / "missing.h5")


def test_keras3_alone_cannot_read_the_keras2_file(legacy_h5: Path) -> None:
    with pytest.raises(ModelError, match="is a Keras 2 model that Keras 3 cannot read; convert it once with: auditor import-model"):
        load_detector(legacy_h5)
