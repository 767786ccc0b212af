"""Rebuilding a Keras 2 model in Keras 3 layer by layer from its configs (nested models,
`TimeDistributed`, `Bidirectional`, functional graphs replayed node by node), then copying the
weights layer by layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor._tensorflow import keras
from auditor.errors import ModelError
from auditor.legacy.convert import MODEL_CLASSES, check_convertible, clean_config


def convert_model(architecture: dict, legacy_model: Any) -> keras.Model:
    """The Keras 3 model rebuilt from a Keras 2 `{"class_name", "config"}` dict, with its weights."""
    check_convertible(architecture)
    model = _build(architecture, architecture["config"].get("name", "model"))
    for where, old, new in _weight_pairs(legacy_model, model, model.name):
        _copy_weights(old, new, where)
    return model


def _copy_weights(old: Any, new: keras.layers.Layer, where: str) -> None:
    """Copy one Keras 2 layer's weights into its Keras 3 twin (else ModelError: shapes differ)."""
    values = old.get_weights()
    expected = [tuple(w.shape) for w in new.get_weights()]
    if [tuple(v.shape) for v in values] != expected:
        raise ModelError(
            f"layer {where}: Keras 2 weights {[tuple(v.shape) for v in values]} do not fit the Keras 3 layer "
            f"{expected}; nothing was written"
        )
    new.set_weights(values)


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
    clean, _ = clean_config(kind, config)
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
    shape: Any = config.get("batch_input_shape") or config.get("batch_shape")  # tf_keras read it: present
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
