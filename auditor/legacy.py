"""Keras 2 detectors into verified Keras 3 models (`auditor import-model`).

A Keras 2 `.h5` whose `TimeDistributed` wraps a nested model does not load in Keras 3 (DESIGN §4).
The import reads the legacy model with `tf_keras` (the `legacy` extra), rebuilds its layers one by
one in Keras 3 from their configs, copies the weights layer by layer, saves the result, loads the
saved file back and runs both models on seeded random clips (and a user clip when given). It writes
the model and its sidecar only when every output agrees within the tolerance; the sidecar's
`provenance["import"]` records the hashes of both files, the tolerance and the largest difference.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import h5py
import numpy as np

from auditor.version import VERSION
from auditor._tensorflow import keras, tf
from auditor.detector import Detector, h5_text, looks_like_keras2
from auditor.errors import ModelError, VideoError
from auditor.files import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file
from auditor.sidecar import Preprocessing, Sidecar, read_sidecar, sidecar_path

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-5
DEFAULT_SEED = 0
DEFAULT_CLIPS = 4
FRAMES_WHEN_UNFIXED = 16

MODEL_CLASSES = ("Functional", "Model", "Sequential")
WRAPPER_CLASSES = ("TimeDistributed", "Bidirectional")
# Built-in layers whose Keras 2 config and weight order were checked against Keras 3.
SUPPORTED_LAYERS = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "BatchNormalization", "LayerNormalization", "Dense", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "Flatten", "Reshape", "Permute", "RepeatVector",
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "GRU", "LSTM", "SimpleRNN", "Masking", "Rescaling",
})
_ANY = object()
# Keras 2 config keys that Keras 3 rejects, with the values under which dropping them changes nothing.
DROPPABLE_KEYS: dict[str, tuple[object, ...]] = {
    "time_major": (False,),
    "groups": (1,),
    "renorm": (False,),
    "virtual_batch_size": (None,),
    "adjustment": (None,),
    "fused": (_ANY,),
    "unroll": (_ANY,),  # speed options only
    "implementation": (_ANY,),
    "noise_shape": (_ANY,),  # dropout: no effect at inference
    "trainable": (_ANY,),  # only rejected by layers without weights
    "kernel_initializer": (_ANY,),  # unused leftovers of SeparableConv2D's Keras 2 config
    "kernel_regularizer": (_ANY,),
    "kernel_constraint": (_ANY,),
    "batch_input_shape": (_ANY,),  # the input shape comes from the model's InputLayer
    "input_shape": (_ANY,),
    "batch_size": (_ANY,),
}
RENAMED_KEYS = {("LeakyReLU", "alpha"): "negative_slope"}


def _single_axis(value: object) -> object:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


CONVERTED_VALUES = {("BatchNormalization", "axis"): _single_axis}  # Keras 2 saves [3], Keras 3 wants 3


@dataclass(frozen=True)
class ImportResult:
    """Where the verified Keras 3 model and its sidecar were written, and how close they agree."""

    model_path: Path
    sidecar_path: Path
    sidecar: Sidecar
    max_abs_difference: float
    tolerance: float


@dataclass(frozen=True)
class _Legacy:
    """A Keras 2 model read with tf_keras, its architecture config and its file hashes."""

    model: Any  # a tf_keras.Model
    architecture: dict
    provenance: dict[str, object]


def import_legacy_model(
    legacy: Path | str,
    out: Path | str,
    *,
    weights: Path | str | None = None,
    class_names: Sequence[str] | None = None,
    preprocessing: Preprocessing | None = None,
    clip: Path | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = DEFAULT_SEED,
    random_clips: int = DEFAULT_CLIPS,
    overwrite: bool = False,
) -> ImportResult:
    """Convert a Keras 2 model to a Keras 3 `.keras` file with its sidecar, or raise ModelError.

    `legacy` is a full-model `.h5`, a SavedModel folder, or an architecture `.json` with `weights`.
    The sidecar starts from the legacy model's own sidecar (if any); `class_names` and
    `preprocessing` override it. Nothing is written unless both models agree within `tolerance`
    (largest absolute difference of any output) on `random_clips` seeded clips and on the video `clip`.
    """
    legacy, out, weights = Path(legacy), Path(out), Path(weights) if weights else None
    _check_arguments(out, overwrite, tolerance, [legacy, *([weights] if weights else [])])
    source = _read_legacy(legacy, weights)
    sidecar = _base_sidecar(legacy, class_names, preprocessing)
    with tempfile.TemporaryDirectory(prefix="auditor-import-") as folder:
        saved = Path(folder) / out.name
        convert_model(source.architecture, source.model).save(saved)
        difference, checks = _compare(source.model, saved, sidecar, clip, seed, random_clips)
        data = saved.read_bytes()
    if not difference <= tolerance:
        raise ModelError(
            f"the converted model differs from {legacy.name} by up to {difference:.3g} (tolerance {tolerance:g}); "
            "nothing was written. Look for layers that are random at inference (e.g. dropout called with "
            "training=True), or report the model's layer types"
        )
    record = {
        **source.provenance, "converted_file": out.name, "converted_sha256": sha256_bytes(data),
        "converter": f"auditor {VERSION}: tf_keras {_tf_keras().__version__} -> keras {keras.__version__}",
        "tolerance": tolerance, "max_abs_difference": difference, **checks,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    sidecar = sidecar.model_copy(update={"provenance": {**sidecar.provenance, "import": record}})
    return _write(out, data, sidecar, difference, tolerance)


def convert_model(architecture: dict, legacy_model: Any) -> keras.Model:
    """The Keras 3 model rebuilt from a Keras 2 `{"class_name", "config"}` dict, with its weights."""
    _check_convertible(architecture)
    model = _build(architecture, architecture["config"].get("name", "model"))
    for where, old, new in _weight_pairs(legacy_model, model, model.name):
        _copy_weights(old, new, where)
    return model


def _check_arguments(out: Path, overwrite: bool, tolerance: float, inputs: list[Path]) -> None:
    if out.suffix != ".keras":
        raise ModelError(f"--out {out} must end in .keras (the Keras 3 format)")
    if sidecar_path(out).resolve() in [p.resolve() for p in inputs]:
        raise ModelError(f"the sidecar of {out.name} would replace {sidecar_path(out).name}; choose another --out name")
    if out.exists() and not overwrite:
        raise ModelError(f"{out} exists; choose another --out or pass --overwrite")
    if not out.parent.is_dir():
        raise ModelError(f"folder {out.parent} does not exist; create it first")
    if not tolerance >= 0:
        raise ModelError(f"tolerance must be a number >= 0; got {tolerance}")


def _tf_keras() -> ModuleType:
    """The tf_keras module, or a ModelError saying exactly what to install."""
    minor = ".".join(tf.__version__.split(".")[:2])
    try:
        return importlib.import_module("tf_keras")
    except ImportError as exc:
        raise ModelError(
            "reading Keras 2 models needs tf_keras, which is not installed; install it with "
            f"pip install 'auditor[legacy]' (or pip install 'tf_keras~={minor}.0' to match TensorFlow {minor})"
        ) from exc


def _read_legacy(path: Path, weights: Path | None) -> _Legacy:
    """Read the architecture first (to name unconvertible layers before tf_keras fails on them)."""
    if path.is_dir():
        return _read_saved_model(path)
    if not path.is_file():
        raise ModelError(f"legacy model {path} does not exist; check the path")
    if path.suffix.lower() == ".json":
        return _read_json_pair(path, weights)
    if weights:
        raise ModelError("weights are only needed with an architecture .json; a full .h5 model holds its own")
    return _read_h5(path)


def _read_h5(path: Path) -> _Legacy:
    try:
        with h5py.File(path, "r") as handle:
            config, version = handle.attrs.get("model_config"), h5_text(handle.attrs.get("keras_version", "unknown"))
    except OSError as exc:
        raise ModelError(f"{path.name} is not an HDF5 file ({exc}); pass a Keras 2 .h5 model") from exc
    if config is None:
        raise ModelError(
            f"{path.name} holds weights only; pass the full model, or the architecture .json plus this file"
        )
    architecture = json.loads(h5_text(config))
    _check_convertible(architecture)
    model = _load(lambda k2: k2.models.load_model(path, compile=False), path)
    return _Legacy(model, architecture, _file_provenance("keras2-h5", path, version))


def _read_json_pair(path: Path, weights: Path | None) -> _Legacy:
    if weights is None or not weights.is_file():
        raise ModelError(f"{path.name} is an architecture only; pass its weights .h5 file too (--weights)")
    text = path.read_text(encoding="utf-8")
    architecture = json.loads(text)
    _check_convertible(architecture)

    def load(k2: ModuleType) -> Any:
        model = k2.models.model_from_json(text)
        model.load_weights(weights)
        return model

    provenance = _file_provenance("keras2-json+weights", path, str(architecture.get("keras_version", "unknown")))
    provenance.update(legacy_weights_file=weights.name, legacy_weights_sha256=sha256_file(weights))
    return _Legacy(_load(load, path), architecture, provenance)


def _read_saved_model(path: Path) -> _Legacy:
    if not (path / "saved_model.pb").is_file():
        raise ModelError(f"{path} is a folder without saved_model.pb; pass a SavedModel folder or a .h5 file")
    model = _load(lambda k2: k2.models.load_model(path, compile=False), path)
    try:
        architecture = {"class_name": type(model).__name__, "config": model.get_config()}
    except (NotImplementedError, TypeError, ValueError) as exc:
        raise ModelError(
            f"the SavedModel {path.name} does not describe its layers ({exc}); "
            "save it from Keras 2 as .h5 (model.save('model.h5')) and import that"
        ) from exc
    _check_convertible(architecture)
    manifest = "".join(
        f"{sha256_file(f)}  {f.relative_to(path).as_posix()}\n" for f in sorted(path.rglob("*")) if f.is_file()
    )
    return _Legacy(model, architecture, {
        "legacy_format": "keras2-savedmodel", "legacy_file": path.name,
        "legacy_sha256": sha256_bytes(manifest.encode()),
        "legacy_sha256_of": "the sorted lines 'sha256  relative/path' of every file in the folder",
        "legacy_keras_version": "unknown",
    })


def _load(load: Any, path: Path) -> Any:
    k2 = _tf_keras()
    try:
        return load(k2)
    except Exception as exc:  # tf_keras raises many unrelated types for unreadable files
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"tf_keras cannot read {path.name} ({reason}); is it a complete Keras 2 model?") from exc


def _file_provenance(kind: str, path: Path, version: str) -> dict[str, object]:
    return {
        "legacy_format": kind, "legacy_file": path.name, "legacy_sha256": sha256_file(path),
        "legacy_keras_version": version,
    }


def _check_convertible(architecture: dict) -> None:
    if not isinstance(architecture, dict) or architecture.get("class_name") not in MODEL_CLASSES:
        raise ModelError("the file does not describe a Keras 2 Functional or Sequential model")
    problems = [problem for entry, where in _leaves(architecture, "") for problem in _leaf_problems(entry, where)]
    if problems:
        raise ModelError(
            f"cannot convert {len(problems)} layer(s) to Keras 3: {'; '.join(problems)}; nothing was written. "
            "auditor import-model converts built-in Keras layers only (see auditor.legacy.SUPPORTED_LAYERS)"
        )


def _leaves(entry: dict, parent: str) -> Iterator[tuple[dict, str]]:
    """Every non-container layer config with its path (`outer/inner/layer`)."""
    config = entry.get("config", {})
    where = f"{parent}/{config.get('name', '?')}".lstrip("/")
    kind = entry.get("class_name")
    if kind in MODEL_CLASSES and _is_builtin(entry):
        for child in config.get("layers", []):
            yield from _leaves(child, where)
    elif kind in WRAPPER_CLASSES and _is_builtin(entry):
        for key in ("layer", "backward_layer"):
            if config.get(key):
                yield from _leaves(config[key], where)
    else:
        yield entry, where


def _is_builtin(entry: dict) -> bool:
    module = entry.get("module") or "keras"
    registered = entry.get("registered_name")
    return module.split(".")[0] in ("keras", "tf_keras") and registered in (None, entry.get("class_name"))


def _leaf_problems(entry: dict, where: str) -> list[str]:
    kind = entry.get("class_name")
    if kind == "InputLayer":
        config = entry.get("config", {})
        return [f"{where} (InputLayer: sparse or ragged input)"] if config.get("sparse") or config.get("ragged") else []
    if kind not in SUPPORTED_LAYERS or not _is_builtin(entry):
        module = entry.get("module") or entry.get("registered_name")
        origin = f", from {module}" if module and not _is_builtin(entry) else ""
        note = ": holds Python code" if kind in ("Lambda", "TFOpLambda", "SlicingOpLambda") else ""
        return [f"{where} ({kind}{origin}{note})"]
    _, rejected = _clean_config(kind, entry.get("config", {}))
    return [f"{where} ({kind}: Keras 2 option {key}={value!r} has no Keras 3 equivalent)" for key, value in rejected]


def _clean_config(kind: str, config: dict) -> tuple[dict, list[tuple[str, object]]]:
    """The config Keras 3 accepts, and the Keras 2 options it cannot express."""
    accepted = _accepted_keys(getattr(keras.layers, kind))
    clean, rejected = {}, []
    for key, value in config.items():
        key = RENAMED_KEYS.get((kind, key), key)
        if key == "dtype" and isinstance(value, dict):
            value = value.get("config", {}).get("name", "float32")
        value = CONVERTED_VALUES.get((kind, key), lambda v: v)(value)
        if key in accepted:
            clean[key] = value
        elif not any(ok is _ANY or ok == value for ok in DROPPABLE_KEYS.get(key, ())):
            rejected.append((key, value))
    return clean, rejected


def _accepted_keys(cls: type) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters
    names = set(parameters) - {"self", "kwargs"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        names |= set(inspect.signature(keras.layers.Layer.__init__).parameters) - {"self", "kwargs"}
    return names


def _build(entry: dict, where: str) -> keras.layers.Layer:
    """One Keras 3 layer (or model) from its Keras 2 config, nested parts built recursively."""
    kind, config = entry["class_name"], entry["config"]
    if kind == "Sequential":
        return _build_sequential(config, where)
    if kind in MODEL_CLASSES:
        return _build_functional(config, where)
    if kind == "TimeDistributed":
        inner = _build(config["layer"], f"{where}/{config['layer']['config'].get('name')}")
        return keras.layers.TimeDistributed(inner, name=config["name"])
    if kind == "Bidirectional":
        backward = config.get("backward_layer")
        return keras.layers.Bidirectional(
            _build(config["layer"], where), merge_mode=config.get("merge_mode", "concat"), name=config["name"],
            backward_layer=_build(backward, where) if backward else None,
        )
    clean, _ = _clean_config(kind, config)
    try:
        return getattr(keras.layers, kind).from_config(clean)
    except Exception as exc:  # Keras raises many types for a config it cannot take
        reason = [line for line in str(exc).splitlines() if line.strip()][-1:] or [type(exc).__name__]
        raise ModelError(f"cannot rebuild layer {where} ({kind}) in Keras 3: {reason[0][:200]}") from exc


def _build_sequential(config: dict, where: str) -> keras.Sequential:
    entries = config.get("layers", [])
    model = keras.Sequential(name=config.get("name"))
    shape, dtype = _sequential_input(config)
    if shape:
        model.add(keras.Input(shape=tuple(shape[1:]), dtype=dtype))
    for entry in entries:
        if entry["class_name"] != "InputLayer":
            model.add(_build(entry, f"{where}/{entry['config'].get('name')}"))
    return model


def _sequential_input(config: dict) -> tuple[list | None, str]:
    """The batch input shape of a Keras 2 Sequential (InputLayer, first layer, or build shape)."""
    entries = config.get("layers", [])
    first = entries[0]["config"] if entries else {}
    shape = first.get("batch_input_shape") or first.get("batch_shape") or config.get("build_input_shape")
    dtype = first.get("dtype") if entries and entries[0]["class_name"] == "InputLayer" else "float32"
    return shape, dtype if isinstance(dtype, str) else "float32"


def _build_functional(config: dict, where: str) -> keras.Model:
    """Replay a Keras 2 functional graph node by node on Keras 3 layers."""
    tensors: dict[tuple[str, int, int], Any] = {}
    pending: list[tuple[str, int, list]] = []
    layers: dict[str, keras.layers.Layer] = {}
    for entry in config["layers"]:
        name = entry.get("name", entry["config"]["name"])
        if entry["class_name"] == "InputLayer":
            tensors[(name, 0, 0)] = _input_tensor(entry["config"])
            continue
        layers[name] = _build(entry, f"{where}/{name}")
        pending.extend((name, index, node) for index, node in enumerate(entry.get("inbound_nodes", [])))
    while pending:
        ready = [item for item in pending if all(tuple(ref[:3]) in tensors for ref in _node_refs(item[2]))]
        if not ready:
            raise ModelError(f"model {where}: the layer graph cannot be replayed (layers {[p[0] for p in pending]})")
        for name, index, node in ready:
            _call_node(layers[name], name, index, node, tensors, where)
        pending = [item for item in pending if item not in ready]
    return keras.Model(
        _endpoints(config["input_layers"], tensors), _endpoints(config["output_layers"], tensors), name=config["name"]
    )


def _input_tensor(config: dict) -> Any:
    shape = config.get("batch_input_shape") or config.get("batch_shape")
    return keras.Input(shape=tuple(shape[1:]), dtype=config.get("dtype", "float32"), name=config.get("name"))


def _node_refs(node: Any) -> list[list]:
    """The `[layer_name, node_index, tensor_index, kwargs]` inputs of one Keras 2 call node."""
    if not isinstance(node, list) or not all(isinstance(ref, list) and len(ref) >= 3 for ref in node):
        raise ModelError(f"a layer call is stored in a form auditor cannot replay ({str(node)[:80]})")
    return node


def _call_node(layer: Any, name: str, index: int, node: list, tensors: dict, where: str) -> None:
    refs = _node_refs(node)
    inputs = [tensors[tuple(ref[:3])] for ref in refs]
    stored = refs[0][3] if len(refs[0]) > 3 and refs[0][3] else {}
    kwargs = {key: value for key, value in stored.items() if value is not None}  # None: the default
    if any(isinstance(value, (list, dict)) for value in kwargs.values()):
        raise ModelError(f"layer {where}/{name} is called with tensor arguments {sorted(kwargs)}; not supported")
    outputs = layer(inputs[0] if len(inputs) == 1 else inputs, **kwargs)
    for position, tensor in enumerate(outputs if isinstance(outputs, (list, tuple)) else [outputs]):
        tensors[(name, index, position)] = tensor


def _endpoints(refs: list, tensors: dict) -> Any:
    refs = [refs] if refs and isinstance(refs[0], str) else refs
    found = [tensors[tuple(ref[:3])] for ref in refs]
    return found[0] if len(found) == 1 else found


def _weight_pairs(old: Any, new: keras.layers.Layer, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, Keras 2 layer, Keras 3 layer) for every layer that owns weights."""
    if isinstance(new, keras.Model):
        for layer in old.layers:
            if type(layer).__name__ != "InputLayer":
                yield from _weight_pairs(layer, new.get_layer(layer.name), f"{where}/{layer.name}")
    elif isinstance(new, keras.layers.TimeDistributed):
        yield from _weight_pairs(old.layer, new.layer, f"{where}/{old.layer.name}")
    elif isinstance(new, keras.layers.Bidirectional):
        yield f"{where}/forward", old.forward_layer, new.forward_layer
        yield f"{where}/backward", old.backward_layer, new.backward_layer
    else:
        yield where, old, new


