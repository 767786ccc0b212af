"""Reading Keras 2 models with `tf_keras` (the `legacy` extra): a full `.h5`, an architecture
`.json` with its weights, or a SavedModel folder, each with the hashes of what was read.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import h5py

from auditor._tensorflow import tf
from auditor.detector import h5_text
from auditor.errors import ModelError
from auditor.files import sha256_bytes, sha256_file
from auditor.legacy.convert import check_convertible


@dataclass(frozen=True)
class LegacyModel:
    """A Keras 2 model read with tf_keras, its architecture config and its file hashes."""

    model: Any  # a tf_keras.Model
    architecture: dict
    provenance: dict[str, object]


def tf_keras() -> ModuleType:
    """The tf_keras module, or a ModelError saying exactly what to install."""
    minor = ".".join(tf.__version__.split(".")[:2])
    try:
        return importlib.import_module("tf_keras")
    except ImportError as exc:
        raise ModelError(
            "reading Keras 2 models needs tf_keras, which is not installed; install it with "
            f"pip install 'auditor[legacy]' (or pip install 'tf_keras~={minor}.0' to match TensorFlow {minor})"
        ) from exc


def read_legacy(path: Path, weights: Path | None) -> LegacyModel:
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


def _read_h5(path: Path) -> LegacyModel:
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
    check_convertible(architecture)
    model = _load(lambda k2: k2.models.load_model(path, compile=False), path)
    return LegacyModel(model, architecture, _file_provenance("keras2-h5", path, version))


def _read_json_pair(path: Path, weights: Path | None) -> LegacyModel:
    if weights is None or not weights.is_file():
        raise ModelError(f"{path.name} is an architecture only; pass its weights .h5 file too (--weights)")
    text = path.read_text(encoding="utf-8")
    architecture = json.loads(text)
    check_convertible(architecture)

    def load(k2: ModuleType) -> Any:
        model = k2.models.model_from_json(text)
        model.load_weights(weights)
        return model

    provenance = _file_provenance("keras2-json+weights", path, str(architecture.get("keras_version", "unknown")))
    provenance.update(legacy_weights_file=weights.name, legacy_weights_sha256=sha256_file(weights))
    return LegacyModel(_load(load, path), architecture, provenance)


def _read_saved_model(path: Path) -> LegacyModel:
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
    check_convertible(architecture)
    manifest = "".join(
        f"{sha256_file(f)}  {f.relative_to(path).as_posix()}\n" for f in sorted(path.rglob("*")) if f.is_file()
    )
    return LegacyModel(model, architecture, {
        "legacy_format": "keras2-savedmodel", "legacy_file": path.name,
        "legacy_sha256": sha256_bytes(manifest.encode()),
        "legacy_sha256_of": "the sorted lines 'sha256  relative/path' of every file in the folder",
        "legacy_keras_version": "unknown",
    })


def _load(load: Any, path: Path) -> Any:
    k2 = tf_keras()
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
