"""Conversion rules from Keras 2 layer configs to Keras 3 (DESIGN §4): which layers convert,
which Keras 2 options can be dropped or renamed, and what cannot be expressed in Keras 3.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from auditor._tensorflow import keras
from auditor.errors import ModelError

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


def check_convertible(architecture: dict) -> None:
    """Raise ModelError naming every layer of a Keras 2 `{"class_name", "config"}` dict that cannot convert."""
    if not isinstance(architecture, dict) or architecture.get("class_name") not in MODEL_CLASSES:
        raise ModelError("the file does not describe a Keras 2 Functional or Sequential model")
    problems = [problem for entry, where in _leaves(architecture, "") for problem in _leaf_problems(entry, where)]
    if problems:
        raise ModelError(
            f"cannot convert {len(problems)} layer(s) to Keras 3: {'; '.join(problems)}; nothing was written. "
            "auditor import-model converts built-in Keras layers only (see auditor.legacy.SUPPORTED_LAYERS)"
        )


def clean_config(kind: str, config: dict) -> tuple[dict, list[tuple[str, object]]]:
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
    _, rejected = clean_config(kind, entry.get("config", {}))
    return [f"{where} ({kind}: Keras 2 option {key}={value!r} has no Keras 3 equivalent)" for key, value in rejected]


def _accepted_keys(cls: Any) -> set[str]:  # a Keras layer class
    parameters = inspect.signature(cls.__init__).parameters
    names = set(parameters) - {"self", "kwargs"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        names |= set(inspect.signature(keras.layers.Layer.__init__).parameters) - {"self", "kwargs"}
    return names