def _copy_weights(old: Any, new: keras.layers.Layer, where: str) -> None:
    values = old.get_weights()
    expected = [tuple(w.shape) for w in new.get_weights()]
    if [tuple(v.shape) for v in values] != expected:
        raise ModelError(
            f"layer {where}: Keras 2 weights {[tuple(v.shape) for v in values]} do not fit the Keras 3 layer "
            f"{expected}; nothing was written"
        )
    new.set_weights(values)


def _base_sidecar(legacy: Path, class_names: Sequence[str] | None, preprocessing: Preprocessing | None) -> Sidecar:
    """The legacy model's sidecar (an architecture .json has none: it is its own stem's .json), updated."""
    base = Sidecar(name=legacy.stem) if legacy.suffix.lower() == ".json" else read_sidecar(legacy)
    update: dict[str, object] = {}
    if class_names:
        update["class_names"] = list(class_names)
    if preprocessing:
        update["preprocessing"] = preprocessing
    return Sidecar.model_validate({**base.model_dump(), **update})


def _compare(
    legacy_model: Any, saved: Path, sidecar: Sidecar, clip: Path | str | None, seed: int, clips: int
) -> tuple[float, dict[str, object]]:
    """Largest |output difference| of the legacy model and the saved file, and what was compared."""
    converted = keras.saving.load_model(saved, compile=False)
    detector = Detector(converted, saved, sidecar, _class_names(converted, sidecar))
    frames = _seeded_clips(detector.input_shape, seed, clips)
    checks: dict[str, object] = {
        "compared": "largest |difference| of any model output (class probability) over all clips",
        "random_clips": clips, "seed": seed,
    }
    if clip:
        frames.append(_user_frames(Path(clip), detector.frames_per_clip or FRAMES_WHEN_UNFIXED))
        checks.update(user_clip=Path(clip).name, user_clip_sha256=sha256_file(Path(clip)))
    difference = max(_output_difference(legacy_model, converted, detector.preprocess(f)) for f in frames)
    log.info("legacy vs converted: max |difference| %.3g over %d clips", difference, len(frames))
    return difference, checks


