"""Model files and sidecars: load a Keras 3 `.keras` or `.h5` detector, recognise a Keras 2 one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py

from auditor._tensorflow import keras
from auditor.detector.front import Detector
from auditor.errors import ModelError
from auditor.sidecar import Sidecar, read_sidecar

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_detector(path: Path | str, class_names: Sequence[str] | None = None, layer: str | None = None) -> Detector:
    """Load a Keras 3 `.keras` or legacy `.h5` video classifier with its sidecar (if any).

    Class names come from `class_names`, else from the sidecar, else `class_0 …`.
    `layer` overrides the sidecar's Grad-CAM target layer.
    """
    path = Path(path)
    sidecar = read_sidecar(path)
    if layer:
        sidecar = sidecar.model_copy(update={"target_layer": layer})
    model = _load_keras_model(path)
    names = _resolve_class_names(path, model, class_names, sidecar)
    detector = Detector(model, path, sidecar, names)
    detector._passes(detector.layer_name)
    return detector


def looks_like_keras2(path: Path | str) -> bool:
    """Cheap check: a Keras 2 `.h5` full model, architecture `.json` or SavedModel folder."""
    path = Path(path)
    try:
        if path.is_dir():
            return (path / "saved_model.pb").is_file()
        if path.suffix.lower() == ".json":
            return str(json.loads(path.read_text(encoding="utf-8")).get("keras_version", "")).startswith("2.")
        with h5py.File(path, "r") as handle:
            return "model_config" in handle.attrs and h5_text(handle.attrs.get("keras_version", "")).startswith("2.")
    except Exception:  # any unreadable file is simply "not Keras 2"
        return False


def h5_text(value: object) -> str:
    """An HDF5 string attribute as text (h5py returns bytes or str depending on how it was stored)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _load_keras_model(path: Path) -> keras.Model:
    if path.is_dir() and looks_like_keras2(path):
        raise ModelError(
            f"{path} is a Keras 2 SavedModel; convert it once with: auditor import-model {path} --out MODEL.keras"
        )
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; check the path")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"model file {path} is not a Keras model; expected one of {', '.join(MODEL_SUFFIXES)}")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for unreadable files
        if looks_like_keras2(path):
            raise ModelError(
                f"{path.name} is a Keras 2 model that Keras 3 cannot read; convert it once with: "
                f"auditor import-model {path} --out {path.with_suffix('.keras')}"
            ) from exc
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot read model file {path.name} ({reason}); is it a complete Keras 3 .keras or .h5 file?"
        ) from exc


def _resolve_class_names(
    path: Path, model: keras.Model, given: Sequence[str] | None, sidecar: Sidecar
) -> tuple[str, ...]:
    outputs = model.outputs[0].shape[-1] if model.outputs else None
    names = list(given or sidecar.class_names or [f"class_{i}" for i in range(outputs or 0)])
    if outputs is not None and len(names) != outputs:
        raise ModelError(
            f"{path.name} has {outputs} outputs but {len(names)} class names were given; "
            "fix class_names in the sidecar or the --classes option"
        )
    return tuple(names)