def _output_difference(legacy_model: Any, converted: keras.Model, x: np.ndarray) -> float:
    """Largest |difference| of the two models' outputs on one preprocessed clip (one at a time: memory)."""
    expected = np.asarray(legacy_model(tf.constant(x[np.newaxis]), training=False), dtype=np.float64)
    actual = np.asarray(converted(x[np.newaxis], training=False), dtype=np.float64)
    if expected.shape != actual.shape:
        raise ModelError(f"the converted model outputs {actual.shape}, the legacy model {expected.shape}")
    return float(np.max(np.abs(expected - actual)))


def _class_names(model: keras.Model, sidecar: Sidecar) -> list[str]:
    outputs = int(model.outputs[0].shape[-1])
    names = sidecar.class_names or [f"class_{i}" for i in range(outputs)]
    if len(names) != outputs:
        raise ModelError(f"the model has {outputs} outputs but {len(names)} class names were given; fix --classes")
    return list(names)


def _seeded_clips(input_shape: tuple, seed: int, count: int) -> list[np.ndarray]:
    frames, height, width, channels = input_shape
    rng = np.random.default_rng(seed)
    shape = (frames or FRAMES_WHEN_UNFIXED, height, width, channels)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(count)]


def _user_frames(path: Path, frames: int) -> np.ndarray:
    from auditor.video import read_video

    video = read_video(path, max_frames=frames)
    if len(video) < frames:
        raise VideoError(f"clip {path.name} has {len(video)} frames; the model needs {frames}")
    return video.frames


def _write(out: Path, data: bytes, sidecar: Sidecar, difference: float, tolerance: float) -> ImportResult:
    """Model, then sidecar; if the sidecar cannot be written the new model is removed again."""
    side = sidecar_path(out)
    atomic_write_bytes(out, data)
    try:
        atomic_write_text(side, json.dumps(sidecar.model_dump(mode="json"), indent=2) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ImportResult(out, side, sidecar, difference, tolerance)
